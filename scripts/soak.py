"""Soak: minutes of mixed traffic against gunicorn + a Celery worker on loopback, then the invariants.

    .venv/bin/python scripts/soak.py --minutes 30 [--users 8] [--out results.json]

Needs DATABASE_URL (a PostgreSQL server; the soak (re)creates its own database `ledgerline_soak`, migrated
and loaded with the demo firm) and REDIS_URL (the soak uses database 6 of that server; SOAK_DATABASE and
SOAK_REDIS_DB choose others). Traffic is bounded: each virtual user waits between requests. Consultants
record time and submit timesheets, the project manager approves, finance starts billing, revenue and
dunning runs and reads the trial balance, integrators poll the event feed and invoices, the executive
reads KPIs. Reported: requests, errors (5xx and connection failures; the target is 0), refusals (4xx: the
business saying no) per endpoint and code, p50/p95 latency per endpoint, memory of the web and worker
processes after warm-up and at the end (the target is growth ≤ 10 %), and `check_invariants` on the
soaked database.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
# Where the soak runs; two soaks on one server need their own (SOAK_DATABASE, SOAK_REDIS_DB).
DATABASE = os.environ.get("SOAK_DATABASE", "ledgerline_soak")
REDIS_DB = int(os.environ.get("SOAK_REDIS_DB", "6"))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.refused = defaultdict(int)
        self.errors = defaultdict(int)
        self.examples = {}

    def record(self, method: str, path: str, status: int | None, seconds: float, body: str = "") -> None:
        endpoint = f"{method} " + re.sub(r"/\d+/", "/{id}/", path.split("?")[0])
        with self.lock:
            self.latency[endpoint].append(seconds)
            if status is None or status >= 500:
                self.errors[f"{endpoint} {status}"] += 1
                self.examples.setdefault(f"{endpoint} {status}", body[:500])
            elif status >= 400:
                self.refused[f"{endpoint} {status}"] += 1
                self.examples.setdefault(f"{endpoint} {status}", body[:300])


class Api:
    def __init__(self, base: str, key: str, stats: Stats):
        self.base, self.stats = base, stats
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {key}"

    def call(self, method: str, path: str, body=None):
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, json=body, timeout=60)
        except requests.RequestException as exc:
            self.stats.record(method, path, None, time.perf_counter() - started, repr(exc))
            return None
        self.stats.record(method, path, response.status_code, time.perf_counter() - started, response.text)
        return response


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_kb(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def setup(env: dict, *, reuse: bool) -> dict:
    """Create the soak database with the demo firm (unless reusing one); API keys and work targets for
    the virtual users."""
    server = env["DATABASE_URL"].rsplit("/", 1)[0]
    if not reuse:
        subprocess.run(
            ["psql", f"{server}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'],
            check=True,
        )
        subprocess.run(["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{DATABASE}"'], check=True)
    manage(env, "migrate", "--noinput", "-v0")
    if not reuse:
        manage(env, "load_demo")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from core.models import User
    from core.models.api_keys import ALL_SCOPES
    from core.services.api_keys import create_api_key
    from ledger.models import LegalEntity
    from projects.models import Assignment

    keys = {}
    for username in ("consultant", "pm", "finance", "integrator", "executive"):
        user = User.objects.get(username=username)
        keys[username] = create_api_key(
            actor=user, user=user, name=f"soak {uuid.uuid4().hex[:8]}", scopes=list(ALL_SCOPES)
        ).key
    consultant = User.objects.get(username="consultant")
    cells = []
    for assignment in Assignment.objects.filter(person__user=consultant).select_related("project"):
        for task in assignment.project.tasks.filter(children__isnull=True, billable=True)[:3]:
            cells.append((assignment.project_id, task.pk))
    return {"keys": keys, "cells": cells, "entities": list(LegalEntity.objects.values_list("pk", flat=True))}


def consultant(api: Api, cells: list, stop: threading.Event, rng: random.Random) -> None:
    """Save time in this week and the next (earlier weeks are submitted or locked): a new entry, or a
    change to the one already in that cell."""
    monday = date.today() - timedelta(days=date.today().weekday())
    while not stop.wait(rng.uniform(0.5, 1.5)):
        project, task = rng.choice(cells)
        day = (monday + timedelta(days=rng.randrange(0, 12))).isoformat()
        hours = rng.choice(["0.5", "1", "1.5"])
        body = {"project": project, "task": task, "date": day, "hours": hours}
        created = api.call("POST", "/api/v1/time-entries/", body)
        if created is not None and created.status_code == 400 and "already has" in created.text:
            found = api.call("GET", f"/api/v1/time-entries/?task={task}&date_after={day}&date_before={day}")
            if found is not None and found.ok and found.json()["results"]:
                entry = found.json()["results"][0]
                api.call("PATCH", f"/api/v1/time-entries/{entry['id']}/", {"hours": hours})
        if rng.random() < 0.05:
            sheets = api.call("GET", "/api/v1/timesheets/?status=draft&page_size=5")
            if sheets is not None and sheets.ok and sheets.json()["results"]:
                api.call("POST", f"/api/v1/timesheets/{sheets.json()['results'][0]['id']}/submit/", {})


def manager(api: Api, stop: threading.Event, rng: random.Random) -> None:
    while not stop.wait(rng.uniform(2, 4)):
        sheets = api.call("GET", "/api/v1/timesheets/?status=submitted&page_size=5")
        if sheets is not None and sheets.ok and sheets.json()["results"]:
            api.call("POST", f"/api/v1/timesheets/{sheets.json()['results'][0]['id']}/approve/", {})


def finance(api: Api, entities: list, stop: threading.Event, rng: random.Random) -> None:
    last_month_end = date.today().replace(day=1) - timedelta(days=1)
    while not stop.wait(rng.uniform(20, 40)):
        entity = rng.choice(entities)
        api.call(
            "POST",
            "/api/v1/billing-runs/",
            {"legal_entity": entity, "period_end": last_month_end.isoformat()},
        )
        api.call(
            "POST",
            "/api/v1/revenue-runs/",
            {"legal_entity": entity, "period_end": last_month_end.isoformat()},
        )
        # Today's dunning run (a second one while the first is still active is refused: 409).
        api.call("POST", "/api/v1/dunning-runs/", {"legal_entity": entity})
        api.call(
            "GET", f"/api/v1/reports/trial-balance/?legal_entity={entity}&as_of={date.today().isoformat()}"
        )
        api.call("GET", "/api/v1/billing-runs/?page_size=10")
        api.call("GET", "/api/v1/dunning-runs/?page_size=10")


def integrator(api: Api, stop: threading.Event, rng: random.Random) -> None:
    after = 0
    while not stop.wait(rng.uniform(1, 2)):
        events = api.call("GET", f"/api/v1/events/?after={after}&page_size=100")
        if events is not None and events.ok and events.json()["results"]:
            after = max(event["id"] for event in events.json()["results"])
        api.call("GET", "/api/v1/invoices/?page_size=50")


def executive(api: Api, stop: threading.Event, rng: random.Random) -> None:
    while not stop.wait(rng.uniform(3, 6)):
        api.call("GET", f"/api/v1/kpis/?from={date.today().year}-01-01&to={date.today().isoformat()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=8, help="virtual users (at least 5: one per role)")
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: a sixth of the run")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument(
        "--reuse-database", action="store_true", help=f"soak the existing {DATABASE} (skip the demo load)"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print(
            "Set DATABASE_URL=postgres://user@host:5432/db (the soak creates its own database)",
            file=sys.stderr,
        )
        return 2
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    env = {
        **os.environ,
        "LEDGERLINE_ENV": "local",
        "DEBUG": "0",
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + DATABASE,
        "REDIS_URL": redis,
        "API_THROTTLE_USER": "100000/min",
        "LOG_LEVEL": "WARNING",
    }
    print(f"soak: preparing {DATABASE}…", flush=True)
    targets = setup(env, reuse=args.reuse_database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tempfile.mkdtemp(prefix="ledgerline-soak-")
    web_log = open(f"{logs}/web.log", "wb")  # noqa: SIM115 - open for the server's lifetime
    worker_log = open(f"{logs}/worker.log", "wb")  # noqa: SIM115 - open for the worker's lifetime
    web = subprocess.Popen(
        [str(VENV / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "4",
         "--keep-alive", "30"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=web_log, start_new_session=True,
    )  # fmt: skip
    subprocess.run(
        [str(VENV / "celery"), "-A", "config", "purge", "-f"], cwd=ROOT, env=env, capture_output=True
    )
    worker = subprocess.Popen(
        [str(VENV / "celery"), "-A", "config", "worker", "--concurrency=2", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=worker_log, start_new_session=True,
    )  # fmt: skip
    print(f"soak: logs in {logs}/web.log and {logs}/worker.log", flush=True)
    try:
        for _ in range(120):
            try:
                if requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        stats, stop, rng = Stats(), threading.Event(), random.Random(1)
        keys = targets["keys"]
        plan = [
            (manager, (Api(base, keys["pm"], stats),)),
            (finance, (Api(base, keys["finance"], stats), targets["entities"])),
            (executive, (Api(base, keys["executive"], stats),)),
            (integrator, (Api(base, keys["integrator"], stats),)),
        ]
        for index in range(max(1, args.users - len(plan))):
            role = consultant if index % 3 != 2 or not targets["cells"] else integrator
            if role is consultant and targets["cells"]:
                plan.append((consultant, (Api(base, keys["consultant"], stats), targets["cells"])))
            else:
                plan.append((integrator, (Api(base, keys["integrator"], stats),)))
        threads = [
            threading.Thread(target=fn, args=(*fn_args, stop, random.Random(rng.random())), daemon=True)
            for fn, fn_args in plan
        ]
        for thread in threads:
            thread.start()
        duration = args.minutes * 60
        warmup = (args.warmup_minutes * 60) if args.warmup_minutes is not None else duration / 6
        started, memory = time.monotonic(), []
        while time.monotonic() - started < duration:
            time.sleep(min(15, max(1, duration / 20)))
            memory.append(
                {
                    "t": round(time.monotonic() - started),
                    "web_kb": rss_kb(web.pid),
                    "worker_kb": rss_kb(worker.pid),
                }
            )
            print(f"soak: {memory[-1]} requests={sum(map(len, stats.latency.values()))}", flush=True)
        stop.set()
        for thread in threads:
            thread.join(70)
        time.sleep(10)  # let queued runs finish before the books are checked
        invariants = json.loads(manage(env, "check_invariants", "--json", check=False).stdout or "{}")
    finally:
        for process in (web, worker):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:  # a graceful stop waiting on kept-alive connections
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    after_warmup = [m for m in memory if m["t"] >= warmup] or memory
    growth = {
        name: round(100 * (after_warmup[-1][name] - after_warmup[0][name]) / max(after_warmup[0][name], 1), 1)
        for name in ("web_kb", "worker_kb")
    }
    endpoints = {
        endpoint: {
            "requests": len(samples),
            "p50_ms": round(statistics.median(samples) * 1000, 1),
            "p95_ms": round(sorted(samples)[max(0, int(len(samples) * 0.95) - 1)] * 1000, 1),
        }
        for endpoint, samples in sorted(stats.latency.items())
    }
    total = sum(item["requests"] for item in endpoints.values())
    result = {
        "minutes": args.minutes,
        "users": len(threads),
        "requests": total,
        "errors": sum(stats.errors.values()),
        "error_rate": round(sum(stats.errors.values()) / max(total, 1), 6),
        "errors_by_endpoint": dict(stats.errors),
        "examples": stats.examples,
        "refused_by_endpoint": dict(sorted(stats.refused.items())),
        "endpoints": endpoints,
        "memory": {"samples": memory, "growth_after_warmup_percent": growth},
        "invariants": invariants,
    }
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    ok = result["errors"] == 0 and invariants.get("ok") and all(value <= 10 for value in growth.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
