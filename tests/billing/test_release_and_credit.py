"""Release refusals (each with its code, nothing written), draft review, and credit notes that return
exactly the credited entries to unbilled so they bill again once."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import DocumentSequence, Invoice, LineAdjustment, TimeEntryBilling
from billing.selectors import effective_status, invoices
from billing.services.credit_notes import create_credit_note, release_credit_note
from billing.services.invoices import (
    delete_draft_invoice,
    edit_invoice_line,
    release_invoice,
    release_invoices,
    remove_time_entries,
    void_invoice,
)
from billing.services.runs import execute_billing_run, start_billing_run
from core.errors import DomainError, InvalidTransition, ValidationFailed
from ledger.choices import AccountRole
from ledger.models import ArItem, FiscalPeriod, JournalEntry, JournalLine
from tests.billing.conftest import approved_time, tm_line
from tests.ledger.close_books import mark_closed

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(finance, entity, roles, people, make_contract):
    """A draft for 3 entries: 10 h + 6 h + 4 h of Senior time at 150.00 = 3,000.00 + 20% tax."""
    _, project = make_contract([tm_line(roles.senior, "150.00")])
    entries = [
        approved_time(people.sam, project, date(2026, 3, day), hours, "150.00")
        for day, hours in ((2, "10"), (3, "6"), (4, "4"))
    ]
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    invoice = Invoice.objects.get(run=run)
    invoice.entries = entries
    return invoice


def rebill(finance, entity, period_end=date(2026, 3, 31)):
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    execute_billing_run(run_id=run.pk)
    return Invoice.objects.filter(run=run).first()


def test_release_refusals_write_nothing(finance, draft):
    line = draft.lines.get()
    with pytest.raises(ValidationFailed) as no_reason:
        edit_invoice_line(actor=finance, line=line, unit_price=D("0"), reason="  ")
    assert no_reason.value.fields == {"reason": ["Required."]}
    edit_invoice_line(actor=finance, line=line, unit_price=D("0"), reason="Goodwill")
    with pytest.raises(ValidationFailed) as zero:
        release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1))
    assert zero.value.code == "non_positive_total"
    assert not JournalEntry.objects.exists() and not DocumentSequence.objects.exists()
    empty_draft = Invoice.objects.create(
        legal_entity=draft.legal_entity, account=draft.account, currency="USD"
    )
    with pytest.raises(ValidationFailed) as empty:
        release_invoice(actor=finance, invoice=empty_draft, issue_date=date(2026, 4, 1))
    assert empty.value.code == "no_lines"


def test_release_into_a_closed_period_or_without_a_rate_is_refused(finance, entity, draft):
    period = FiscalPeriod.objects.get(legal_entity=entity, start=date(2026, 4, 1))
    mark_closed(period, finance)
    with pytest.raises(DomainError) as closed:
        release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 2))
    assert closed.value.code == "period_closed"
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, "")
    assert not DocumentSequence.objects.exists()
    Invoice.objects.filter(pk=draft.pk).update(currency="EUR")
    with pytest.raises(DomainError) as no_rate:
        release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 5, 4))
    assert no_rate.value.code == "missing_exchange_rate"
    assert not JournalEntry.objects.exists()


def test_an_edit_is_a_write_down_with_its_reason(finance, draft):
    line = draft.lines.get()
    edit_invoice_line(actor=finance, line=line, quantity=D("18"), reason="Two hours of onboarding not billed")
    draft.refresh_from_db()
    assert (draft.subtotal_amount, draft.tax_amount, draft.total_amount) == (
        D("2700.00"),
        D("540.00"),
        D("3240.00"),
    )
    adjustment = LineAdjustment.objects.get()
    assert (adjustment.amount_change, adjustment.reason) == (
        D("-300.00"),
        "Two hours of onboarding not billed",
    )


def test_removing_entries_and_deleting_a_draft_return_work_to_unbilled(finance, entity, draft):
    remove_time_entries(
        actor=finance, invoice=draft, entry_ids=[draft.entries[2].pk], reason="Bill next month"
    )
    line = draft.lines.get()
    assert (line.quantity, line.amount) == (D("16"), D("2400.00"))
    assert not TimeEntryBilling.objects.filter(time_entry=draft.entries[2]).exists()
    delete_draft_invoice(actor=finance, invoice=draft, reason="Start over")
    assert not Invoice.objects.exists() and not TimeEntryBilling.objects.exists()
    again = rebill(finance, entity)
    assert again.subtotal_amount == D("3000.00")


def test_a_credit_note_returns_exactly_its_entries_which_then_bill_once(finance, entity, draft):
    invoice = release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1))
    assert (invoice.number, invoice.total_amount) == ("US-2026-000001", D("3600.00"))
    six_hours = draft.entries[1]
    with pytest.raises(ValidationFailed):
        create_credit_note(actor=finance, invoice=invoice, reason="", time_entries=[six_hours.pk])
    note = create_credit_note(
        actor=finance, invoice=invoice, reason="Billed the wrong week", time_entries=[six_hours.pk]
    )
    assert (note.subtotal_amount, note.tax_amount, note.total_amount) == (
        D("900.00"),
        D("180.00"),
        D("1080.00"),
    )
    assert TimeEntryBilling.objects.filter(time_entry=six_hours).exists()  # only a release returns it
    note = release_credit_note(actor=finance, credit_note=note, issue_date=date(2026, 4, 3))
    assert (note.status, note.number) == (CreditNoteStatus.RELEASED, "US-2026-CN-000001")
    posted = sorted(
        (line.account.role, line.debit, line.credit)
        for line in JournalLine.objects.filter(entry=note.journal_entry).select_related("account")
    )
    assert posted == sorted(
        [
            (AccountRole.AR, D("0"), D("1080.00")),
            (AccountRole.DEFERRED_REVENUE, D("900.00"), D("0")),
            (AccountRole.TAX_PAYABLE, D("180.00"), D("0")),
        ]
    )
    invoice = invoices().get(pk=invoice.pk)
    assert (invoice.effective_status, invoice.balance) == (InvoiceStatus.RELEASED, D("2520.00"))
    assert not TimeEntryBilling.objects.filter(time_entry=six_hours).exists()
    # The returned 6 h bill again in the next run, once.
    again = rebill(finance, entity)
    assert [(line.quantity, line.amount) for line in again.lines.all()] == [(D("6"), D("900.00"))]
    assert rebill(finance, entity) is None
    # The same entries cannot be credited twice: they are no longer on the first invoice.
    with pytest.raises(ValidationFailed):
        create_credit_note(actor=finance, invoice=invoice, reason="Again", time_entries=[six_hours.pk])


def test_void_credits_everything_and_returns_all_work(finance, entity, draft):
    invoice = release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1))
    with pytest.raises(ValidationFailed):
        void_invoice(actor=finance, invoice=invoice, reason=" ")
    invoice = void_invoice(actor=finance, invoice=invoice, reason="Wrong client")
    assert invoice.status == InvoiceStatus.VOID
    assert effective_status(invoice) == InvoiceStatus.VOID
    assert ArItem.objects.get(pk=invoice.ar_item_id).open_amount == 0
    assert not TimeEntryBilling.objects.exists()
    with pytest.raises(InvalidTransition):
        void_invoice(actor=finance, invoice=invoice, reason="Twice")
    assert rebill(finance, entity).subtotal_amount == D("3000.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_releases_number_and_post_once(finance, draft):
    barrier = threading.Barrier(2)
    outcomes = []

    def release():
        try:
            barrier.wait(timeout=10)
            outcomes.append(release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1)).number)
        except InvalidTransition as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["US-2026-000001", "invalid_transition"]
    assert JournalEntry.objects.count() == 1
    assert DocumentSequence.objects.get().next_number == 2


def test_a_batch_release_numbers_the_good_drafts_in_order_and_reports_the_refused(
    finance, entity, roles, people, make_contract, draft
):
    _, project = make_contract([tm_line(roles.analyst, "100.00")], code="SECOND")
    approved_time(people.ana, project, date(2026, 3, 2), "5", "100.00")
    second = rebill(finance, entity)
    empty = Invoice.objects.create(legal_entity=entity, account=draft.account, currency="USD")

    result = release_invoices(actor=finance, invoices=[second, empty, draft], issue_date=date(2026, 4, 1))

    assert [(invoice.pk, invoice.number) for invoice in result.released] == [
        (draft.pk, "US-2026-000001"),
        (second.pk, "US-2026-000002"),
    ]
    assert {pk: error.code for pk, error in result.refused.items()} == {empty.pk: "no_lines"}
    assert JournalEntry.objects.count() == ArItem.objects.count() == 2
    assert {item.amount for item in ArItem.objects.all()} == {D("3600.00"), D("600.00")}


def test_a_pending_draft_credit_note_blocks_void_until_deleted(finance, draft):
    from billing.services.credit_notes import delete_draft_credit_note

    invoice = release_invoice(actor=finance, invoice=draft, issue_date=date(2026, 4, 1))
    line = invoice.lines.get()
    note = create_credit_note(
        actor=finance,
        invoice=invoice,
        reason="Goodwill",
        lines=[{"invoice_line": line.pk, "amount": D("100")}],
    )
    with pytest.raises(InvalidTransition) as pending:
        void_invoice(actor=finance, invoice=invoice, reason="Wrong client")
    assert f"#{note.pk}" in pending.value.detail
    delete_draft_credit_note(actor=finance, credit_note=note)
    assert void_invoice(actor=finance, invoice=invoice, reason="Wrong client").status == InvoiceStatus.VOID


def test_an_edited_time_line_says_what_it_bills(finance, draft):
    line = draft.lines.get()
    edit_invoice_line(actor=finance, line=line, quantity=D("19.5"), reason="Half an hour was internal")
    line.refresh_from_db()
    assert (line.description, line.amount) == ("Senior: 19.5 h at 150.00", D("2925.00"))
