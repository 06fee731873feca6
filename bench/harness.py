"""Running workloads in their own database and process, timing them beside a baseline, reporting ratios."""

import hashlib
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_DATABASE = "ledgerline_bench"


@dataclass
class Measurement:
    """One workload's figures from one run: its time beside its baseline's, and the ratio asked for."""

    workload: str
    scale: int
    seconds: float
    baseline: str
    baseline_seconds: float
    # How the ratio reads: "baseline/workload" (higher is better) or "workload/baseline" (lower is better).
    ratio_kind: str
    ratio: float
    target: str
    # None: a reference figure, with no target of its own.
    met: bool | None
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)


def bench_database_url(source_url: str, name: str = BENCH_DATABASE) -> str:
    parts = urlsplit(source_url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/db")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _schema_key() -> str:
    """A digest of everything `migrate` builds the schema from: our migrations and the versions of the
    third-party apps that bring their own."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    for package in ("django", "django-celery-beat", "django-axes", "django-money"):
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()[:12]


def recreate_database(source_url: str, name: str = BENCH_DATABASE) -> str:
    """Drop and create the benchmark's own database, migrated; dev and test data are never touched.

    The migrated empty schema is kept as a template database named after a digest of the migrations
    (`ledgerline_bench_template_<digest>`), so a run copies it in a second instead of migrating for a
    minute; a change to any migration makes a new template and drops the old ones.
    """
    import psycopg

    if not name.startswith(BENCH_DATABASE):
        raise SystemExit(f"The benchmark only drops databases named {BENCH_DATABASE}*, not {name!r}.")
    url = bench_database_url(source_url, name)
    admin = urlunsplit(urlsplit(source_url)._replace(path="/postgres"))
    prefix = f"{BENCH_DATABASE}_template_"
    template = prefix + _schema_key()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        if found is None:
            building = f"{BENCH_DATABASE}_building_{os.getpid()}"
            connection.execute(f'DROP DATABASE IF EXISTS "{building}"')
            connection.execute(f'CREATE DATABASE "{building}"')
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": bench_database_url(source_url, building),
                    "LEDGERLINE_ENV": "local",
                },
                check=True,
            )
            stale = connection.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s",
                [prefix, template],
            ).fetchall()
            for (old,) in stale:
                connection.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            try:
                connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
            except psycopg.errors.DuplicateDatabase:
                # A concurrent run published the same schema first.
                connection.execute(f'DROP DATABASE "{building}"')
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return url


def clone_database(source_url: str, name: str, clone: str) -> str:
    """A copy of the benchmark database `name` as `clone` (dropped first), to run a workload twice on the
    same data; nobody may be connected to `name` meanwhile."""
    import psycopg

    if not clone.startswith(BENCH_DATABASE):
        raise SystemExit(f"The benchmark only drops databases named {BENCH_DATABASE}*, not {clone!r}.")
    admin = urlunsplit(urlsplit(source_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{name}"')
    return bench_database_url(source_url, clone)


def drop_database(source_url: str, name: str) -> None:
    import psycopg

    if not name.startswith(BENCH_DATABASE):
        raise SystemExit(f"The benchmark only drops databases named {BENCH_DATABASE}*, not {name!r}.")
    admin = urlunsplit(urlsplit(source_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _child(target: Callable, kwargs: dict, database_url: str, env: dict, queue) -> None:
    os.environ.update(env)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LEDGERLINE_ENV", "local")
    # Notice e-mails a workload sends stay in memory instead of filling the console.
    os.environ.setdefault("EMAIL_URL", "memorymail://")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    try:
        result = target(**kwargs)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(("ok", result))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        import traceback

        queue.put(("error", "".join(traceback.format_exception(exc))))


def run_isolated(target: Callable, *, database_url: str, env: dict | None = None, **kwargs) -> dict:
    """Run `target(**kwargs)` in a fresh process (so its peak RSS is its own), with `env` added to its
    environment, and return its dict."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, kwargs, database_url, env or {}, queue))
    process.start()
    while True:
        try:
            status, payload = queue.get(timeout=1)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} died with exit code {process.exitcode}") from None
    process.join()
    if status != "ok":
        raise RuntimeError(f"{target.__module__}.{target.__name__} failed:\n{payload}")
    return payload


def p95(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


class Timer:
    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start


def machine() -> dict:
    memory_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory_kb = int(
            next(line for line in meminfo.read_text().splitlines() if line.startswith("MemTotal")).split()[1]
        )
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def postgres_version(database_url: str) -> str:
    import psycopg

    with psycopg.connect(database_url) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


def write_results(measurements: list[Measurement], meta: dict, *, smoke: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / (f"smoke-{stamp}.json" if smoke else f"{stamp}.json")
    path.write_text(json.dumps({**meta, "results": [asdict(m) for m in measurements]}, indent=2) + "\n")
    return path


def format_table(measurements: list[Measurement]) -> str:
    header = ("workload", "scale", "seconds", "baseline", "base s", "ratio", "target", "met", "RSS MB")
    rows = [
        (
            m.workload,
            f"{m.scale:,}",
            f"{m.seconds:.3f}",
            m.baseline,
            f"{m.baseline_seconds:.3f}",
            f"{m.ratio:.3f} ({m.ratio_kind})",
            m.target,
            "-" if m.met is None else "yes" if m.met else "NO",
            f"{m.peak_rss_mb:.0f}",
        )
        for m in measurements
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
