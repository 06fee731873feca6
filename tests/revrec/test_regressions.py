"""Regressions found by review: what a percent-complete obligation measures, runs out of order, and
run totals across currencies."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from crm.models import Account
from ledger.models import JournalLine
from ledger.services.setup import set_exchange_rate
from revrec.models import PerformanceObligation, RevenueScheduleLine
from revrec.services.obligations import set_estimate
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def recognise(finance, entity, period_end):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


def test_percent_complete_measures_only_its_own_cost_not_the_time_of_other_obligations(
    finance, entity, roles, people, make_contract
):
    contract, project = make_contract(
        [
            {
                "description": "Discovery",
                "billing_model": "fixed_fee",
                "amount": D("10000.00"),
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2026, 1, 31),
            },
            tm_line(roles.senior, "185.00"),
        ]
    )
    discovery = PerformanceObligation.objects.get(contract=contract, description="Discovery")
    set_estimate(actor=finance, obligation=discovery, total_cost=D("8000"), reason="Plan")
    # Only time-and-materials work of the senior role (its own obligation, billed as delivered): 8 h × 50.00.
    approved_time(people.sam, project, date(2026, 1, 20), "8", "185.00")
    recognise(finance, entity, date(2026, 1, 31))
    recognised = RevenueScheduleLine.objects.filter(obligation=discovery, status="recognized")
    # The senior time is the T&M line's: Discovery, with no work of its own, recognises nothing.
    assert sum(line.amount for line in recognised) == D("0")


def test_a_run_for_an_earlier_month_after_a_later_one_does_not_reverse_revenue(
    finance, entity, people, make_contract
):
    contract, project = make_contract(
        [
            {
                "description": "Implementation",
                "billing_model": "fixed_fee",
                "amount": D("10000.00"),
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            }
        ]
    )
    obligation = PerformanceObligation.objects.get(contract=contract)
    set_estimate(actor=finance, obligation=obligation, total_cost=D("1000"), reason="Plan")
    for day, amount in ((date(2026, 1, 15), "100.00"), (date(2026, 2, 15), "400.00")):
        expense = approved_expense(people.sam, project, day, amount, category="subcontractor")
        expense.billable = False
        expense.save(update_fields=["billable"])
    recognise(finance, entity, date(2026, 2, 28))  # 5,000.00 to date
    # A January run after February's would compute 1,000.00 to date − 5,000.00 recognised and reverse
    # revenue into January: refused with its code, nothing written.
    with pytest.raises(ValidationFailed) as refused:
        recognise(finance, entity, date(2026, 1, 31))
    assert refused.value.code == "period_before_last_run"
    assert not JournalLine.objects.filter(entry__source_type="revrec.run", date=date(2026, 1, 31)).exists()


def test_a_runs_recognised_amount_does_not_add_two_currencies(finance, entity, make_contract, vat20):
    set_exchange_rate(actor=finance, from_currency="EUR", to_currency="USD", on=date(2026, 1, 1), rate=D("2"))
    euro_client = Account.objects.create(
        name="Euro GmbH", legal_entity=entity, currency="EUR", tax_code="VAT20", payment_terms_days=30
    )
    ratable = {
        "description": "Support",
        "billing_model": "fixed_fee",
        "revenue_method": "ratable",
        "start": date(2026, 1, 1),
        "end": date(2026, 1, 31),
    }
    make_contract([ratable | {"amount": D("1000.00")}])
    make_contract([ratable | {"amount": D("1000.00")}], account=euro_client, code="EUR-1")
    run = recognise(finance, entity, date(2026, 1, 31))
    assert {k: D(v) for k, v in run.totals.items()} == {"USD": D("1000"), "EUR": D("1000")}
    # USD 1,000.00 + EUR 1,000.00 at 2 is 3,000.00 in USD, the functional currency.
    assert run.recognized_amount == D("3000.00")
