"""Revenue reports on a small firm worked by hand, to the cent: a percent-complete implementation billed
in instalments and a ratable subscription billed monthly in advance, through a quarter of billing runs,
releases and revenue runs; the deferred revenue roll-forward agrees with the ledger month by month."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Invoice
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from crm.models import Account
from ledger.choices import AccountRole
from ledger.models import JournalLine
from revrec.models import PerformanceObligation
from revrec.reports import (
    contract_revenue_summary,
    deferred_revenue_rollforward,
    revenue_waterfall,
    rpo_disclosure,
    unbilled_revenue,
)
from revrec.services.obligations import set_estimate
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import approved_expense, tm_line

D = Decimal
pytestmark = pytest.mark.django_db

JAN, FEB, MAR = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


def recognise(finance, entity, period_end):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


def bill_and_release(finance, entity, period_end) -> list[Invoice]:
    """A billing run to the month end, every draft released on that day."""
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    execute_billing_run(run_id=run.pk)
    return [
        release_invoice(actor=finance, invoice=invoice, issue_date=period_end)
        for invoice in Invoice.objects.filter(run=run).order_by("id")
    ]


def cost(people, project, day, amount):
    """Delivery cost (a non-billable subcontractor expense) for percent complete."""
    expense = approved_expense(people.sam, project, day, amount, category="subcontractor")
    expense.billable = False
    expense.save(update_fields=["billable"])


def deferred_balance(entity, as_of) -> Decimal:
    """Deferred revenue (credit − debit) straight from the journal lines."""
    lines = JournalLine.objects.filter(
        legal_entity=entity, account__role=AccountRole.DEFERRED_REVENUE, date__lte=as_of
    )
    return sum((line.credit - line.debit for line in lines), D(0))


@pytest.fixture
def initech(entity, vat20):
    return Account.objects.create(
        name="Initech",
        legal_entity=entity,
        currency="USD",
        tax_code="VAT20",
        billing_email="ap@initech.example",
        payment_terms_days=30,
    )


@pytest.fixture
def firm(finance, entity, people, initech, make_contract):
    """Globex's implementation: 100,000.00 percent complete (cost), estimate 80,000.00, Jan 1..Apr 30,
    billed in 4 instalments of 25,000.00 due Jan 30, Mar 1, Mar 31 and Apr 30 (k/4 of the 119-day span).
    Initech's managed service: 3,000.00 a month Jan..Mar billed in advance, recognised ratably by day:
    9,000.00 × 31/90, 28/90, 31/90 = 3,100.00 / 2,800.00 / 3,100.00.

    Returns a function that plays one month: costs, billing run + release, revenue run."""
    implementation, project = make_contract(
        [
            {
                "description": "Implementation",
                "billing_model": "fixed_fee",
                "amount": D("100000.00"),
                "instalments": 4,
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2026, 4, 30),
            }
        ]
    )
    service, _ = make_contract(
        [
            {
                "description": "Managed service",
                "billing_model": "subscription",
                "billing_period": "monthly",
                "period_amount": D("3000.00"),
                "cycle_day": 1,
                "revenue_method": "ratable",
                "start": date(2026, 1, 1),
                "end": date(2026, 3, 31),
            }
        ],
        account=initech,
    )
    pc = PerformanceObligation.objects.get(contract=implementation)
    set_estimate(actor=finance, obligation=pc, total_cost=D("80000"), reason="Plan at signing")

    def month(period_end, costs=()):
        for day, amount in costs:
            cost(people, project, day, amount)
        invoices = bill_and_release(finance, entity, period_end)
        return invoices, recognise(finance, entity, period_end)

    return SimpleNamespace(
        implementation=implementation,
        service=service,
        pc=pc,
        month=month,
        cost=lambda day, amount: cost(people, project, day, amount),
    )


def test_a_quarter_month_by_month(finance, entity, firm, client_account):
    # January: the first instalment (25,000.00) and January's fee (3,000.00) are billed; cost 20,000.00
    # of 80,000.00 → 25,000.00; the service recognises 3,100.00, 100.00 more than it billed.
    invoices, january = firm.month(JAN, costs=[(date(2026, 1, 20), "20000.00")])
    assert sorted(invoice.subtotal_amount for invoice in invoices) == [D("3000.00"), D("25000.00")]
    assert (january.recognized_amount, january.reclassified_amount) == (D("28100.00"), D("100.00"))
    assert deferred_revenue_rollforward(entity, date(2026, 1, 1), JAN)["rows"] == [
        {
            "currency": "USD",
            "opening": D("0.00"),
            "billed": D("28000.00"),
            "recognized": D("28100.00"),
            "reclassified": D("100.00"),
            "other": D("0.00"),
            "closing": D("0.00"),
            "identity_holds": True,
        }
    ]
    unbilled = unbilled_revenue(entity, date(2026, 2, 15))
    assert [(row["number"], row["recognized"], row["billed"], row["unbilled"], row["since"], row["age_days"])
            for row in unbilled["rows"]] == [
        (firm.service.number, D("3100.00"), D("3000.00"), D("100.00"), JAN, 15)
    ]  # fmt: skip

    # February: cost to date 44,000.00 → 55,000.00 (30,000.00 this month), nothing billed on it; the
    # service bills 3,000.00 and recognises 2,800.00: now 100.00 billed ahead (a liability).
    _, february = firm.month(FEB, costs=[(date(2026, 2, 10), "24000.00")])
    assert (february.recognized_amount, february.reclassified_amount) == (D("32800.00"), D("30000.00"))
    [row] = deferred_revenue_rollforward(entity, date(2026, 2, 1), FEB)["rows"]
    # January's 100.00 reclassification is reversed on Feb 1; February's 30,000.00 made on Feb 28.
    assert (row["opening"], row["billed"], row["recognized"], row["reclassified"], row["closing"]) == (
        D("0.00"),
        D("3000.00"),
        D("32800.00"),
        D("29900.00"),
        D("100.00"),
    )

    waterfall = revenue_waterfall(entity, FEB, group_by="client")
    assert waterfall["months"][0] == date(2025, 3, 1) and waterfall["months"][-1] == date(2027, 2, 1)
    assert len(waterfall["months"]) == 24

    def cells(row):
        return {cell["month"]: (cell["recognized"], cell["scheduled"]) for cell in row["months"] if any(
            (cell["recognized"], cell["scheduled"]))}  # fmt: skip

    globex, initech = waterfall["rows"]
    assert (globex["name"], globex["client"], globex["currency"]) == ("Globex Corp", client_account.pk, "USD")
    assert cells(globex) == {
        date(2026, 1, 1): (D("25000.00"), D("0")),
        date(2026, 2, 1): (D("30000.00"), D("0")),
    }
    assert (initech["name"], initech["recognized"], initech["scheduled"]) == (
        "Initech",
        D("5900.00"),
        D("3100.00"),
    )
    assert cells(initech) == {
        date(2026, 1, 1): (D("3100.00"), D("0")),
        date(2026, 2, 1): (D("2800.00"), D("0")),
        date(2026, 3, 1): (D("0"), D("3100.00")),
    }
    [total] = waterfall["totals"]
    assert (total["recognized"], total["scheduled"]) == (D("60900.00"), D("3100.00"))
    by_service = revenue_waterfall(entity, FEB, group_by="service")["rows"]
    assert [(row["service"], row["name"], row["recognized"], row["scheduled"]) for row in by_service] == [
        (AccountRole.REVENUE_FIXED, "Revenue: fixed fee and milestones", D("55000.00"), D("0")),
        (
            AccountRole.REVENUE_SUBSCRIPTION,
            "Revenue: subscriptions and retainers",
            D("5900.00"),
            D("3100.00"),
        ),
    ]

    unbilled = unbilled_revenue(entity, date(2026, 3, 15))
    # Billing (25,000.00) covers January's recognition; February's 30,000.00 is unbilled since Feb 28.
    assert [(row["number"], row["unbilled"], row["since"], row["age_days"]) for row in unbilled["rows"]] == [
        (firm.implementation.number, D("30000.00"), FEB, 15)
    ]
    assert unbilled["totals"] == [{"currency": "USD", "unbilled": D("30000.00")}]

    # March: estimate revised to 88,000.00, cost to date 60,000.00 → 100,000.00 × 60/88 = 68,181.818… →
    # 68,181.82 (13,181.82 this month); instalments 2 and 3 (50,000.00) billed: 6,818.18 billed ahead.
    set_estimate(actor=finance, obligation=firm.pc, total_cost=D("88000"), reason="Revised estimate")
    _, march = firm.month(MAR, costs=[(date(2026, 3, 10), "16000.00")])
    assert (march.recognized_amount, march.reclassified_amount) == (D("16281.82"), D("0"))
    [row] = deferred_revenue_rollforward(entity, date(2026, 3, 1), MAR)["rows"]
    assert (row["opening"], row["billed"], row["recognized"], row["reclassified"], row["closing"]) == (
        D("100.00"),
        D("53000.00"),
        D("16281.82"),
        D("-30000.00"),
        D("6818.18"),
    )
    [quarter] = deferred_revenue_rollforward(entity, date(2026, 1, 1), MAR)["rows"]
    assert quarter == {
        "currency": "USD",
        "opening": D("0.00"),
        "billed": D("84000.00"),
        "recognized": D("77181.82"),
        "reclassified": D("0.00"),
        "other": D("0.00"),
        "closing": D("6818.18"),
        "identity_holds": True,
    }
    assert unbilled_revenue(entity, MAR)["rows"] == []

    summary = contract_revenue_summary(firm.implementation, as_of=MAR)
    assert {
        key: summary[key]
        for key in ("price", "allocated", "billed", "recognized", "backlog", "net_position", "position")
    } == {
        "price": D("100000.00"),
        "allocated": D("100000.00"),
        "billed": D("75000.00"),
        "recognized": D("68181.82"),
        "backlog": D("31818.18"),
        "net_position": D("6818.18"),
        "position": "liability",
    }
    assert [(row["allocated"], row["recognized"], row["remaining"]) for row in summary["obligations"]] == [
        (D("100000.00"), D("68181.82"), D("31818.18"))
    ]
    assert (summary["contract_liability"], summary["contract_asset"]) == (D("6818.18"), D("0"))
    earlier = contract_revenue_summary(firm.implementation, as_of=FEB)
    assert (earlier["billed"], earlier["recognized"], earlier["net_position"], earlier["position"]) == (
        D("25000.00"),
        D("55000.00"),
        D("-30000.00"),
        "asset",
    )
    assert earlier["contract_asset"] == D("30000.00")


def test_the_rollforward_identity_holds_against_the_ledger_every_month(finance, entity, firm):
    played = {
        1: firm.month(JAN, costs=[(date(2026, 1, 20), "20000.00")]),
        2: firm.month(FEB, costs=[(date(2026, 2, 10), "24000.00")]),
        3: firm.month(MAR, costs=[(date(2026, 3, 10), "16000.00")]),
    }
    revenue = {
        month: sum(
            (
                line.credit - line.debit
                for line in JournalLine.objects.filter(
                    legal_entity=entity,
                    account__role__in=(AccountRole.REVENUE_FIXED, AccountRole.REVENUE_SUBSCRIPTION),
                    date__range=(date(2026, month, 1), end),
                )
            ),
            D(0),
        )
        for month, end in ((1, JAN), (2, FEB), (3, MAR))
    }
    for month, end in ((1, JAN), (2, FEB), (3, MAR)):
        start = date(2026, month, 1)
        [row] = deferred_revenue_rollforward(entity, start, end)["rows"]
        assert row["identity_holds"]
        assert row["opening"] + row["billed"] - row["recognized"] + row["reclassified"] == row["closing"]
        assert row["other"] == 0
        # Closing and opening agree with the journal lines themselves, recognised with the revenue accounts.
        assert row["closing"] == deferred_balance(entity, end)
        assert row["opening"] == deferred_balance(entity, start - timedelta(days=1))
        assert row["recognized"] == revenue[month]
        invoices, run = played[month]
        assert row["billed"] == sum((invoice.subtotal_amount for invoice in invoices), D(0))
        assert row["recognized"] == run.recognized_amount
        # The waterfall's recognised revenue of the month is what the GL booked as revenue.
        [total] = revenue_waterfall(entity, end)["totals"]
        assert (
            next(cell for cell in total["months"] if cell["month"] == start)["recognized"] == revenue[month]
        )


def test_reports_run_a_fixed_number_of_queries(finance, entity, firm):
    firm.month(JAN, costs=[(date(2026, 1, 20), "20000.00")])
    firm.month(FEB, costs=[(date(2026, 2, 10), "24000.00")])
    calls = {
        "waterfall": (lambda: revenue_waterfall(entity, FEB), 2),
        "rollforward": (lambda: deferred_revenue_rollforward(entity, date(2026, 1, 1), FEB), 4),
        "unbilled": (lambda: unbilled_revenue(entity, FEB), 4),
        "rpo": (lambda: rpo_disclosure(entity, FEB), 3),
        "contract": (lambda: contract_revenue_summary(firm.implementation, as_of=FEB), 4),
    }
    for name, (call, expected) in calls.items():
        with CaptureQueriesContext(connection) as queries:
            call()
        assert len(queries) == expected, name


# Remaining performance obligations


def test_rpo_splits_by_planned_lines_and_straight_line_by_day(finance, entity, roles, people, make_contract):
    """Support: 7,300.00 ratable over 2026-01-01..2027-12-31 (730 days: 10.00 a day). Build: 36,500.00
    percent complete to 2027-07-31, 20% done in January. A time-and-materials line (excluded: billed as
    delivered) is left out."""
    make_contract(
        [
            {
                "description": "Support",
                "billing_model": "fixed_fee",
                "amount": D("7300.00"),
                "revenue_method": "ratable",
                "start": date(2026, 1, 1),
                "end": date(2027, 12, 31),
            }
        ]
    )
    build, project = make_contract(
        [
            {
                "description": "Build",
                "billing_model": "fixed_fee",
                "amount": D("36500.00"),
                "revenue_method": "percent_complete",
                "start": date(2026, 1, 1),
                "end": date(2027, 7, 31),
            },
            tm_line(roles.senior, "100.00"),
        ]
    )
    pc = PerformanceObligation.objects.get(contract=build, method="percent_complete")
    set_estimate(actor=finance, obligation=pc, total_cost=D("10000"), reason="Plan")
    cost(people, project, date(2026, 1, 20), "2000.00")
    assert recognise(finance, entity, JAN).recognized_amount == D("310.00") + D("7300.00")

    report = rpo_disclosure(entity, JAN)
    assert report["horizon"] == date(2027, 1, 31)
    support, build_row = sorted(report["rows"], key=lambda row: row["total"])
    # Support: Feb 2026..Jan 2027 is 365 days (3,650.00), Feb..Dec 2027 334 days (3,340.00).
    assert (support["within_12_months"], support["after_12_months"], support["total"]) == (
        D("3650.00"),
        D("3340.00"),
        D("6990.00"),
    )
    # Build: 29,200.00 left over Feb 1 2026..Jul 31 2027 (546 days), 365 of them within the year:
    # 29,200.00 × 365 / 546 = 19,520.146… → 19,520.15; the rest 9,679.85.
    assert (build_row["within_12_months"], build_row["after_12_months"], build_row["total"]) == (
        D("19520.15"),
        D("9679.85"),
        D("29200.00"),
    )
    assert report["totals"] == [
        {
            "currency": "USD",
            "within_12_months": D("23170.15"),
            "after_12_months": D("13019.85"),
            "total": D("36190.00"),
        }
    ]
    # A later run does not change what remained on Jan 31.
    recognise(finance, entity, FEB)
    assert rpo_disclosure(entity, JAN)["totals"] == report["totals"]
    assert rpo_disclosure(entity, FEB)["totals"][0]["total"] == D("36190.00") - D("280.00")


# Bugs found in the revrec services (owner fixes; these flip to passing then)


def test_a_recognised_milestone_leaves_no_planned_line(finance, entity, make_contract, make_user):
    from core.roles import Role
    from projects.services.projects import accept_milestone, complete_milestone, create_milestone
    from revrec.choices import LineStatus
    from revrec.models import RevenueScheduleLine

    _, project = make_contract(
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
    complete_milestone(actor=admin, milestone=milestone)
    accept_milestone(actor=admin, milestone=milestone)
    assert recognise(finance, entity, date(2026, 12, 31)).recognized_amount == D("12000.00")
    lines = RevenueScheduleLine.objects.values_list("status", "amount")
    # The 12,000.00 planned for February should have become the recognised line (or been removed): the
    # schedule now shows 24,000.00 for a 12,000.00 obligation, and the waterfall schedules it again.
    assert sorted(lines) == [(LineStatus.RECOGNIZED, D("12000.00"))]


def test_a_second_run_for_a_period_end_reclassifies_what_it_adds(finance, entity, firm):
    firm.month(JAN, costs=[(date(2026, 1, 20), "20000.00")])
    firm.month(FEB, costs=[(date(2026, 2, 10), "24000.00")])  # implementation: 30,000.00 reclassified
    # More February cost arrives (48,000.00 of 80,000.00 → 60,000.00): a second February run
    # recognises 5,000.00 more.
    firm.cost(date(2026, 2, 20), "4000.00")
    again = recognise(finance, entity, FEB)
    assert again.recognized_amount == D("5000.00")
    assert again.reclassified_amount == D("5000.00")  # what this run added to the first run's 30,000.00
    unbilled = JournalLine.objects.filter(
        legal_entity=entity, account__role=AccountRole.UNBILLED_REVENUE, date__lte=FEB
    )
    # Recognised 60,000.00 against 25,000.00 billed: the contract asset is 35,000.00 on Feb 28.
    assert sum((line.debit - line.credit for line in unbilled), D(0)) == D("35000.00")


def test_a_run_in_two_currencies_does_not_add_them(finance, entity, make_contract):
    from ledger.services.setup import set_exchange_rate

    set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 1, 1), rate=D("1.10"))
    euro_client = Account.objects.create(
        name="Euro GmbH", legal_entity=entity, currency="EUR", tax_code="VAT20", payment_terms_days=30
    )
    support = {
        "description": "Support",
        "billing_model": "fixed_fee",
        "amount": D("9000.00"),
        "revenue_method": "ratable",
        "start": date(2026, 1, 1),
        "end": date(2026, 3, 31),
    }
    make_contract([support])
    make_contract([support], account=euro_client)
    run = recognise(finance, entity, JAN)
    assert {currency: D(total) for currency, total in run.totals.items()} == {
        "USD": D("3100.00"),
        "EUR": D("3100.00"),
    }
    # DESIGN.md: amounts in different currencies are never added; 3,100.00 USD + 3,100.00 EUR is not
    # 6,200.00 of anything. (Either one figure per currency, or the functional amount posted.)
    assert run.recognized_amount != D("6200.00")
