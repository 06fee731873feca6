"""After March is closed (through its checklist), every write path dated in March is refused with
`period_closed` and changes nothing: time entries (record, edit, submit, approve), expenses (record, edit,
submit, approve, reject), invoice and credit note release, the revenue run, manual journal entries,
payments, allocations and write-offs. The API refuses the same way for time, invoice release, the revenue
run and journal entries.
"""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

from datetime import date
from decimal import Decimal

import pytest

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import Invoice
from billing.services.credit_notes import create_credit_note, release_credit_note
from billing.services.runs import execute_billing_run, start_billing_run
from core.errors import DomainError
from core.models import AuditEvent
from core.roles import Role
from ledger.choices import PeriodStatus
from ledger.models import Allocation, ArItem, GLAccount, JournalEntry, Payment, WriteOffRequest
from ledger.services.ar import allocate, record_payment, request_write_off
from ledger.services.close import close_period
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from projects.choices import EntryStatus
from projects.models import Expense, TimeEntry
from projects.services.expenses import (
    approve_expenses,
    create_expense,
    reject_expense,
    submit_expense,
    update_expense,
)
from projects.services.time import approve_time_entries, record_time, submit_timesheet, update_time_entry
from revrec.models import RevenueRun
from revrec.services.runs import start_revenue_run
from tests.billing.conftest import approved_expense, approved_time
from tests.ledger.close_books import (  # noqa: F401 - fixtures
    MARCH_END,
    client_account,
    entity,
    finance,
    make_contract,
    march,
    people,
    roles,
    vat20,
    worked,
)

D = Decimal
pytestmark = pytest.mark.django_db
MID_MARCH = date(2026, 3, 16)


def snapshot():
    """What any refused write would have changed."""
    return {
        "entries": JournalEntry.objects.count(),
        "ar_items": ArItem.objects.count(),
        "allocations": Allocation.objects.count(),
        "time": sorted(TimeEntry.objects.values_list("pk", "date", "hours", "status")),
        "expenses": sorted(Expense.objects.values_list("pk", "date", "amount", "status")),
        "invoices": sorted(Invoice.objects.values_list("pk", "status", "number")),
        "revenue_runs": RevenueRun.objects.count(),
        "payments": Payment.objects.count(),
        "write_offs": WriteOffRequest.objects.count(),
        "audit": AuditEvent.objects.exclude(action__in=("period.closed",)).count(),
    }


def refused(call):
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == "period_closed", caught.value.detail
    assert snapshot() == before
    return caught.value


@pytest.fixture
def closed(march):
    """March closed, with a payment of 500.00 received on 25 March and not yet applied, and work left
    in March that could only have been there before the close (drafts, a submitted entry)."""
    march.payment = record_payment(
        actor=march.finance,
        legal_entity=march.entity,
        client=march.invoice.account,
        date=date(2026, 3, 25),
        amount=D("500.00"),
        currency="USD",
        allocations=[],
    )
    close_period(actor=march.finance, period=march.period, reason="March final")
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.CLOSED
    return march


def test_recording_time_in_march_is_refused_by_the_service_and_the_api(closed, client_for):
    task = closed.project.tasks.first()
    error = refused(
        lambda: record_time(
            actor=closed.admin,
            person=closed.people.ana,
            project=closed.project,
            task=task,
            date=MID_MARCH,
            hours=D("2"),
        )
    )
    assert error.fields == {"date": [error.detail]}
    api = client_for(Role.ADMIN)
    before = snapshot()
    response = api.post(
        "/api/v1/time-entries/",
        {"person": closed.people.ana.pk, "project": closed.project.pk, "task": task.pk,
         "date": "2026-03-16", "hours": "2"},
        format="json",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "period_closed")
    assert snapshot() == before
    # April is open: the same entry a day after the month is recorded.
    april = record_time(
        actor=closed.admin, person=closed.people.ana, project=closed.project, task=task,
        date=date(2026, 4, 1), hours=D("2"),
    )  # fmt: skip
    assert april.status == EntryStatus.DRAFT


def test_march_time_cannot_be_edited_moved_in_submitted_or_approved(closed):
    # Left from before the close (the checklist refuses a close while they exist).
    draft = approved_time(closed.people.ana, closed.project, MID_MARCH, "3", "150.00")
    submitted = approved_time(closed.people.sam, closed.project, date(2026, 3, 17), "2", "150.00")
    TimeEntry.objects.filter(pk=draft.pk).update(status=EntryStatus.DRAFT)
    TimeEntry.objects.filter(pk=submitted.pk).update(status=EntryStatus.SUBMITTED)
    april = approved_time(closed.people.ana, closed.project, date(2026, 4, 6), "1", "150.00")
    TimeEntry.objects.filter(pk=april.pk).update(status=EntryStatus.DRAFT)

    refused(lambda: update_time_entry(actor=closed.admin, entry=draft, hours=D("4")))
    refused(lambda: update_time_entry(actor=closed.admin, entry=draft, date=date(2026, 4, 7)))
    refused(lambda: update_time_entry(actor=closed.admin, entry=april, date=MID_MARCH))
    refused(lambda: submit_timesheet(actor=closed.admin, timesheet=draft.timesheet))
    refused(lambda: approve_time_entries(actor=closed.admin, entries=[submitted]))


def test_march_expenses_cannot_be_recorded_edited_submitted_approved_or_rejected(closed):
    refused(
        lambda: create_expense(
            actor=closed.admin, person=closed.people.sam, project=closed.project, date=MID_MARCH,
            category="lodging", amount=D("120.00"), currency="USD",
        )
    )  # fmt: skip
    draft = approved_expense(closed.people.sam, closed.project, MID_MARCH, "80.00")
    Expense.objects.filter(pk=draft.pk).update(status=EntryStatus.DRAFT)
    refused(lambda: update_expense(actor=closed.admin, expense=draft, amount=D("90.00")))
    refused(lambda: submit_expense(actor=closed.admin, expense=draft))
    Expense.objects.filter(pk=draft.pk).update(status=EntryStatus.SUBMITTED)
    refused(lambda: approve_expenses(actor=closed.admin, expenses=[draft]))
    refused(lambda: reject_expense(actor=closed.admin, expense=draft, reason="Wrong project"))


@pytest.fixture
def april_draft(closed):
    """April's work drafted on an invoice by a run to 30 April."""
    approved_time(closed.people.sam, closed.project, date(2026, 4, 2), "4", "150.00")
    run = start_billing_run(actor=closed.finance, legal_entity=closed.entity, period_end=date(2026, 4, 30))
    execute_billing_run(run_id=run.pk)
    return Invoice.objects.get(run=run)


def test_releasing_an_invoice_into_march_is_refused_by_the_service_and_the_api(
    closed, april_draft, client_for
):
    from billing.services.invoices import release_invoice

    refused(lambda: release_invoice(actor=closed.finance, invoice=april_draft, issue_date=MARCH_END))
    before = snapshot()
    response = client_for(Role.FINANCE).post(
        f"/api/v1/invoices/{april_draft.pk}/release/", {"issue_date": "2026-03-31"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "period_closed")
    assert snapshot() == before
    april_draft.refresh_from_db()
    assert (april_draft.status, april_draft.number) == (InvoiceStatus.DRAFT, "")


def test_releasing_a_credit_note_into_march_is_refused(closed):
    note = create_credit_note(
        actor=closed.finance, invoice=closed.invoice, reason="Billed twice", time_entries=[closed.entry.pk]
    )
    refused(lambda: release_credit_note(actor=closed.finance, credit_note=note, issue_date=MARCH_END))
    note.refresh_from_db()
    assert (note.status, note.number) == (CreditNoteStatus.DRAFT, "")


def test_the_march_revenue_run_is_refused_by_the_service_and_the_api(closed, client_for):
    refused(lambda: start_revenue_run(actor=closed.finance, legal_entity=closed.entity, period_end=MARCH_END))
    before = snapshot()
    response = client_for(Role.FINANCE).post(
        "/api/v1/revenue-runs/", {"legal_entity": closed.entity.pk, "period_end": "2026-03-31"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "period_closed")
    assert snapshot() == before


def test_a_manual_entry_in_march_is_refused_by_the_service_and_the_api(closed, client_for):
    accounts = {a.code: a for a in GLAccount.objects.filter(legal_entity=closed.entity)}
    refused(
        lambda: post_manual_entry(
            actor=closed.finance,
            legal_entity=closed.entity,
            date=MID_MARCH,
            memo="Late accrual",
            lines=[
                LineSpec(account=accounts["6100"], currency="USD", debit=D("100.00")),
                LineSpec(account=accounts["2300"], currency="USD", credit=D("100.00")),
            ],
        )
    )
    before = snapshot()
    response = client_for(Role.FINANCE).post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": closed.entity.pk,
            "date": "2026-03-16",
            "memo": "Late accrual",
            "lines": [
                {"account": accounts["6100"].pk, "debit": "100.00"},
                {"account": accounts["2300"].pk, "credit": "100.00"},
            ],
        },
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "period_closed")
    assert response.json()["fields"] == {"date": ["2026-03 is closed."]}
    assert snapshot() == before


def test_payments_allocations_and_write_offs_dated_in_march_are_refused(closed):
    invoice_item = ArItem.objects.get(pk=closed.invoice.ar_item_id)
    refused(
        lambda: record_payment(
            actor=closed.finance, legal_entity=closed.entity, client=closed.invoice.account,
            date=MID_MARCH, amount=D("100.00"), currency="USD", allocations=[],
        )
    )  # fmt: skip
    # Applying March's payment on 31 March moves March's open amounts, though it posts nothing.
    refused(
        lambda: allocate(
            actor=closed.finance, credit_item=closed.payment.ar_item, debit_item=invoice_item,
            amount=D("500.00"), on=MARCH_END,
        )
    )  # fmt: skip
    refused(
        lambda: request_write_off(actor=closed.finance, ar_item=invoice_item, reason="Goodwill", on=MARCH_END)
    )
    # Dated in April, the same allocation goes through.
    allocation = allocate(
        actor=closed.finance, credit_item=closed.payment.ar_item, debit_item=invoice_item,
        amount=D("500.00"), on=date(2026, 4, 1),
    )  # fmt: skip
    invoice_item.refresh_from_db()
    assert (allocation.amount, invoice_item.open_amount) == (D("500.00"), D("1300.00"))
