"""W6 (revenue): one revenue run at the year's last month end over every performance obligation of the
firm, through the production services (`start_revenue_run`, then `execute_revenue_run` with its default
chunk size). The obligations are made first, untimed, by revrec's own `sync_obligations` per contract
(what signing a contract does in production). The baseline is a psycopg COPY of exactly the rows the
run wrote (schedule lines, journal entries and lines, run-contract rows) into scratch copies of their
tables with the same indexes. `check_revenue` proves the answer before any figure is accepted.
"""

from datetime import date
from decimal import Decimal

from bench.firm import YEAR, bench_entity
from bench.harness import Timer
from bench.workloads.billing import _copy_out, _finance, _timed_copy_in, queued_tasks, run_queued

PERIOD_END = date(YEAR, 12, 31)
# The tables a revenue run appends to, and how to find the rows one run wrote in each.
WRITTEN = (
    ("revrec_revenuescheduleline", "run_id = %(run)s"),
    ("ledger_journalentry", "id > %(entry)s"),
    ("ledger_journalline", "entry_id > %(entry)s"),
    ("revrec_revenueruncontract", "run_id = %(run)s"),
)


def prepare_obligations() -> dict:
    """Each contract's obligations and their planned schedules, as signing it makes them (untimed)."""
    from crm.models import Contract
    from revrec.models import PerformanceObligation
    from revrec.services.obligations import sync_obligations

    with Timer() as timer:
        for contract in Contract.objects.filter(legal_entity=bench_entity()).order_by("pk"):
            sync_obligations(contract=contract)
    return {"seconds": timer.seconds, "obligations": PerformanceObligation.objects.count()}


def revenue_run(*, period_end: date = PERIOD_END) -> dict:
    """Start a revenue run for the legal entity and execute it here, timed (its task recorded, as W1)."""
    from django.db.models import Max

    from ledger.models import JournalEntry
    from revrec.choices import RunStatus
    from revrec.services.runs import execute_revenue_run, start_revenue_run
    from revrec.tasks import run_revenue

    finance = _finance()
    last_entry = JournalEntry.objects.aggregate(last=Max("id"))["last"] or 0
    with queued_tasks() as queued:
        run = start_revenue_run(actor=finance, legal_entity=bench_entity(), period_end=period_end)
    if [(task.name, args) for task, args, _ in queued] != [(run_revenue.name, (run.pk,))]:
        raise RuntimeError(f"start_revenue_run queued {queued}, expected run_revenue({run.pk})")
    with queued_tasks() as queued, Timer() as timer:
        run = execute_revenue_run(run_id=run.pk)
    workers = run_queued(queued)
    if run.status != RunStatus.COMPLETED:
        raise RuntimeError(f"Revenue run #{run.pk} ended {run.status}: {run.error}")
    return {
        "seconds": timer.seconds,
        "run_id": run.pk,
        "last_entry_before": last_entry,
        "contracts": run.done_contracts,
        "recognized": str(run.recognized_amount),
        "reclassified": str(run.reclassified_amount),
        "totals": run.totals,
        "warnings": len(run.warnings),
        "queued_tasks": workers,
    }


def copy_baseline(*, run_id: int, last_entry_before: int) -> dict:
    """COPY the rows the run wrote into `LIKE … INCLUDING ALL` scratch tables; only the COPY is timed."""
    return copy_rows_written(WRITTEN, {"run": int(run_id), "entry": int(last_entry_before)})


def copy_rows_written(written, params: dict) -> dict:
    """For each (table, condition) in `written`: COPY the rows matching the condition (integer `params`
    filled in) out, and back into a `LIKE … INCLUDING ALL` scratch copy of the table; only the COPY in
    is timed."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    timer, rows = Timer(), {}
    for table, where in written:
        scratch = f"bench_copy_{table}"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            cursor.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
                     FROM information_schema.columns WHERE table_name = %s""",
                [table],
            )
            columns = cursor.fetchone()[0]
        data = _copy_out(raw, f"SELECT {columns} FROM {table} WHERE {where % params} ORDER BY 1")  # noqa: S608
        rows[table] = _timed_copy_in(raw, scratch, columns, data, timer) if data else 0
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {scratch}")
    return {"seconds": timer.seconds, "rows": rows, "total_rows": sum(rows.values())}


def check_revenue(*, run_id: int) -> dict:
    """Revenue in the schedules equals revenue in the ledger and the run's totals, per currency; every
    line the run recognised names its journal entry; the ledger stays balanced."""
    from django.db import connection

    from bench.workloads.posting import check_ledger
    from core.money import quantize
    from revrec.models import RevenueRun

    run = RevenueRun.objects.get(pk=run_id)
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT o.currency, sum(l.amount) FROM revrec_revenuescheduleline l
                 JOIN revrec_performanceobligation o ON o.id = l.obligation_id
                WHERE l.run_id = %s AND l.status = 'recognized' GROUP BY 1""",
            [run.pk],
        )
        scheduled = dict(cursor.fetchall())
        cursor.execute(
            """SELECT l.currency, sum(l.credit - l.debit) FROM ledger_journalline l
                 JOIN ledger_journalentry e ON e.id = l.entry_id
                 JOIN ledger_glaccount a ON a.id = l.account_id
                WHERE e.source_type = 'revrec.run' AND e.source_id = %s AND a.role LIKE 'revenue%%'
                GROUP BY 1""",
            [str(run.pk)],
        )
        posted = dict(cursor.fetchall())
        cursor.execute(
            """SELECT count(*) FROM revrec_revenuescheduleline l
                WHERE l.run_id = %s AND (l.status <> 'recognized' OR l.journal_entry_id IS NULL)""",
            [run.pk],
        )
        unposted_lines = cursor.fetchone()[0]
    ledger = check_ledger()
    totals_agree = {currency: str(amount) for currency, amount in scheduled.items()} == {
        currency: str(amount) for currency, amount in posted.items()
    }
    run_totals_agree = {c: quantize(a, c) for c, a in scheduled.items() if a} == {
        c: Decimal(a) for c, a in run.totals.items() if Decimal(a)
    }
    ok = bool(scheduled) and totals_agree and run_totals_agree and unposted_lines == 0 and ledger["ok"]
    return {
        "ok": ok,
        "recognized_by_currency": {c: str(a) for c, a in scheduled.items()},
        "revenue_posted_by_currency": {c: str(a) for c, a in posted.items()},
        "run_totals": run.totals,
        "lines_not_posted": unposted_lines,
        "ledger": ledger,
    }
