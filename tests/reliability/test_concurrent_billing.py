"""Eight billing runs at once over the same generated firm (bench/generate.py, ≥ 50,000 approved entries)
with overlapping scopes: no entry, expense or scheduled item is billed twice, every eligible one is billed,
and the invoice lines add up to the approved billable value to the cent.

Fast tier: 3 seeds at 50,000 entries. `make soak` (RELIABILITY_SEEDS=20) repeats it over more seeds.
"""

import os
import random
import threading
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, connections, transaction

from bench.firm import bench_entity
from bench.generate import FINANCE_USERNAME, build_firm
from billing.choices import PlanStatus, RunStatus
from billing.models import BillingPlan, BillingRun
from billing.services.runs import execute_billing_run, start_billing_run
from core.models import User
from crm.models import Account

ENTRIES = int(os.environ.get("RELIABILITY_ENTRIES", "50000"))
SEEDS = [int(seed) for seed in os.environ.get("RELIABILITY_SEEDS", "1,2,3").split(",")]
RUNS = 8
PERIOD_END = date(2026, 12, 31)

# Entries a billing run must consume: approved, billable, dated by the period end, of a contract of the
# entity with an active time plan (the plan for the entry's role, else the contract's first time plan).
ELIGIBLE = """
    WITH time_plans AS (
        SELECT id, contract_id, role_id, billing_model, cap_amount FROM billing_billingplan
         WHERE legal_entity_id = %(entity)s AND status = 'active'
           AND billing_model IN ('time_and_materials', 'retainer')),
    role_plan AS (SELECT contract_id, role_id, min(id) AS plan_id FROM time_plans
                   WHERE role_id IS NOT NULL GROUP BY 1, 2),
    first_plan AS (SELECT contract_id, min(id) AS plan_id FROM time_plans GROUP BY 1),
    eligible AS (
        SELECT te.id, te.hours, te.bill_rate, te.project_id, te.role_id,
               coalesce(rp.plan_id, fp.plan_id) AS plan_id
          FROM projects_timeentry te
          JOIN projects_project p ON p.id = te.project_id
          JOIN crm_contract c ON c.id = p.contract_id
          LEFT JOIN role_plan rp ON rp.contract_id = p.contract_id AND rp.role_id = te.role_id
          LEFT JOIN first_plan fp ON fp.contract_id = p.contract_id
         WHERE te.status = 'approved' AND te.billable AND te.date <= %(period_end)s
           AND c.legal_entity_id = %(entity)s AND te.currency = c.currency
           AND coalesce(rp.plan_id, fp.plan_id) IS NOT NULL)
"""

# Each must be zero.
PROBLEMS = {
    "eligible entries neither billed nor held over a cap": ELIGIBLE  # noqa: S608 - constant SQL
    + """SELECT count(*) FROM eligible e
          WHERE NOT EXISTS (SELECT 1 FROM billing_timeentrybilling l WHERE l.time_entry_id = e.id)
            AND NOT EXISTS (SELECT 1 FROM billing_overcapentry h WHERE h.time_entry_id = e.id)""",
    "entries billed that were not eligible, or under another plan": ELIGIBLE  # noqa: S608 - constant SQL
    + """SELECT count(*) FROM billing_timeentrybilling l LEFT JOIN eligible e ON e.id = l.time_entry_id
          WHERE e.id IS NULL OR e.plan_id <> l.plan_id""",
    "entries on more than one invoice line": """
        SELECT count(*) FROM (
            SELECT l.time_entry_id FROM billing_timeentrybilling l
              JOIN billing_invoiceline il ON il.id = l.invoice_line_id
             GROUP BY 1 HAVING count(DISTINCT il.id) > 1) x""",
    "contracts with more than one invoice": """
        SELECT count(*) FROM (SELECT contract_id FROM billing_invoice GROUP BY 1 HAVING count(*) > 1) x""",
    "contracts done by more than one run with an invoice": """
        SELECT count(*) FROM (SELECT contract_id FROM billing_runcontract WHERE invoice_id IS NOT NULL
                               GROUP BY 1 HAVING count(*) > 1) x""",
    "duplicate time lines (same plan, project, role and rate twice)": """
        SELECT count(*) FROM (
            SELECT plan_id, project_id, role_id, unit_price FROM billing_invoiceline
             WHERE source_type = 'time' AND plan_id IS NOT NULL
             GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) x""",
    "time lines whose quantity or amount is not their entries'": """
        SELECT count(*) FROM (
            SELECT il.id, il.quantity, il.unit_price, il.amount, sum(te.hours) AS hours
              FROM billing_invoiceline il
              JOIN billing_timeentrybilling l ON l.invoice_line_id = il.id AND l.amount IS NULL
              JOIN projects_timeentry te ON te.id = l.time_entry_id
             WHERE il.source_type = 'time' GROUP BY il.id) x
         WHERE quantity <> hours OR amount <> round(hours * unit_price, 2)""",
    "eligible expenses not billed exactly once": """
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
    "scheduled items due and not billed": """
        SELECT count(*) FROM billing_planitem it JOIN billing_billingplan bp ON bp.id = it.plan_id
         WHERE bp.legal_entity_id = %(entity)s AND bp.status = 'active' AND NOT it.cancelled
           AND it.invoice_line_id IS NULL AND it.kind <> 'milestone' AND it.date <= %(period_end)s""",
    "capped plans billed over their cap": """
        SELECT count(*) FROM (
            SELECT bp.id, bp.cap_amount, sum(il.amount) AS billed FROM billing_billingplan bp
              JOIN billing_invoiceline il ON il.plan_id = bp.id AND il.source_type = 'time'
             WHERE bp.cap_amount IS NOT NULL GROUP BY bp.id) x WHERE billed > cap_amount""",
    "invoices whose subtotal is not the sum of their lines": """
        SELECT count(*) FROM billing_invoice i
          LEFT JOIN (SELECT invoice_id, sum(amount) AS total FROM billing_invoiceline GROUP BY 1) l
                 ON l.invoice_id = i.id
         WHERE i.subtotal_amount <> coalesce(l.total, 0)""",
}

# Σ of the time lines of uncapped time-and-materials plans, and Σ round(Σ hours × rate) of their eligible
# entries per plan, project, role and rate (the grouping an invoice line bills): per currency.
TIME_VALUE = (
    ELIGIBLE  # noqa: S608 - constant SQL
    + """
    SELECT c.currency, sum(round(g.hours * g.bill_rate, 2)) FROM (
        SELECT e.plan_id, e.project_id, e.role_id, e.bill_rate, sum(e.hours) AS hours
          FROM eligible e JOIN billing_billingplan bp ON bp.id = e.plan_id
         WHERE bp.billing_model = 'time_and_materials' AND bp.cap_amount IS NULL
         GROUP BY 1, 2, 3, 4) g
      JOIN billing_billingplan bp ON bp.id = g.plan_id JOIN crm_contract c ON c.id = bp.contract_id
     GROUP BY 1"""
)
TIME_BILLED = """
    SELECT i.currency, sum(il.amount) FROM billing_invoiceline il
      JOIN billing_invoice i ON i.id = il.invoice_id JOIN billing_billingplan bp ON bp.id = il.plan_id
     WHERE il.source_type = 'time' AND bp.billing_model = 'time_and_materials' AND bp.cap_amount IS NULL
     GROUP BY 1"""
EXPENSE_VALUE = """
    SELECT x.project_currency, sum(round(x.converted_amount * (100 + x.markup_percent) / 100, 2))
      FROM projects_expense x JOIN billing_expensebilling l ON l.expense_id = x.id GROUP BY 1"""
EXPENSE_BILLED = """
    SELECT i.currency, sum(il.amount) FROM billing_invoiceline il
      JOIN billing_invoice i ON i.id = il.invoice_id
     WHERE il.id IN (SELECT invoice_line_id FROM billing_expensebilling) GROUP BY 1"""
ITEM_VALUE = """
    SELECT c.currency, sum(it.amount) FROM billing_planitem it
      JOIN billing_billingplan bp ON bp.id = it.plan_id JOIN crm_contract c ON c.id = bp.contract_id
     WHERE it.invoice_line_id IS NOT NULL GROUP BY 1"""
ITEM_BILLED = """
    SELECT i.currency, sum(il.amount) FROM billing_invoiceline il
      JOIN billing_invoice i ON i.id = il.invoice_id
     WHERE il.id IN (SELECT invoice_line_id FROM billing_planitem) GROUP BY 1"""


def _by_currency(sql: str, params: dict) -> dict[str, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {currency: total for currency, total in cursor.fetchall()}


def overlapping_scopes(rng: random.Random, account_ids: list[int], contract_ids: list[int]) -> list[dict]:
    """The whole entity twice, halves of the clients, random thirds of the contracts, a mix of both."""
    half = len(account_ids) // 2
    shuffled = rng.sample(account_ids, len(account_ids))
    return [
        {},
        {},
        {"accounts": shuffled[: half + 1]},
        {"accounts": shuffled[half - 1 :]},
        {"contracts": rng.sample(contract_ids, len(contract_ids) // 3)},
        {"contracts": rng.sample(contract_ids, len(contract_ids) // 3)},
        {"accounts": rng.sample(account_ids, max(1, len(account_ids) // 4))},
        {"contracts": rng.sample(contract_ids, len(contract_ids) // 2)},
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", SEEDS)
def test_eight_concurrent_runs_bill_everything_once(seed):
    firm = build_firm(n=ENTRIES, seed=seed)
    assert firm["approved_billable_entries"] >= ENTRIES
    entity = bench_entity()
    finance = User.objects.get(username=FINANCE_USERNAME)
    rng = random.Random(seed)
    account_ids = sorted(Account.objects.filter(legal_entity=entity).values_list("pk", flat=True))
    contract_ids = sorted(
        set(
            BillingPlan.objects.filter(legal_entity=entity, status=PlanStatus.ACTIVE).values_list(
                "contract_id", flat=True
            )
        )
    )
    scopes = overlapping_scopes(rng, account_ids, contract_ids)
    # The runs' own tasks are not queued: the threads below are the eight workers.
    with mock.patch("billing.tasks.run_billing.delay"), transaction.atomic():
        runs = [
            start_billing_run(actor=finance, legal_entity=entity, period_end=PERIOD_END, **scope)
            for scope in scopes
        ]
    chunk_sizes = [rng.choice([5, 10, 25, 50]) for _ in runs]
    barrier = threading.Barrier(len(runs))
    errors = []

    def work(run_id: int, chunk_size: int):
        try:
            barrier.wait(timeout=60)
            execute_billing_run(run_id=run_id, chunk_size=chunk_size)
        except Exception as exc:  # noqa: BLE001 - reported below with the run
            errors.append((run_id, repr(exc)))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, args=(run.pk, size))
        for run, size in zip(runs, chunk_sizes, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    assert errors == []
    assert set(BillingRun.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}

    params = {"entity": entity.pk, "period_end": PERIOD_END}
    found = {}
    with connection.cursor() as cursor:
        for name, sql in PROBLEMS.items():
            cursor.execute(sql, params)
            found[name] = cursor.fetchone()[0]
        cursor.execute(ELIGIBLE + "SELECT count(*) FROM eligible", params)  # noqa: S608 - constant SQL
        eligible = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM billing_timeentrybilling")
        linked = cursor.fetchone()[0]
    assert found == dict.fromkeys(PROBLEMS, 0)
    assert eligible >= ENTRIES * 9 // 10
    # The runs' counters add up to the links: no run counted what another billed.
    assert sum(BillingRun.objects.values_list("entries_billed", flat=True)) == linked

    time_value = _by_currency(TIME_VALUE, params)
    assert time_value and all(total > 0 for total in time_value.values())
    assert _by_currency(TIME_BILLED, params) == time_value
    assert _by_currency(EXPENSE_BILLED, params) == _by_currency(EXPENSE_VALUE, params)
    assert _by_currency(ITEM_BILLED, params) == _by_currency(ITEM_VALUE, params)
