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


def held_over_cap(finance, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "100.00", cap="1000.00")])
    entries = [approved_time(people.sam, project, date(2026, 3, day), "6", "100.00") for day in (2, 3)]
    run = run_billing(finance, entity, date(2026, 3, 31))
    return contract, project, entries, Invoice.objects.get(run=run)


def test_a_change_order_raising_the_cap_bills_the_held_time_next(
    finance, entity, roles, people, make_contract
):
    from crm.services.contracts import amend_contract, current_lines

    contract, project, entries, first = held_over_cap(finance, entity, roles, people, make_contract)
    assert first.subtotal_amount == D("1000.00")  # 6 h + 4 of 6 h; 2 h (200.00) held
    assert OverCapEntry.objects.get().amount == D("200.00")
    line = current_lines(contract).get()
    amend_contract(
        actor=None,
        contract=contract,
        reason="Change order 1",
        lines=[{"id": line.pk, "cap_amount": D("2000.00")}],
    )
    assert OverCapEntry.objects.get().status == HoldStatus.RELEASED
    run = run_billing(finance, entity, date(2026, 3, 31))
    invoice = Invoice.objects.get(run=run)
    assert [line.amount for line in invoice.lines.all()] == [D("200.00")]
    assert OverCapEntry.objects.get().status == HoldStatus.BILLED
    assert run_billing(finance, entity, date(2026, 3, 31)).invoices_created == 0


def test_held_time_can_be_written_off_with_a_reason(finance, entity, roles, people, make_contract):
    from billing.services.over_cap import write_off_over_cap
    from core.errors import ValidationFailed
    from projects.choices import EntryStatus

    contract, project, entries, first = held_over_cap(finance, entity, roles, people, make_contract)
    later = approved_time(people.sam, project, date(2026, 3, 4), "3", "100.00")
    run_billing(finance, entity, date(2026, 3, 31))  # wholly over the cap now
    with pytest.raises(ValidationFailed):
        write_off_over_cap(actor=finance, entry_ids=[later.pk], reason="")
    write_off_over_cap(actor=finance, entry_ids=[entries[1].pk, later.pk], reason="Agreed with the client")
    later.refresh_from_db()
    entries[1].refresh_from_db()
    assert later.status == EntryStatus.WRITTEN_OFF
    assert entries[1].status == EntryStatus.APPROVED  # its first 4 h stay billed
    assert set(OverCapEntry.objects.values_list("status", flat=True)) == {HoldStatus.WRITTEN_OFF}
    assert run_billing(finance, entity, date(2026, 3, 31)).invoices_created == 0


def test_an_invoice_in_another_currency_posts_functional_amounts_at_the_issue_date_rate(
    finance, entity, vat20, roles, people, make_contract
):
    from crm.models import Account
    from ledger.services.setup import set_exchange_rate

    client = Account.objects.create(
        name="Initech GmbH", legal_entity=entity, currency="EUR", tax_code="VAT20"
    )
    contract, project = make_contract([tm_line(roles.senior, "150.00")], account=client)
    approved_time(people.sam, project, date(2026, 3, 2), "10", "150.00")
    set_exchange_rate(
        actor=finance, from_currency="EUR", to_currency="USD", on=date(2026, 3, 31), rate=D("1.085")
    )
    invoice = Invoice.objects.get(run=run_billing(finance, entity, date(2026, 3, 31)))
    assert (invoice.currency, invoice.total_amount) == ("EUR", D("1800.00"))
    invoice = release_invoice(actor=finance, invoice=invoice, issue_date=date(2026, 4, 1))
    assert (invoice.rate, invoice.functional_total_amount) == (D("1.085"), D("1953.00"))
    lines = JournalLine.objects.filter(entry=invoice.journal_entry)
    assert (
        sum(line.functional_debit for line in lines)
        == sum(line.functional_credit for line in lines)
        == D("1953.00")
    )


def test_a_client_over_its_credit_limit_is_flagged(
    finance, entity, roles, people, make_contract, client_account
):
    from core.errors import ValidationFailed
    from crm.services.accounts import set_credit_limit

    with pytest.raises(ValidationFailed):
        set_credit_limit(actor=finance, account=client_account, credit_limit=D("1000.00"), reason="")
    set_credit_limit(actor=finance, account=client_account, credit_limit=D("1000.00"), reason="Slow payer")
    contract, project = make_contract([tm_line(roles.senior, "100.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "9", "100.00")  # 900.00 + 20% = 1,080.00
    invoice = Invoice.objects.get(run=run_billing(finance, entity, date(2026, 3, 31)))
    assert [flag["code"] for flag in invoice.flags] == ["credit_limit"]
