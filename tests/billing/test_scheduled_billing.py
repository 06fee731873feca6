"""Fixed fees, milestones, subscriptions and retainers, worked by hand to the cent."""

from datetime import date
from decimal import Decimal

import pytest

from billing.choices import DrawdownKind, SourceType
from billing.models import Invoice, PlanItem, RetainerMovement, TimeEntryBilling
from billing.services.plans import subscription_periods
from billing.services.runs import execute_billing_run, start_billing_run
from core.roles import Role
from projects.services.projects import accept_milestone, complete_milestone, create_milestone
from tests.billing.conftest import approved_time

D = Decimal
pytestmark = pytest.mark.django_db


def bill(finance, entity, period_end):
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    run = execute_billing_run(run_id=run.pk)
    return run, Invoice.objects.filter(run=run).first()


def amounts(invoice):
    return [(line.source_type, line.amount) for line in invoice.lines.all()] if invoice else []


def test_fixed_fee_instalments_bill_when_their_date_is_reached(finance, entity, make_contract):
    make_contract(
        [
            {
                "description": "Discovery",
                "billing_model": "fixed_fee",
                "amount": D("10000.00"),
                "instalments": 3,
                "start": date(2026, 1, 1),
                "end": date(2026, 3, 31),
            }
        ]
    )
    dates = list(PlanItem.objects.order_by("date").values_list("date", "amount"))
    # 89 days split in thirds: day 29, 59 and 89; the last instalment takes the rounding remainder.
    assert dates == [
        (date(2026, 1, 30), D("3333.33")),
        (date(2026, 3, 1), D("3333.33")),
        (date(2026, 3, 31), D("3333.34")),
    ]
    _, january = bill(finance, entity, date(2026, 1, 31))
    assert amounts(january) == [(SourceType.INSTALMENT, D("3333.33"))]
    assert january.tax_amount == D("666.67")  # 3,333.33 × 20% = 666.666 → 666.67
    _, february = bill(finance, entity, date(2026, 2, 28))
    assert february is None
    _, march = bill(finance, entity, date(2026, 3, 31))
    assert amounts(march) == [(SourceType.INSTALMENT, D("3333.33")), (SourceType.INSTALMENT, D("3333.34"))]
    _, again = bill(finance, entity, date(2026, 12, 31))
    assert again is None


def test_a_milestone_bills_once_the_client_accepts_it(finance, entity, make_contract, make_user):
    contract, project = make_contract(
        [
            {
                "description": "Design",
                "billing_model": "milestone",
                "milestones": [{"name": "Design signed off", "due": "2026-02-15", "amount": "12000.00"}],
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            }
        ]
    )
    admin = make_user(Role.ADMIN)
    milestone = create_milestone(
        actor=admin, project=project, name="Design signed off", amount=D("12000.00"), due=date(2026, 2, 15)
    )
    _, before = bill(finance, entity, date(2026, 3, 31))
    assert before is None  # due, but not accepted
    complete_milestone(actor=admin, milestone=milestone)
    accept_milestone(actor=admin, milestone=milestone)
    _, after = bill(finance, entity, date(2026, 12, 31))
    assert amounts(after) == [(SourceType.MILESTONE, D("12000.00"))]
    assert after.total_amount == D("14400.00")
    _, again = bill(finance, entity, date(2026, 12, 31))
    assert again is None


def test_subscription_prorates_partial_periods_by_days():
    periods = subscription_periods(date(2026, 4, 11), date(2026, 7, 20), 1, 1, D("6000.00"), "USD")
    assert [(p["start"], p["end"], p["amount"]) for p in periods] == [
        (date(2026, 4, 11), date(2026, 4, 30), D("4000.00")),  # 20 of April's 30 days
        (date(2026, 5, 1), date(2026, 5, 31), D("6000.00")),
        (date(2026, 6, 1), date(2026, 6, 30), D("6000.00")),
        (date(2026, 7, 1), date(2026, 7, 20), D("3870.97")),  # 20 of July's 31 days: 3,870.967…
    ]


def test_subscription_bills_each_period_in_advance_and_never_twice(finance, entity, make_contract):
    make_contract(
        [
            {
                "description": "Managed service",
                "billing_model": "subscription",
                "billing_period": "monthly",
                "period_amount": D("6000.00"),
                "amount": D("18000.00"),
                "cycle_day": 1,
                "start": date(2026, 4, 11),
                "end": date(2026, 7, 10),
            }
        ]
    )
    _, april = bill(finance, entity, date(2026, 4, 11))
    assert amounts(april) == [(SourceType.SUBSCRIPTION, D("4000.00"))]
    _, april_again = bill(finance, entity, date(2026, 4, 30))
    assert april_again is None
    _, may = bill(finance, entity, date(2026, 5, 1))
    assert amounts(may) == [(SourceType.SUBSCRIPTION, D("6000.00"))]
    # A run far ahead bills each remaining period once; July is 10 of 31 days: 1,935.48.
    _, rest = bill(finance, entity, date(2026, 12, 31))
    assert amounts(rest) == [(SourceType.SUBSCRIPTION, D("6000.00")), (SourceType.SUBSCRIPTION, D("1935.48"))]
    assert PlanItem.objects.filter(invoice_line__isnull=True).count() == 0


def test_retainer_draws_down_and_bills_overage(finance, entity, roles, people, make_contract):
    contract, project = make_contract(
        [
            {
                "description": "Support retainer",
                "billing_model": "retainer",
                "role": roles.senior.pk,
                "billing_period": "monthly",
                "period_amount": D("5000.00"),
                "period_hours": D("40"),
                "overage_rate": D("150.00"),
                "unused_hours": "forfeit",
                "amount": D("10000.00"),
                "start": date(2026, 3, 1),
                "end": date(2026, 4, 30),
            }
        ]
    )
    # March: the fee (40 h at 125.00) is billed in advance; 30 h of time draw it down.
    approved_time(people.sam, project, date(2026, 3, 10), "20", "125.00")
    approved_time(people.sam, project, date(2026, 3, 20), "10", "125.00")
    _, march = bill(finance, entity, date(2026, 3, 31))
    assert amounts(march) == [(SourceType.RETAINER_FEE, D("5000.00"))]
    balances = list(RetainerMovement.objects.order_by("id").values_list("kind", "hours", "balance_hours"))
    assert balances == [(DrawdownKind.FEE, D("40"), D("40")), (DrawdownKind.USAGE, D("-30"), D("10"))]

    # April: March's unused 10 h expire at its end; April's 40 h are drawn by 46 h → 6 h overage.
    approved_time(people.sam, project, date(2026, 4, 8), "24", "125.00")
    late = approved_time(people.sam, project, date(2026, 4, 22), "22", "125.00")
    _, april = bill(finance, entity, date(2026, 4, 30))
    assert amounts(april) == [
        (SourceType.RETAINER_FEE, D("5000.00")),
        (SourceType.RETAINER_OVERAGE, D("900.00")),
    ]
    overage = april.lines.get(source_type=SourceType.RETAINER_OVERAGE)
    assert (overage.quantity, overage.unit_price) == (D("6"), D("150.00"))
    link = TimeEntryBilling.objects.get(time_entry=late)
    assert (link.drawn_hours, link.billed_hours, link.amount, link.invoice_line_id) == (
        D("16"),
        D("6"),
        D("900"),
        overage.pk,
    )
    kinds = list(RetainerMovement.objects.order_by("id").values_list("kind", "hours", "balance_hours"))
    assert kinds[2:] == [
        (DrawdownKind.EXPIRED, D("-10"), D("0")),
        (DrawdownKind.FEE, D("40"), D("40")),
        (DrawdownKind.USAGE, D("-40"), D("0")),
        (DrawdownKind.OVERAGE, D("0"), D("0")),
    ]


def test_a_refunding_retainer_carries_unused_hours_and_refunds_them_at_the_end(
    finance, entity, roles, people, make_contract
):
    contract, project = make_contract(
        [
            {
                "description": "Advisory retainer",
                "billing_model": "retainer",
                "role": roles.senior.pk,
                "billing_period": "monthly",
                "period_amount": D("2000.00"),
                "period_hours": D("10"),
                "unused_hours": "refund",
                "amount": D("4000.00"),
                "start": date(2026, 3, 1),
                "end": date(2026, 4, 30),
            }
        ]
    )
    approved_time(people.sam, project, date(2026, 3, 10), "4", "200.00")
    bill(finance, entity, date(2026, 3, 31))
    approved_time(people.sam, project, date(2026, 4, 10), "7.5", "200.00")
    _, april = bill(finance, entity, date(2026, 4, 30))
    assert amounts(april) == [(SourceType.RETAINER_FEE, D("2000.00"))]
    # 20 h bought, 11.5 h used: 8.5 h at 200.00 come back when the line has ended.
    _, after = bill(finance, entity, date(2026, 5, 31))
    refund = after.lines.get()
    assert (refund.quantity, refund.unit_price, refund.amount) == (D("8.5"), D("-200.00"), D("-1700.00"))
    last = RetainerMovement.objects.order_by("id").last()
    assert (last.kind, last.hours, last.balance_hours) == (DrawdownKind.REFUNDED, D("-8.5"), D("0"))
