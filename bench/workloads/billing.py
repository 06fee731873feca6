"""W1: one billing run over the whole generated year, then every draft released with GL posting.

The run is the production service (`start_billing_run`, then `execute_billing_run` with its default chunk
size, synchronously in the measuring process); release is `release_invoices` in batches. The baseline is
what PostgreSQL itself takes to ingest the run's essential output: a psycopg COPY of one bill-once link
row per entry into a scratch copy of the link table with the same indexes. `check_billing` then proves
the answer from the database before any figure is accepted.
"""

from contextlib import contextmanager
from datetime import date
from unittest import mock

from bench.firm import YEAR, bench_entity
from bench.generate import FINANCE_USERNAME
from bench.harness import Timer

PERIOD_END = date(YEAR, 12, 31)
RELEASE_BATCH = 2_000
COPY_ROWS = 50_000

LINK_COLUMNS = "time_entry_id, plan_id, invoice_line_id, run_id"
ENTRY_COLUMNS = (
    "person_id, project_id, task_id, timesheet_id, role_id, date, hours, billable, notes, status, currency, "
    "bill_rate, cost_rate, rate_source, rated_at, submitted_at, approved_at, rejected_at, rejection_reason, "
    "created_at, updated_at, approved_by_id, created_by_id, rejected_by_id"
)


def _finance():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=FINANCE_USERNAME)


def _slices(data: bytes, rows: int):
    """`data` (COPY text) in pieces of `rows` lines."""
    start = 0
    while start < len(data):
        end, count = start, 0
        while count < rows:
            end = data.find(b"\n", end) + 1
            count += 1
            if end == 0:
                end = len(data)
                break
        yield data[start:end]
        start = end


def _copy_out(raw, query: str) -> bytes:
    with raw.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        return b"".join(bytes(block) for block in copy)


def _timed_copy_in(raw, table: str, columns: str, data: bytes, timer: Timer) -> int:
    rows = 0
    for piece in _slices(data, COPY_ROWS):
        with timer, raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(piece)
        rows += piece.count(b"\n")
    return rows


def copy_baselines(*, entries: bool = True) -> dict:
    """COPY one link row per approved billable entry (time entry, plan, invoice line, run) in the order
    the run writes them, contract by contract, into `LIKE billing_timeentrybilling INCLUDING ALL`; and
    (with `entries`) the approved billable time entries themselves into `LIKE projects_timeentry
    INCLUDING ALL`. Only the COPY into the scratch table is timed; each COPY of COPY_ROWS rows commits."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_links, bench_copy_entries")
        cursor.execute("CREATE TABLE bench_copy_links (LIKE billing_timeentrybilling INCLUDING ALL)")
        cursor.execute("CREATE TABLE bench_copy_entries (LIKE projects_timeentry INCLUDING ALL)")
    links = _copy_out(
        raw,
        """SELECT te.id, p.contract_id,
                  dense_rank() OVER (ORDER BY p.contract_id, te.project_id, te.role_id, te.bill_rate), 1
             FROM projects_timeentry te JOIN projects_project p ON p.id = te.project_id
            WHERE te.status = 'approved' AND te.billable
            ORDER BY p.contract_id, te.project_id, te.role_id, te.bill_rate, te.id""",
    )
    link_timer = Timer()
    link_rows = _timed_copy_in(raw, "bench_copy_links", LINK_COLUMNS, links, link_timer)
    del links
    result = {"links_seconds": link_timer.seconds, "link_rows": link_rows}
    if entries:
        entry_timer, entry_rows, last = Timer(), 0, 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) FROM projects_timeentry")
            top = cursor.fetchone()[0] or 0
        while last < top:
            data = _copy_out(
                raw,
                f"""SELECT {ENTRY_COLUMNS} FROM projects_timeentry
                     WHERE id > {last} AND id <= {last + COPY_ROWS} AND status = 'approved' AND billable
                     ORDER BY id""",  # noqa: S608 - integers we computed
            )
            entry_rows += _timed_copy_in(raw, "bench_copy_entries", ENTRY_COLUMNS, data, entry_timer)
            last += COPY_ROWS
        result |= {"entries_seconds": entry_timer.seconds, "entry_rows": entry_rows}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_links, bench_copy_entries")
    return result


@contextmanager
def queued_tasks():
    """Record the Celery tasks queued inside the block instead of running them at once.

    Without a broker (the benchmark has none) tasks run eagerly, in-process, when the transaction that
    queues them commits; in production a worker runs them later. So the caller's time is measured
    without them, and `run_queued` then does the workers' part, timed on its own.
    """
    from celery.app.task import Task

    queued = []

    def record(task, args=None, kwargs=None, **options):
        queued.append((task, tuple(args or ()), dict(kwargs or {})))

    with mock.patch.object(Task, "apply_async", record):
        yield queued


def run_queued(queued: list) -> dict:
    with Timer() as timer:
        for task, args, kwargs in queued:
            task.apply(args=args, kwargs=kwargs, throw=True)
    return {
        "tasks": sorted({task.name for task, _, _ in queued}),
        "count": len(queued),
        "seconds": timer.seconds,
    }


def billing_run(*, period_end: date = PERIOD_END) -> dict:
    """Start a run for the whole legal entity and execute it here, timed: `start_billing_run` queues the
    run's task, which is recorded (see `queued_tasks`) and its service, `execute_billing_run`, called
    directly with its default chunk size."""
    from billing.choices import RunStatus
    from billing.models import OverCapEntry, RunException
    from billing.services.runs import execute_billing_run, start_billing_run
    from billing.tasks import run_billing

    finance = _finance()
    with queued_tasks() as queued:
        run = start_billing_run(actor=finance, legal_entity=bench_entity(), period_end=period_end)
    if [(task.name, args) for task, args, _ in queued] != [(run_billing.name, (run.pk,))]:
        raise RuntimeError(f"start_billing_run queued {queued}, expected run_billing({run.pk})")
    with queued_tasks() as queued, Timer() as timer:
        run = execute_billing_run(run_id=run.pk)
    workers = run_queued(queued)
    if run.status != RunStatus.COMPLETED:
        raise RuntimeError(f"Billing run #{run.pk} ended {run.status}: {run.error}")
    exceptions = {}
    for kind in RunException.objects.filter(run=run).values_list("kind", flat=True):
        exceptions[kind] = exceptions.get(kind, 0) + 1
    return {
        "seconds": timer.seconds,
        "run_id": run.pk,
        "contracts": run.total_contracts,
        "invoices": run.invoices_created,
        "entries_billed": run.entries_billed,
        "entries_held_over_cap": OverCapEntry.objects.filter(run=run).count(),
        "expenses_billed": run.expenses_billed,
        "items_billed": run.items_billed,
        "exceptions": exceptions,
        "totals": run.totals,
        "queued_tasks": workers,
    }


def release_all(*, run_id: int, batch: int = RELEASE_BATCH, issue_date: date = PERIOD_END) -> dict:
    """Release every draft of the run with `release_invoices`, `batch` invoices per call, timed."""
    from billing.choices import InvoiceStatus
    from billing.models import Invoice
    from billing.services.invoices import release_invoices

    finance = _finance()
    ids = list(
        Invoice.objects.filter(run_id=run_id, status=InvoiceStatus.DRAFT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    timer, released, refused, workers = Timer(), 0, {}, []
    for start in range(0, len(ids), batch):
        with queued_tasks() as queued, timer:
            result = release_invoices(
                actor=finance, invoices=ids[start : start + batch], issue_date=issue_date
            )
        workers.append(run_queued(queued))
        released += len(result.released)
        refused |= {pk: str(error) for pk, error in result.refused.items()}
    return {
        "seconds": timer.seconds,
        # The event fan-out the release queued (webhook deliveries), done here as a worker would.
        "queued_tasks": {
            "tasks": sorted({name for w in workers for name in w["tasks"]}),
            "count": sum(w["count"] for w in workers),
            "seconds": sum(w["seconds"] for w in workers),
        },
        "drafts": len(ids),
        "released": released,
        "refused": len(refused),
        "refused_examples": dict(list(refused.items())[:5]),
        "calls": -(-len(ids) // batch),
    }


# The checks: every figure below must be zero (or equal its twin) for the run to count.

ELIGIBLE_TIME = """
    WITH time_plans AS (
        SELECT id, contract_id, role_id, billing_model, cap_amount FROM billing_billingplan
         WHERE legal_entity_id = %(entity)s AND status = 'active'
           AND billing_model IN ('time_and_materials', 'retainer')),
    role_plan AS (SELECT contract_id, role_id, min(id) AS plan_id FROM time_plans
                   WHERE role_id IS NOT NULL GROUP BY 1, 2),
    first_plan AS (SELECT contract_id, min(id) AS plan_id FROM time_plans GROUP BY 1),
    eligible AS (
        SELECT te.id, te.hours, te.bill_rate, te.project_id, te.role_id, p.contract_id,
               coalesce(rp.plan_id, fp.plan_id) AS plan_id
          FROM projects_timeentry te
          JOIN projects_project p ON p.id = te.project_id
          JOIN crm_contract c ON c.id = p.contract_id
          LEFT JOIN role_plan rp ON rp.contract_id = p.contract_id AND rp.role_id = te.role_id
          LEFT JOIN first_plan fp ON fp.contract_id = p.contract_id
         WHERE te.status = 'approved' AND te.billable AND te.date <= %(period_end)s
           AND c.legal_entity_id = %(entity)s AND te.currency = c.currency)
"""

CHECKS = {
    # Every approved billable entry a time plan takes is consumed: linked, or held over its cap.
    "time_entries_not_consumed": ELIGIBLE_TIME  # noqa: S608 - constant SQL; values are parameters
    + """SELECT count(*) FROM eligible e WHERE e.plan_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM billing_timeentrybilling l WHERE l.time_entry_id = e.id)
           AND NOT EXISTS (SELECT 1 FROM billing_overcapentry h WHERE h.time_entry_id = e.id)""",
    # No link to anything else (time waiting for approval, non-billable, another contract's plan).
    "links_to_wrong_entry_or_plan": ELIGIBLE_TIME  # noqa: S608 - constant SQL; values are parameters
    + """SELECT count(*) FROM billing_timeentrybilling l LEFT JOIN eligible e ON e.id = l.time_entry_id
          WHERE e.id IS NULL OR e.plan_id IS DISTINCT FROM l.plan_id OR l.run_id IS DISTINCT FROM %(run)s""",
    # Whole-entry time lines: quantity = Σ hours linked, amount = round(quantity × rate), one rate.
    "time_lines_not_sum_of_entries": """
        SELECT count(*) FROM (
            SELECT il.id, il.quantity, il.unit_price, il.amount,
                   sum(te.hours) AS hours, min(te.bill_rate) AS low, max(te.bill_rate) AS high
              FROM billing_invoiceline il
              JOIN billing_invoice i ON i.id = il.invoice_id
              JOIN billing_timeentrybilling l ON l.invoice_line_id = il.id AND l.amount IS NULL
              JOIN projects_timeentry te ON te.id = l.time_entry_id
             WHERE i.run_id = %(run)s AND il.source_type = 'time'
             GROUP BY il.id) x
         WHERE quantity <> hours OR low <> high OR unit_price <> low OR amount <> round(hours * low, 2)""",
    # The same time, priced straight from the entries: per uncapped time-and-materials plan, project,
    # role and rate, round(Σ hours × rate) must be exactly one invoice line.
    "time_groups_without_their_line": ELIGIBLE_TIME  # noqa: S608 - constant SQL; values are parameters
    + """, expected AS (
            SELECT e.plan_id, e.project_id, e.role_id, e.bill_rate, sum(e.hours) AS hours,
                   round(sum(e.hours) * e.bill_rate, 2) AS amount
              FROM eligible e JOIN time_plans tp ON tp.id = e.plan_id
             WHERE tp.billing_model = 'time_and_materials' AND tp.cap_amount IS NULL
             GROUP BY 1, 2, 3, 4),
        actual AS (
            SELECT il.plan_id, il.project_id, il.role_id, il.unit_price AS bill_rate, il.quantity AS hours,
                   il.amount
              FROM billing_invoiceline il
              JOIN billing_invoice i ON i.id = il.invoice_id
              JOIN time_plans tp ON tp.id = il.plan_id
             WHERE i.run_id = %(run)s AND il.source_type = 'time'
               AND tp.billing_model = 'time_and_materials' AND tp.cap_amount IS NULL)
        SELECT count(*) FROM expected x FULL JOIN actual a USING (plan_id, project_id, role_id, bill_rate)
         WHERE x.amount IS DISTINCT FROM a.amount OR x.hours IS DISTINCT FROM a.hours""",
    # A capped plan never bills more time than its cap (its expenses are billed beside it).
    "capped_plans_over_cap": """
        SELECT count(*) FROM (
            SELECT tp.id, tp.cap_amount, sum(il.amount) AS billed FROM billing_billingplan tp
              JOIN billing_invoiceline il ON il.plan_id = tp.id AND il.source_type = 'time'
             WHERE tp.cap_amount IS NOT NULL GROUP BY tp.id) x WHERE billed > cap_amount""",
    # A retainer's entry is drawn from the balance or billed as overage, hour for hour.
    "retainer_entries_not_whole": """
        SELECT count(*) FROM billing_timeentrybilling l JOIN projects_timeentry te ON te.id = l.time_entry_id
         WHERE l.drawn_hours IS NOT NULL AND l.drawn_hours + coalesce(l.billed_hours, 0) <> te.hours""",
    "expenses_not_billed_once": """
        WITH plans AS (SELECT DISTINCT contract_id FROM billing_billingplan
                        WHERE legal_entity_id = %(entity)s AND status = 'active'),
        eligible AS (
            SELECT x.id FROM projects_expense x
              JOIN projects_project p ON p.id = x.project_id
              JOIN crm_contract c ON c.id = p.contract_id
              JOIN plans ON plans.contract_id = c.id
             WHERE x.status = 'approved' AND x.billable AND x.date <= %(period_end)s
               AND x.project_currency = c.currency)
        SELECT count(*) FROM eligible e FULL JOIN billing_expensebilling l ON l.expense_id = e.id
         WHERE e.id IS NULL OR l.expense_id IS NULL""",
    "expense_amounts_wrong": """
        SELECT count(*) FROM billing_expensebilling l JOIN projects_expense x ON x.id = l.expense_id
         WHERE l.amount <> round(x.converted_amount * (100 + x.markup_percent) / 100, 2)""",
    "expense_lines_not_sum_of_expenses": """
        SELECT count(*) FROM (
            SELECT il.id, il.amount, sum(l.amount) AS linked FROM billing_invoiceline il
              JOIN billing_expensebilling l ON l.invoice_line_id = il.id GROUP BY il.id) x
         WHERE amount <> linked""",
    # Scheduled items that were due (or milestones accepted) by the period end and were not billed.
    "due_items_not_billed": """
        SELECT count(*) FROM billing_planitem it JOIN billing_billingplan bp ON bp.id = it.plan_id
         WHERE bp.legal_entity_id = %(entity)s AND bp.status = 'active' AND NOT it.cancelled
           AND it.invoice_line_id IS NULL
           AND CASE WHEN it.kind = 'milestone' THEN EXISTS (
                    SELECT 1 FROM projects_milestone m JOIN projects_project p ON p.id = m.project_id
                     WHERE p.contract_id = bp.contract_id AND m.status = 'accepted'
                       AND 'milestone:' || m.name = it.key AND m.accepted_at::date <= %(period_end)s)
                ELSE it.date <= %(period_end)s END""",
    # Each invoice: subtotal = Σ lines, tax = Σ per code of round(base × rate), total = subtotal + tax.
    "invoice_totals_wrong": """
        WITH lines AS (
            SELECT invoice_id, sum(amount) AS subtotal FROM billing_invoiceline GROUP BY invoice_id),
        taxes AS (
            SELECT b.invoice_id, sum(round(b.base * CASE WHEN tc.kind = 'standard' THEN tc.rate_percent
                                                         ELSE 0 END / 100, 2)) AS tax
              FROM (SELECT invoice_id, tax_code, sum(amount) AS base FROM billing_invoiceline
                     WHERE tax_code <> '' GROUP BY 1, 2) b
              JOIN billing_taxcode tc ON tc.code = b.tax_code AND tc.legal_entity_id = %(entity)s
             GROUP BY b.invoice_id)
        SELECT count(*) FROM billing_invoice i
          LEFT JOIN lines l ON l.invoice_id = i.id LEFT JOIN taxes t ON t.invoice_id = i.id
         WHERE i.run_id = %(run)s AND (i.subtotal_amount <> coalesce(l.subtotal, 0)
            OR i.tax_amount <> coalesce(t.tax, 0) OR i.total_amount <> i.subtotal_amount + i.tax_amount)""",
    "invoices_not_released": """
        SELECT count(*) FROM billing_invoice
         WHERE run_id = %(run)s AND (status <> 'released' OR number = '' OR ar_item_id IS NULL
            OR journal_entry_id IS NULL)""",
    # AR: one item per invoice, of the invoice's total; the AR account's lines add up to the same.
    "ar_items_not_invoice_totals": """
        SELECT count(*) FROM billing_invoice i LEFT JOIN ledger_aritem a ON a.id = i.ar_item_id
         WHERE i.run_id = %(run)s AND (a.id IS NULL OR a.amount <> i.total_amount OR a.currency <> i.currency
            OR a.functional_amount <> i.functional_total_amount)""",
    "entries_unbalanced": """
        SELECT count(*) FROM (
            SELECT entry_id FROM ledger_journalline GROUP BY entry_id, currency
            HAVING sum(debit) <> sum(credit)) x""",
}

# Per currency, what the ledger says against what the invoices say.
LEDGER_BY_CURRENCY = """
    SELECT l.currency, a.role, sum(l.debit - l.credit), sum(l.functional_debit - l.functional_credit)
      FROM ledger_journalline l JOIN ledger_glaccount a ON a.id = l.account_id
      JOIN ledger_journalentry e ON e.id = l.entry_id
     WHERE e.source_type = 'billing.invoice' AND a.role IN ('ar', 'deferred_revenue', 'tax_payable')
     GROUP BY 1, 2
"""
INVOICES_BY_CURRENCY = """
    SELECT currency, sum(subtotal_amount), sum(tax_amount), sum(total_amount), sum(functional_total_amount),
           count(*)
      FROM billing_invoice WHERE run_id = %(run)s GROUP BY currency
"""


def check_billing(*, run_id: int) -> dict:
    """Prove the run and the release from the database: a fast wrong answer fails the benchmark."""
    from django.db import connection

    from bench.workloads.posting import check_ledger
    from billing.models import BillingRun

    run = BillingRun.objects.get(pk=run_id)
    params = {"run": run.pk, "entity": run.legal_entity_id, "period_end": run.period_end}
    found = {}
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(sql, params)
            found[name] = cursor.fetchone()[0]
        cursor.execute(
            ELIGIBLE_TIME  # noqa: S608 - constant SQL; values are parameters
            + """
            SELECT count(*) FILTER (WHERE plan_id IS NOT NULL),
                   (SELECT count(*) FROM billing_timeentrybilling WHERE run_id = %(run)s),
                   (SELECT count(*) FROM billing_overcapentry h WHERE run_id = %(run)s AND NOT EXISTS
                       (SELECT 1 FROM billing_timeentrybilling l WHERE l.time_entry_id = h.time_entry_id))
              FROM eligible""",
            params,
        )
        eligible, linked, held_only = cursor.fetchone()
        cursor.execute(INVOICES_BY_CURRENCY, params)
        invoices = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(LEDGER_BY_CURRENCY)
        ledger = {
            (currency, role): (amount, functional) for currency, role, amount, functional in cursor.fetchall()
        }
    by_currency = {}
    for currency, (subtotal, tax, total, functional_total, count) in sorted(invoices.items()):
        ar = ledger.get((currency, "ar"), (0, 0))
        deferred = ledger.get((currency, "deferred_revenue"), (0, 0))
        payable = ledger.get((currency, "tax_payable"), (0, 0))
        by_currency[currency] = {
            "invoices": count,
            "total": str(total),
            "run_totals": run.totals.get(currency),
            "ar_equals_totals": ar[0] == total and ar[1] == functional_total,
            "deferred_revenue_equals_subtotals": -deferred[0] == subtotal,
            "tax_payable_equals_tax": -payable[0] == tax,
            "drafts_totalled_as_released": run.totals.get(currency) == f"{total:.2f}",
        }
    ledger_check = check_ledger()
    ok = (
        all(value == 0 for value in found.values())
        and linked == run.entries_billed
        and linked + held_only == eligible
        and all(all(v for k, v in row.items() if isinstance(v, bool)) for row in by_currency.values())
        and set(by_currency) == set(run.totals)
        and ledger_check["ok"]
    )
    return {
        "ok": ok,
        "eligible_entries": eligible,
        "linked_entries": linked,
        "held_over_cap_only": held_only,
        "run_entries_billed": run.entries_billed,
        "problems": found,
        "by_currency": by_currency,
        "ledger": ledger_check,
    }
