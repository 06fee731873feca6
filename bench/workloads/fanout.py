"""W5: W1's billing run fanned out over a real Celery worker pool (Redis): `fan_out_billing_run` sends a
task per chunk of contracts and a chord callback that finishes the run, worked by a worker started here
(`-c 2`) on a copy of the firm taken before W1 billed it. Timed from the dispatch to the run's completion;
the answer must be exactly W1's (same invoices, lines, totals and links).
"""

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.harness import ROOT, Timer
from bench.workloads.billing import PERIOD_END, _finance, queued_tasks

WORKER_CONCURRENCY = 2
# A Redis database of its own: no other worker on the machine takes the run's tasks (they go to the
# default queue, and a chord's callback is sent from inside the worker).
BENCH_REDIS_DB = 11

# What a run produced, in an order that does not depend on ids (the two runs draw ids differently).
DIGESTS = {
    "invoices": """
        SELECT contract_id, currency, subtotal_amount, tax_amount, total_amount FROM billing_invoice
         WHERE run_id = %(run)s ORDER BY 1, 2, 3, 4, 5""",
    "lines": """
        SELECT i.contract_id, il.source_type, il.description, il.quantity, il.unit_price, il.amount,
               il.tax_code, il.plan_id, il.project_id, il.role_id
          FROM billing_invoiceline il JOIN billing_invoice i ON i.id = il.invoice_id
         WHERE i.run_id = %(run)s ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10""",
    "links": """
        SELECT l.time_entry_id, l.plan_id, i.contract_id, il.description, il.unit_price, l.amount,
               l.drawn_hours, l.billed_hours
          FROM billing_timeentrybilling l JOIN billing_invoiceline il ON il.id = l.invoice_line_id
          JOIN billing_invoice i ON i.id = il.invoice_id
         WHERE l.run_id = %(run)s ORDER BY 1""",
    "expense_links": """
        SELECT l.expense_id, i.contract_id, il.description, l.amount
          FROM billing_expensebilling l JOIN billing_invoiceline il ON il.id = l.invoice_line_id
          JOIN billing_invoice i ON i.id = il.invoice_id WHERE i.run_id = %(run)s ORDER BY 1""",
    "held_over_cap": """
        SELECT time_entry_id, plan_id FROM billing_overcapentry WHERE run_id = %(run)s ORDER BY 1""",
}


def bench_redis_url() -> str:
    source = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(source)._replace(path=f"/{BENCH_REDIS_DB}"))


def run_digest(*, run_id: int) -> dict:
    """A digest per kind of row the run wrote, and the run's counters and totals."""
    from django.db import connection

    from billing.models import BillingRun

    run = BillingRun.objects.get(pk=run_id)
    digests = {}
    with connection.cursor() as cursor:
        for name, sql in DIGESTS.items():
            cursor.execute(sql, {"run": run.pk})
            digest = hashlib.sha256()
            rows = 0
            for row in cursor.fetchall():
                digest.update(repr(tuple(str(value) for value in row)).encode())
                rows += 1
            digests[name] = f"{rows}:{digest.hexdigest()[:16]}"
    return {
        "digests": digests,
        "entries_billed": run.entries_billed,
        "invoices_created": run.invoices_created,
        "totals": run.totals,
    }


WORKER_LOG = Path(tempfile.gettempdir()) / f"ledgerline-bench-worker-{os.getpid()}.log"


def start_worker(database_url: str) -> subprocess.Popen:
    """A Celery worker on the copy of the firm; its output goes to WORKER_LOG (quoted when it fails)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": bench_redis_url(),
        "LEDGERLINE_ENV": os.environ.get("LEDGERLINE_ENV", "local"),
        "EMAIL_URL": "memorymail://",
    }
    log = WORKER_LOG.open("wb")
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", str(WORKER_CONCURRENCY),
         "--pool", "prefork", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def fanned_out_run(*, worker_log: str, timeout: float = 7200) -> dict:
    """Start a run as W1 does, wait for the worker pool to answer, then dispatch `fan_out_billing_run`
    and time it to the run's completion (runs in a process whose REDIS_URL is the bench's)."""
    from bench.firm import bench_entity
    from billing.choices import RunStatus
    from billing.models import BillingRun
    from billing.services.runs import start_billing_run
    from billing.tasks import fan_out_billing_run
    from config.celery import app

    with queued_tasks():
        run = start_billing_run(actor=_finance(), legal_entity=bench_entity(), period_end=PERIOD_END)
    deadline = time.monotonic() + 300
    while not app.control.ping(timeout=2):
        if time.monotonic() > deadline:
            tail = Path(worker_log).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"The Celery worker did not answer within five minutes; its log ends:\n{tail}")
    with Timer() as timer:
        fan_out_billing_run.apply_async(args=(run.pk,))
        deadline = time.monotonic() + timeout
        while True:
            status = BillingRun.objects.filter(pk=run.pk).values_list("status", flat=True).get()
            if status in (RunStatus.COMPLETED, RunStatus.FAILED) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    run.refresh_from_db()
    if run.status != RunStatus.COMPLETED:
        raise RuntimeError(f"The fanned-out run #{run.pk} ended {run.status}: {run.error}")
    return {"seconds": timer.seconds, "run_id": run.pk, "chunks": -(-run.total_contracts // _chunk_size())}


def _chunk_size() -> int:
    from billing.services.runs import CHUNK_CONTRACTS

    return CHUNK_CONTRACTS
