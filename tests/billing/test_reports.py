"""Billing reports, worked by hand to the cent: unbilled WIP by age, the forecast, the invoice register and a
contract's billing status."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.choices import PlanStatus
from billing.models import BillingPlan, Invoice, OverCapEntry, PlanItem
from billing.reports import billing_forecast, contract_billing_status, invoice_register, unbilled_wip
from billing.services.credit_notes import create_credit_note, release_credit_note
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.errors import ValidationFailed
from crm.models import Account
from ledger.services.ar import record_payment
from ledger.services.setup import set_exchange_rate
from projects.choices import EntryStatus
from projects.models import TimeEntry
from projects.services.projects import create_project
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def bill(finance, entity, period_end) -> list[Invoice]:
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    run = execute_billing_run(run_id=run.pk)
    return list(Invoice.objects.filter(run=run).order_by("id"))


def plain_project(account, code, currency):
    """A project without a contract (its work is WIP that no plan can bill yet)."""
    return create_project(
        actor=None,
        account=account,
        legal_entity=account.legal_entity,
        code=code,
        name=f"Project {code}",
        currency=currency,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        tasks=[{"name": "Work", "billable": True}],
    )


@pytest.fixture
def other_clients(entity, vat20):
    def client(name, currency):
        return Account.objects.create(name=name, legal_entity=entity, currency=currency, tax_code="VAT20")

    return client


def buckets(row) -> tuple:
    return tuple(row.buckets[name] for name in ("0_30", "31_60", "61_90", "over_90"))


def test_unbilled_wip_by_client_and_project_in_age_buckets(
    finance, entity, client_account, roles, people, make_contract, other_clients
):
    contract, glx = make_contract([tm_line(roles.senior, "185.00"), tm_line(roles.analyst, "120.00")])
    # Billed before the report: not WIP.
    approved_time(people.sam, glx, date(2026, 1, 5), "8", "185.00")
    approved_expense(people.sam, glx, date(2026, 1, 8), "100.00")
    bill(finance, entity, date(2026, 1, 10))
    # As of 2026-04-30. Age = 10, 36, 90 and 91 days.
    approved_time(people.sam, glx, date(2026, 4, 20), "7.50", "185.00")  # 1,387.50
    approved_time(people.ana, glx, date(2026, 3, 25), "3.33", "120.00")  # 399.60
    approved_time(people.sam, glx, date(2026, 1, 30), "0.25", "100.10")  # 25.025 → 25.03
    approved_time(people.sam, glx, date(2026, 1, 29), "2", "185.00")  # 370.00
    approved_expense(people.sam, glx, date(2026, 4, 2), "640.00", markup="10")  # 704.00
    # Two meals at 33.33 + 5% = 34.9965 → 35.00 each (as billing rebills them), 70.00, not 69.99.
    approved_expense(people.ana, glx, date(2026, 3, 1), "33.33", markup="5", category="meals")
    approved_expense(people.ana, glx, date(2026, 3, 1), "33.33", markup="5", category="meals")
    # Not WIP: held over a cap, not billable, not approved, after the report date.
    held = approved_time(people.sam, glx, date(2026, 4, 21), "3", "185.00")
    OverCapEntry.objects.create(
        time_entry=held,
        plan=BillingPlan.objects.filter(contract=contract).first(),
        hours=D("3"),
        amount=D("555"),
    )
    TimeEntry.objects.filter(
        pk__in=[
            approved_time(people.sam, glx, date(2026, 4, 22), "1", "185.00").pk,
            approved_time(people.ana, glx, date(2026, 4, 22), "1", "120.00").pk,
        ]
    ).update(billable=False)
    TimeEntry.objects.filter(pk=approved_time(people.sam, glx, date(2026, 4, 23), "1", "185.00").pk).update(
        status=EntryStatus.SUBMITTED
    )
    approved_time(people.sam, glx, date(2026, 5, 2), "4", "185.00")
    # Globex's internal project, Initech (USD) and Umbrella (EUR).
    internal = plain_project(client_account, "GLX-INT", "USD")
    approved_time(people.sam, internal, date(2026, 4, 10), "1", "185.00")
    initech = plain_project(other_clients("Initech", "USD"), "INI-1", "USD")
    approved_time(people.ana, initech, date(2026, 4, 28), "4", "120.00")
    umbrella = plain_project(other_clients("Umbrella GmbH", "EUR"), "UMB-1", "EUR")
    approved_time(people.ana, umbrella, date(2026, 4, 15), "2", "150.00")

    with CaptureQueriesContext(connection) as queries:
        by_client = unbilled_wip(entity, date(2026, 4, 30))

    assert len(queries) == 2
    rows = {(row.name, row.currency): row for row in by_client.rows}
    globex = rows[("Globex Corp", "USD")]
    assert buckets(globex) == (D("2276.50"), D("469.60"), D("25.03"), D("370.00"))
    assert (globex.hours, globex.time_amount, globex.expense_amount, globex.total) == (
        D("14.08"),
        D("2367.13"),
        D("774.00"),
        D("3141.13"),
    )
    assert buckets(rows[("Initech", "USD")]) == (D("480.00"), D("0"), D("0"), D("0"))
    assert buckets(rows[("Umbrella GmbH", "EUR")]) == (D("300.00"), D("0"), D("0"), D("0"))
    assert [(total.currency, buckets(total), total.total) for total in by_client.totals] == [
        ("EUR", (D("300.00"), D("0"), D("0"), D("0")), D("300.00")),
        ("USD", (D("2756.50"), D("469.60"), D("25.03"), D("370.00")), D("3621.13")),
    ]

    by_project = {row.key: row for row in unbilled_wip(entity, date(2026, 4, 30), group_by="project").rows}
    assert buckets(by_project[glx.pk]) == (D("2091.50"), D("469.60"), D("25.03"), D("370.00"))
    assert by_project[glx.pk].name == f"{glx.code} {glx.name}"
    assert (by_project[internal.pk].total, by_project[initech.pk].total) == (D("185.00"), D("480.00"))
    with pytest.raises(ValidationFailed):
        unbilled_wip(entity, date(2026, 4, 30), group_by="person")


def test_billing_forecast_by_month_with_wip_in_the_first(
    finance, entity, roles, people, make_contract, other_clients
):
    contract, project = make_contract(
        [
            tm_line(roles.senior, "185.00"),
            {
                "description": "Delivery",
                "billing_model": "fixed_fee",
                "amount": D("10000.00"),
                "instalments": 3,
                "start": date(2026, 1, 1),
                "end": date(2026, 3, 31),
            },
            {
                "description": "Design",
                "billing_model": "milestone",
                "milestones": [
                    {"name": "Kick-off", "due": "2026-02-10", "amount": "2000.00"},
                    {"name": "Design", "due": "2026-04-20", "amount": "8000.00"},
                    {"name": "Review", "due": "2026-05-05", "amount": "3000.00"},
                    {"name": "Build", "due": "2026-06-10", "amount": "12000.00"},
                ],
                "start": date(2026, 1, 1),
                "end": date(2026, 6, 30),
            },
            {
                "description": "Managed service",
                "billing_model": "subscription",
                "billing_period": "monthly",
                "period_amount": D("6000.00"),
                "amount": D("18000.00"),
                "cycle_day": 1,
                "start": date(2026, 4, 11),
                "end": date(2026, 7, 10),
            },
        ]
    )
    bill(finance, entity, date(2026, 1, 31))  # the first instalment (2026-01-30, 3,333.33)
    PlanItem.objects.filter(key="milestone:Review").update(cancelled=True)
    old = {"description": "Old", "billing_model": "fixed_fee", "amount": D("500.00")}
    ended, _ = make_contract([{**old, "start": date(2026, 3, 1), "end": date(2026, 3, 31)}])
    BillingPlan.objects.filter(contract=ended).update(status=PlanStatus.ENDED)
    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")  # 1,480.00 of WIP
    approved_time(people.sam, project, date(2026, 3, 20), "2", "185.00")  # after the start: not yet WIP
    umbrella = plain_project(other_clients("Umbrella GmbH", "EUR"), "UMB-1", "EUR")
    approved_time(people.ana, umbrella, date(2026, 3, 10), "2", "150.00")

    with CaptureQueriesContext(connection) as queries:
        forecast = billing_forecast(entity, date(2026, 3, 15), months=3)

    assert len(queries) == 3
    wip = {"EUR": D("300.00"), "USD": D("1480.00")}
    assert [(m.start, m.end, m.scheduled, m.time_and_materials) for m in forecast.months] == [
        # Due and unbilled: instalments of 03-01 and 03-31 (3,333.33 + 3,333.34), the overdue kick-off.
        (date(2026, 3, 15), date(2026, 3, 31), {"USD": D("8666.67")}, wip),
        # Design 8,000.00 and the first, prorated, subscription period 4,000.00.
        (date(2026, 4, 1), date(2026, 4, 30), {"USD": D("12000.00")}, {}),
        # May's period; the cancelled review is left out.
        (date(2026, 5, 1), date(2026, 5, 31), {"USD": D("6000.00")}, {}),
    ]  # fmt: skip
    assert forecast.months[0].total == {"EUR": D("300.00"), "USD": D("10146.67")}
    assert forecast.totals == {"EUR": D("300.00"), "USD": D("28146.67")}
    assert "Unbilled WIP on 2026-03-15" in forecast.time_and_materials_basis


def test_invoice_register_for_a_month(
    finance, entity, client_account, roles, people, make_contract, other_clients
):
    _, glx = make_contract([tm_line(roles.senior, "100.00")])
    euro = other_clients("Umbrella GmbH", "EUR")
    _, umb = make_contract([tm_line(roles.senior, "150.00")], account=euro, code="UMB-1")
    set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 4, 1), rate=D("1.10"))
    approved_time(people.sam, glx, date(2026, 3, 2), "10", "100.00")
    (first,) = bill(finance, entity, date(2026, 3, 31))
    first = release_invoice(actor=finance, invoice=first, issue_date=date(2026, 4, 1))  # 1,000 + 200 tax
    approved_time(people.sam, glx, date(2026, 4, 2), "5", "100.00")
    approved_time(people.sam, umb, date(2026, 4, 3), "2", "150.00")
    second, in_euro = bill(finance, entity, date(2026, 4, 14))
    in_euro = release_invoice(
        actor=finance, invoice=in_euro, issue_date=date(2026, 4, 10)
    )  # 360 EUR = 396 USD
    second = release_invoice(actor=finance, invoice=second, issue_date=date(2026, 4, 15))  # 500 + 100 tax
    record_payment(
        actor=finance,
        legal_entity=entity,
        client=client_account,
        date=date(2026, 4, 20),
        amount=D("500.00"),
        currency="USD",
        allocations=[(first.ar_item, D("500.00"))],
    )
    note = create_credit_note(
        actor=finance,
        invoice=second,
        reason="One hour was not agreed",
        lines=[{"invoice_line": second.lines.get().pk, "amount": "100.00"}],
    )
    note = release_credit_note(actor=finance, credit_note=note, issue_date=date(2026, 4, 25))  # 120.00
    approved_time(people.sam, glx, date(2026, 4, 20), "3", "100.00")
    (may,) = bill(finance, entity, date(2026, 4, 30))
    release_invoice(actor=finance, invoice=may, issue_date=date(2026, 5, 2))
    approved_time(people.sam, glx, date(2026, 5, 5), "1", "100.00")
    bill(finance, entity, date(2026, 5, 31))  # a draft: never in the register

    register = invoice_register(entity, date(2026, 4, 1), date(2026, 4, 30))

    assert [
        (r.kind, r.number, r.status, r.client_name, r.currency)
        + (r.subtotal, r.tax, r.total, r.balance, r.functional_total)
        for r in register.rows
    ] == [
        ("invoice", first.number, "partially_paid", "Globex Corp", "USD",
         D("1000.00"), D("200.00"), D("1200.00"), D("700.00"), D("1200.00")),
        ("invoice", in_euro.number, "released", "Umbrella GmbH", "EUR",
         D("300.00"), D("60.00"), D("360.00"), D("360.00"), D("396.00")),
        # Credited, not paid: a credit note lowers what is due without reading as a payment.
        ("invoice", second.number, "released", "Globex Corp", "USD",
         D("500.00"), D("100.00"), D("600.00"), D("480.00"), D("600.00")),
        ("credit_note", note.number, "released", "Globex Corp", "USD",
         D("-100.00"), D("-20.00"), D("-120.00"), D("0.00"), D("-120.00")),
    ]  # fmt: skip
    assert register.rows[0].due_date == date(2026, 5, 1)
    assert register.rows[3].invoice_number == second.number
    assert [(t.currency, t.count, t.subtotal, t.tax, t.total, t.balance) for t in register.totals] == [
        ("EUR", 1, D("300.00"), D("60.00"), D("360.00"), D("360.00")),
        ("USD", 3, D("1400.00"), D("280.00"), D("1680.00"), D("1180.00")),
    ]
    assert (register.functional_currency, register.functional_total) == ("USD", D("2076.00"))

    unpaid = invoice_register(entity, date(2026, 4, 1), date(2026, 4, 30), status="partially_paid")
    assert [row.number for row in unpaid.rows] == [first.number]
    assert [
        row.number for row in invoice_register(entity, date(2026, 4, 1), date(2026, 4, 30), "released").rows
    ] == [in_euro.number, second.number]
    with pytest.raises(ValidationFailed):
        invoice_register(entity, date(2026, 4, 1), date(2026, 4, 30), status="draft")


def test_contract_billing_status_per_plan(finance, entity, roles, people, make_contract):
    contract, project = make_contract(
        [
            tm_line(roles.senior, "100.00", cap="1500.00"),
            {
                "description": "Delivery",
                "billing_model": "fixed_fee",
                "amount": D("9000.00"),
                "instalments": 3,  # 03-31, 04-30, 05-31: 3,000.00 each
                "start": date(2026, 3, 1),
                "end": date(2026, 5, 31),
            },
            {
                "description": "Support retainer",
                "billing_model": "retainer",
                "role": roles.analyst.pk,
                "billing_period": "monthly",
                "period_amount": D("5000.00"),
                "period_hours": D("40"),
                "overage_rate": D("150.00"),
                "unused_hours": "forfeit",
                "amount": D("10000.00"),
                "start": date(2026, 3, 1),
                "end": date(2026, 4, 30),
            },
        ]
    )
    approved_time(people.sam, project, date(2026, 3, 2), "10", "100.00")
    # 33 of the 40 retainer hours: 82.5%, past the 80% alert.
    approved_time(people.ana, project, date(2026, 3, 10), "20", "125.00")
    approved_time(people.ana, project, date(2026, 3, 20), "13", "125.00")
    (march,) = bill(finance, entity, date(2026, 3, 31))

    status = contract_billing_status(contract)

    tm, fixed, retainer = status.plans
    assert (tm.billed, tm.remaining, tm.cap_consumed_percent, tm.held_over_cap) == (
        D("1000.00"),
        D("500.00"),
        D("66.67"),
        D("0.00"),
    )
    assert (fixed.billing_model, fixed.billed, fixed.remaining, fixed.cap_consumed_percent) == (
        "fixed_fee",
        D("3000.00"),
        D("6000.00"),
        None,
    )
    assert (retainer.billed, retainer.remaining) == (D("5000.00"), D("5000.00"))
    assert (
        retainer.retainer_balance_hours,
        retainer.retainer_hours_added,
        retainer.retainer_hours_used,
        retainer.retainer_alert,
    ) == (D("7"), D("40"), D("33"), True)
    assert (tm.retainer_balance_hours, tm.retainer_alert) == (None, False)

    # April: 8 h cross the cap: 5 h (500.00) bill, 3 h (300.00) are held. March's 7 h expire; April adds 40.
    approved_time(people.sam, project, date(2026, 4, 2), "8", "100.00")
    bill(finance, entity, date(2026, 4, 30))
    march = release_invoice(actor=finance, invoice=march, issue_date=date(2026, 4, 1))
    time_line = march.lines.get(plan__billing_model="time_and_materials")
    note = create_credit_note(
        actor=finance,
        invoice=march,
        reason="Goodwill",
        lines=[{"invoice_line": time_line.pk, "amount": "200.00"}],
    )
    release_credit_note(actor=finance, credit_note=note, issue_date=date(2026, 4, 5))

    with CaptureQueriesContext(connection) as queries:
        status = contract_billing_status(contract)

    assert len(queries) == 3
    tm, fixed, retainer = status.plans
    # 1,000.00 + 500.00 (the April draft counts: it holds its share of the cap) − 200.00 credited.
    assert (tm.billed, tm.remaining, tm.cap_amount, tm.cap_consumed_percent, tm.held_over_cap) == (
        D("1300.00"),
        D("200.00"),
        D("1500.00"),
        D("86.67"),
        D("300.00"),
    )
    assert (fixed.billed, fixed.remaining) == (D("6000.00"), D("3000.00"))
    assert (retainer.billed, retainer.remaining) == (D("10000.00"), D("0.00"))
    # 33 of the 80 hours added so far: no alert.
    assert (
        retainer.retainer_balance_hours,
        retainer.retainer_hours_added,
        retainer.retainer_hours_used,
        retainer.retainer_alert,
    ) == (D("40"), D("80"), D("33"), False)
    assert (status.billed, status.remaining) == (D("17300.00"), D("3200.00"))
