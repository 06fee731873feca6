"""W4: the REST API under load. gunicorn (the production server, sync workers) on loopback against the
benchmark's database; a fixed number of requests from 16, then 64 concurrent clients (threads, one
connection per request, as gunicorn's sync workers close it): time-entry bulk create (a consultant's
week per request, five entries), invoice detail, time-entry list pages (following the cursor), and
`users/me/` (a trivial authenticated JSON view) as the baseline, interleaved in the same run.
"""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from urllib.parse import urlsplit

from bench.firm import YEAR, bench_entity
from bench.harness import ROOT, p95

# Rounds (one request of each kind) per client, by the phases' client counts; fewer in the smoke run.
ROUNDS = {16: 12, 64: 4}
SMOKE_ROUNDS = {16: 2, 64: 1}
PAGE_SIZE = 50
WORKERS = 2 * (os.cpu_count() or 1) + 1
FIRST_MONDAY = date(YEAR, 1, 5)


def prepare_api(*, clients: int = sum(ROUNDS)) -> dict:
    """API keys (untimed): one consultant per client (own person record, booking on one project open to
    anyone), and a finance key for the reads; released invoice ids to read."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from bench.workloads.billing import _finance
    from billing.models import Invoice
    from core.roles import Role
    from core.services.api_keys import create_api_key
    from projects.models import Person, Project, Task

    entity = bench_entity()
    finance = _finance()
    project = Project.objects.filter(legal_entity=entity, status="active").order_by("pk").first()
    # Open to anyone so the load's consultants need no assignments (a project setting, not a shortcut).
    Project.objects.filter(pk=project.pk).update(allow_any_person=True, start=date(YEAR, 1, 1))
    task = Task.objects.filter(project=project, billable=True).order_by("pk").first()
    group = Group.objects.get_or_create(name=Role.CONSULTANT)[0]
    role_id = Person.objects.filter(legal_entity=entity).values_list("role_id", flat=True).first()
    consultants = []
    for index in range(clients):
        user = get_user_model().objects.create(username=f"bench-api-{index:03d}")
        user.groups.add(group)
        person = Person.objects.create(
            user=user, name=f"API consultant {index:03d}", role_id=role_id, legal_entity=entity
        )
        key = create_api_key(actor=user, user=user, name="bench", scopes=["projects:read", "projects:write"])
        consultants.append({"key": key.key, "person": person.pk})
    reader = create_api_key(
        actor=finance, user=finance, name="bench reads", scopes=["billing:read", "projects:read", "core:read"]
    )
    invoices = list(Invoice.objects.exclude(number="").order_by("pk").values_list("pk", flat=True)[:2000])
    return {
        "consultants": consultants,
        "reader": reader.key,
        "project": project.pk,
        "task": task.pk,
        "invoices": invoices,
    }


def _request(port: int, method: str, path: str, key: str, body=None) -> tuple[float, int, dict | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        seconds = time.perf_counter() - start
        parsed = json.loads(data) if data and response.status < 500 else None
        return seconds, response.status, parsed
    except OSError:
        return time.perf_counter() - start, 0, None
    finally:
        connection.close()


def _client(port: int, setup: dict, index: int, weeks: range, rng: random.Random, out: dict) -> None:
    """One client: per round a week of time, an invoice, a list page (the next by cursor), `users/me/`."""
    consultant = setup["consultants"][index]
    reader = setup["reader"]
    cursor_path = f"/api/v1/time-entries/?page_size={PAGE_SIZE}"
    for week in weeks:
        monday = FIRST_MONDAY + timedelta(weeks=week)
        entries = [
            {"project": setup["project"], "task": setup["task"], "hours": "8", "notes": "load",
             "date": (monday + timedelta(days=day)).isoformat()}
            for day in range(5)
        ]  # fmt: skip
        calls = [
            ("create", "POST", "/api/v1/time-entries/bulk/", consultant["key"], {"entries": entries}, 201),
            ("detail", "GET", f"/api/v1/invoices/{rng.choice(setup['invoices'])}/", reader, None, 200),
            ("list", "GET", cursor_path, reader, None, 200),
            ("trivial", "GET", "/api/v1/users/me/", reader, None, 200),
        ]
        rng.shuffle(calls)
        for kind, method, path, key, body, expected in calls:
            seconds, status, parsed = _request(port, method, path, key, body)
            out[kind].append(seconds)
            if status != expected:
                out["errors"].append(f"{kind} {status}")
            elif kind == "list":
                following = urlsplit(parsed.get("next") or "")
                if following.path:
                    cursor_path = f"{following.path}?{following.query}"


def _phase(port: int, setup: dict, clients: int, rounds: int, offset: int) -> dict:
    results = [{"create": [], "detail": [], "list": [], "trivial": [], "errors": []} for _ in range(clients)]
    threads = [
        threading.Thread(
            target=_client,
            args=(
                port,
                setup,
                offset + index,
                range(rounds),
                random.Random(index),
                results[index],
            ),
        )
        for index in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    merged = {kind: [s for r in results for s in r[kind]] for kind in ("create", "detail", "list", "trivial")}
    errors = [e for r in results for e in r["errors"]]
    figures = {}
    for kind, samples in merged.items():
        ordered = sorted(samples)
        figures[kind] = {
            "requests": len(samples),
            "p50": ordered[len(ordered) // 2],
            "p95": p95(samples),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        }
    return {
        "clients": clients,
        "wall_seconds": wall,
        "requests_per_second": sum(len(s) for s in merged.values()) / wall,
        "errors": len(errors),
        "error_examples": errors[:5],
        **figures,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api_load(*, database_url: str, setup: dict, rounds: dict = ROUNDS) -> dict:
    """Start gunicorn on the benchmark's database, run the phases, stop it. Runs in the parent: the
    server's processes do the work (their RSS is not this process's)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGERLINE_ENV": os.environ.get("LEDGERLINE_ENV", "local"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The load is one client per key at full speed; throttling would measure the limit, not the API.
        "API_THROTTLE_USER": "1000000/min",
        "EMAIL_URL": "memorymail://",
    }
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _request(port, "GET", "/api/v1/users/me/", setup["reader"])[1] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
        # Warm every worker's imports and connections before measuring.
        for _ in range(WORKERS * 4):
            _request(port, "GET", f"/api/v1/invoices/{setup['invoices'][0]}/", setup["reader"])
            _request(port, "GET", f"/api/v1/time-entries/?page_size={PAGE_SIZE}", setup["reader"])
        phases, offset = [], 0
        for clients, count in rounds.items():
            phases.append(_phase(port, setup, clients, count, offset))
            offset += clients
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return {"workers": WORKERS, "phases": phases}
