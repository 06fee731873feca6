"""Time and materials, worked by hand to the cent: the issue's example, its ledger entry, and caps."""

from datetime import date
from decimal import Decimal

import pytest

from billing.choices import HoldStatus, InvoiceStatus, RunStatus
from billing.models import BillingRun, Invoice, OverCapEntry, TimeEntryBilling
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from ledger.choices import AccountRole
from ledger.models import JournalLine
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def run_billing(finance, entity, period_end, **scope) -> BillingRun:
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end, **scope)
    return execute_billing_run(run_id=run.pk)


def test_the_issues_time_and_materials_invoice_and_its_ledger_entry(
    finance, entity, roles, people, make_contract
):
    contract, project = make_contract([tm_line(roles.senior, "185.00"), tm_line(roles.analyst, "120.00")])
    # Senior 38.50 h at 185.00 over several days; Analyst 52.25 h at 120.00.
    for day, hours in ((date(2026, 3, 2), "8.00"), (date(2026, 3, 3), "7.50"), (date(2026, 3, 4), "23.00")):
        approved_time(people.sam, project, day, hours, "185.00")
    for day, hours in ((date(2026, 3, 2), "8.25"), (date(2026, 3, 3), "20.00"), (date(2026, 3, 5), "24.00")):
        approved_time(people.ana, project, day, hours, "120.00")
    approved_expense(people.sam, project, date(2026, 3, 4), "640.00", markup="10", category="lodging")

    run = run_billing(finance, entity, date(2026, 3, 31))

    assert run.status == RunStatus.COMPLETED
    assert (run.invoices_created, run.entries_billed, run.expenses_billed) == (1, 6, 1)
    invoice = Invoice.objects.get(run=run)
    lines = [(line.description, line.quantity, line.unit_price, line.amount) for line in invoice.lines.all()]
    assert lines == [
        ("Senior: 38.50 h at 185.00", D("38.50"), D("185.00"), D("7122.50")),
        ("Analyst: 52.25 h at 120.00", D("52.25"), D("120.00"), D("6270.00")),
        ("Expenses: Lodging (1 item)", D("1"), D("704.00"), D("704.00")),
    ]
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (
        D("14096.50"),
        D("2819.30"),
        D("16915.80"),
    )
    assert TimeEntryBilling.objects.filter(invoice_line__invoice=invoice).count() == 6

    invoice = release_invoice(actor=finance, invoice=invoice, issue_date=date(2026, 4, 1))

    assert invoice.status == InvoiceStatus.RELEASED
    assert invoice.number == "US-2026-000001"
    assert invoice.due_date == date(2026, 5, 1)
    posted = sorted(
        (line.account.role, line.debit, line.credit, line.project_id)
        for line in JournalLine.objects.filter(entry=invoice.journal_entry).select_related("account")
    )
    assert posted == sorted(
        [
            (AccountRole.AR, D("16915.80"), D("0"), None),
            (AccountRole.DEFERRED_REVENUE, D("0"), D("7122.50"), project.pk),
            (AccountRole.DEFERRED_REVENUE, D("0"), D("6270.00"), project.pk),
            (AccountRole.DEFERRED_REVENUE, D("0"), D("704.00"), project.pk),
            (AccountRole.TAX_PAYABLE, D("0"), D("2819.30"), None),
        ]
    )


def test_a_rerun_bills_only_what_is_new(finance, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    first = run_billing(finance, entity, date(2026, 3, 31))
    again = run_billing(finance, entity, date(2026, 3, 31))
    assert (first.invoices_created, again.invoices_created, again.entries_billed) == (1, 0, 0)
    approved_time(people.sam, project, date(2026, 3, 3), "2", "185.00")
    third = run_billing(finance, entity, date(2026, 3, 31))
    assert (third.invoices_created, third.entries_billed) == (1, 1)
    assert Invoice.objects.get(run=third).total_amount == D("444.00")  # 2 h × 185.00 + 20% tax


def test_a_cap_bills_up_to_it_and_holds_the_rest(finance, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "100.00", cap="10000.00")])
    for day in range(1, 9):  # 80 h × 100.00 = 8,000.00 already billed
        approved_time(people.sam, project, date(2026, 2, day + 1), "10", "100.00")
    first = run_billing(finance, entity, date(2026, 2, 28))
    assert Invoice.objects.get(run=first).subtotal_amount == D("8000.00")
    # 3,500.00 of new value: 15 h, 15 h and 5 h at 100.00.
    a = approved_time(people.sam, project, date(2026, 3, 2), "15", "100.00")
    b = approved_time(people.sam, project, date(2026, 3, 3), "15", "100.00")
    c = approved_time(people.sam, project, date(2026, 3, 4), "5", "100.00")

    second = run_billing(finance, entity, date(2026, 3, 31))

    invoice = Invoice.objects.get(run=second)
    assert invoice.subtotal_amount == D("2000.00")
    assert [line.amount for line in invoice.lines.all()] == [D("1500.00"), D("500.00")]
    held = {hold.time_entry_id: (hold.hours, hold.amount) for hold in OverCapEntry.objects.all()}
    assert held == {b.pk: (D("10.00"), D("1000.00")), c.pk: (D("5"), D("500.00"))}
    assert sum(amount for _, amount in held.values()) == D("1500.00")
    assert TimeEntryBilling.objects.get(time_entry=b).amount == D("500.00")
    assert TimeEntryBilling.objects.filter(time_entry=a, amount__isnull=True).exists()
    assert {hold.status for hold in OverCapEntry.objects.all()} == {HoldStatus.HELD}
    assert any(flag["code"] == "over_cap" for flag in invoice.flags)
