"""Revenue runs worked by hand: percent complete with revised estimates and a price change (cumulative
catch-up), ratable, milestone at acceptance, T&M as delivered under a cap, and the entries they post."""

from datetime import date
from decimal import Decimal

import pytest

from core.roles import Role
from crm.services.contracts import amend_contract, current_lines
from ledger.choices import AccountRole
from ledger.models import JournalLine
from projects.services.projects import accept_milestone, complete_milestone, create_milestone
from revrec.choices import LineStatus
from revrec.models import PerformanceObligation, RevenueScheduleLine
from revrec.services.obligations import set_estimate
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def recognise(finance, entity, period_end):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


def posted(entry_source, run):
    lines = JournalLine.objects.filter(entry__source_type=entry_source, entry__source_id=str(run.pk))
    return sorted((line.account.role, line.debit, line.credit) for line in lines.select_related("account"))


def cost(people, project, day, amount):
    expense = approved_expense(people.sam, project, day, amount, category="subcontractor")
    expense.billable = False
    expense.save(update_fields=["billable"])


def test_percent_complete_with_revised_estimate_and_a_change_order(finance, entity, people, make_contract):
    contract, project = make_contract(
        [
            {
                "description": "Implementation",
                "billing_model": "fixed_fee",
                "amount": D("500000.00"),
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2026, 12, 31),
            }
        ]
    )
    obligation = PerformanceObligation.objects.get(contract=contract)
    assert (obligation.allocated_amount, obligation.measure) == (D("500000.00"), "cost")
    set_estimate(actor=finance, obligation=obligation, total_cost=D("400000"), reason="Plan at signing")

    cost(people, project, date(2026, 1, 20), "100000.00")
    january = recognise(finance, entity, date(2026, 1, 31))
    assert january.recognized_amount == D("125000.00")
    assert posted("revrec.run", january) == [
        (AccountRole.DEFERRED_REVENUE, D("125000.00"), D("0")),
        (AccountRole.REVENUE_FIXED, D("0"), D("125000.00")),
    ]
    # Nothing billed yet: the contract is a net asset, reclassified at the month end and reversed next day.
    reclass = JournalLine.objects.filter(
        entry__source_type="revrec.reclass", account__role=AccountRole.UNBILLED_REVENUE
    )
    assert sorted((line.entry.date, line.debit, line.credit) for line in reclass) == [
        (date(2026, 1, 31), D("125000.00"), D("0")),
        (date(2026, 2, 1), D("0"), D("125000.00")),
    ]

    cost(people, project, date(2026, 2, 15), "120000.00")
    set_estimate(actor=finance, obligation=obligation, total_cost=D("440000"), reason="Revised estimate")
    february = recognise(finance, entity, date(2026, 2, 28))
    assert february.recognized_amount == D("125000.00")  # 250,000.00 to date

    line = current_lines(contract).get()
    amend_contract(
        actor=None,
        contract=contract,
        reason="Change order: more scope",
        lines=[{"id": line.pk, "amount": D("560000.00")}],
    )
    cost(people, project, date(2026, 3, 10), "110000.00")
    march = recognise(finance, entity, date(2026, 3, 31))
    assert march.recognized_amount == D("170000.00")  # 420,000.00 to date
    recognized = RevenueScheduleLine.objects.filter(status=LineStatus.RECOGNIZED).order_by("id")
    assert [line.amount for line in recognized] == [D("125000.00"), D("125000.00"), D("170000.00")]
    # A second run for the same month recognises nothing more.
    assert recognise(finance, entity, date(2026, 3, 31)).recognized_amount == 0


def test_ratable_recognises_its_planned_months(finance, entity, make_contract):
    make_contract(
        [
            {
                "description": "Support",
                "billing_model": "fixed_fee",
                "amount": D("9000.00"),
                "revenue_method": "ratable",
                "start": date(2026, 1, 16),
                "end": date(2026, 4, 15),
            }
        ]
    )
    planned = list(RevenueScheduleLine.objects.values_list("period_start", "amount"))
    assert planned == [
        (date(2026, 1, 16), D("1600.00")),
        (date(2026, 2, 1), D("2800.00")),
        (date(2026, 3, 1), D("3100.00")),
        (date(2026, 4, 1), D("1500.00")),
    ]
    assert recognise(finance, entity, date(2026, 2, 28)).recognized_amount == D("4400.00")
    assert recognise(finance, entity, date(2026, 4, 30)).recognized_amount == D("4600.00")


def test_milestone_at_acceptance_and_time_as_delivered_under_a_cap(
    finance, entity, roles, people, make_contract, make_user
):
    contract, project = make_contract(
        [
            {
                "description": "Design",
                "billing_model": "milestone",
                "milestones": [{"name": "Design signed off", "due": "2026-02-15", "amount": "12000.00"}],
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            },
            tm_line(roles.senior, "100.00", cap="1000.00"),
        ]
    )
    admin = make_user(Role.ADMIN)
    milestone = create_milestone(
        actor=admin, project=project, name="Design signed off", amount=D("12000.00"), due=date(2026, 2, 15)
    )
    approved_time(people.sam, project, date(2026, 2, 2), "8", "100.00")
    approved_time(people.sam, project, date(2026, 2, 3), "4", "100.00")
    february = recognise(finance, entity, date(2026, 2, 28))
    assert february.recognized_amount == D("1000.00")  # 1,200.00 delivered, capped at 1,000.00
    complete_milestone(actor=admin, milestone=milestone)
    accept_milestone(actor=admin, milestone=milestone)
    # Accepted today (the clock is real here): recognised by the run of the month it was accepted in.
    accepted = recognise(finance, entity, date(2026, 12, 31))
    assert accepted.recognized_amount == D("12000.00")
    assert posted("revrec.run", accepted) == [
        (AccountRole.DEFERRED_REVENUE, D("12000.00"), D("0")),
        (AccountRole.REVENUE_FIXED, D("0"), D("12000.00")),
    ]
