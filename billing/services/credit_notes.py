"""Credit notes: against specific invoice lines and, for time, specific entries, which return to unbilled
(or are written off) when the note is released, so work is never billed twice nor lost."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import (
    CreditedEntry,
    CreditNote,
    CreditNoteLine,
    ExpenseBilling,
    Invoice,
    InvoiceLine,
    PlanItem,
    TimeEntryBilling,
)
from billing.services.invoices import _reason, lock_invoice, revenue_lines, tax_lines
from billing.services.numbering import next_document_number
from billing.services.tax import tax_codes_of, tax_summary
from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import ArItemKind
from ledger.services.ar import allocate, post_receivable
from projects.choices import EntryStatus
from projects.models import Expense, TimeEntry

ZERO = Decimal(0)
CREDITABLE = (InvoiceStatus.RELEASED, InvoiceStatus.SENT)
CREDIT_DOCUMENT = "billing.credit_note"


def credited_so_far(line_ids) -> dict[int, Decimal]:
    """What credit notes (drafts included) already take back of each invoice line."""
    return dict(
        CreditNoteLine.objects.filter(invoice_line_id__in=line_ids)
        .values("invoice_line_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_line_id", "total")
    )


def _entry_amounts(links, line: InvoiceLine, currency: str) -> Decimal:
    explicit = sum((link.amount for link in links if link.amount is not None), ZERO)
    whole = sum((link.time_entry.hours for link in links if link.amount is None), ZERO)
    return quantize(explicit + whole * line.unit_price, currency)


@transaction.atomic
def create_credit_note(
    *, actor, invoice: Invoice, reason: str, lines=(), time_entries=(), rebill: bool = True
) -> CreditNote:
    """A draft credit note. `lines`: [{"invoice_line": id, "amount" or "quantity"}] (a line credited in
    full returns all its work); `time_entries`: ids of entries on the invoice to take back exactly."""
    require_role(actor, Role.FINANCE)
    reason = _reason(reason)
    invoice = lock_invoice(invoice)
    if invoice.status not in CREDITABLE:
        raise InvalidTransition(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; "
            "only a released invoice can be credited."
        )
    invoice_lines = {line.pk: line for line in invoice.lines.all()}
    wanted: dict[int, dict] = {}
    problems: dict[str, list[str]] = {}
    for index, spec in enumerate(lines or []):
        line = invoice_lines.get(int(spec.get("invoice_line") or 0))
        if line is None:
            problems[f"lines.{index}.invoice_line"] = ["Not a line of this invoice."]
            continue
        if spec.get("amount") not in (None, ""):
            amount = quantize(Decimal(str(spec["amount"])), invoice.currency)
        elif spec.get("quantity") not in (None, ""):
            amount = quantize(Decimal(str(spec["quantity"])) * line.unit_price, invoice.currency)
        else:
            amount = line.amount
        wanted.setdefault(line.pk, {"line": line, "amount": ZERO, "entries": []})["amount"] += amount
    entry_ids = sorted({int(pk) for pk in time_entries or []})
    links = list(
        TimeEntryBilling.objects.filter(
            time_entry_id__in=entry_ids, invoice_line__invoice=invoice
        ).select_related("time_entry")
    )
    missing = sorted(set(entry_ids) - {link.time_entry_id for link in links})
    if missing:
        problems["time_entries"] = [f"Not billed on this invoice: {', '.join(map(str, missing))}."]
    by_line = defaultdict(list)
    for link in links:
        by_line[link.invoice_line_id].append(link)
    for line_id, line_links in by_line.items():
        line = invoice_lines[line_id]
        slot = wanted.setdefault(line_id, {"line": line, "amount": ZERO, "entries": []})
        slot["amount"] += _entry_amounts(line_links, line, invoice.currency)
        slot["entries"] += line_links
    if not wanted and not problems:
        problems["lines"] = ["Name the lines or time entries to credit."]
    already = credited_so_far(list(wanted))
    for line_id, slot in wanted.items():
        line, amount = slot["line"], slot["amount"]
        left = line.amount - already.get(line_id, ZERO)
        if amount <= 0:
            problems[f"line.{line_id}"] = ["A credit must be more than zero."]
        elif amount > left:
            problems[f"line.{line_id}"] = [
                f"{line.description}: {amount:.2f} is more than the "
                f"{left:.2f} {invoice.currency} left to credit."
            ]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    note = CreditNote.objects.create(
        invoice=invoice,
        legal_entity_id=invoice.legal_entity_id,
        reason=reason,
        rebill=rebill,
        currency=invoice.currency,
        created_by=actor,
    )
    outcome = "unbilled" if rebill else "written_off"
    credited = []
    for line_id, slot in sorted(wanted.items()):
        line, amount = slot["line"], slot["amount"]
        full = amount == line.amount - already.get(line_id, ZERO)
        quantity = line.quantity if full else (amount / line.unit_price if line.unit_price else Decimal(1))
        credit_line = CreditNoteLine.objects.create(
            credit_note=note,
            invoice_line=line,
            description=f"Credit: {line.description}"[:300],
            quantity=quantity.quantize(Decimal("0.0001")),
            unit_price=line.unit_price,
            amount=amount,
            tax_code=line.tax_code,
        )
        entries = slot["entries"]
        if full and not entries:
            entries = list(TimeEntryBilling.objects.filter(invoice_line=line).select_related("time_entry"))
            credited += [
                CreditedEntry(
                    credit_line=credit_line, expense_id=link.expense_id, amount=link.amount, outcome=outcome
                )
                for link in ExpenseBilling.objects.filter(invoice_line=line)
            ]
            credited += [
                CreditedEntry(credit_line=credit_line, plan_item=item, amount=item.amount, outcome=outcome)
                for item in PlanItem.objects.filter(invoice_line=line)
            ]
        credited += [
            CreditedEntry(
                credit_line=credit_line,
                time_entry_id=link.time_entry_id,
                hours=link.billed_hours if link.billed_hours is not None else link.time_entry.hours,
                amount=link.amount if link.amount is not None else link.time_entry.hours * line.unit_price,
                outcome=outcome,
            )
            for link in entries
        ]
    CreditedEntry.objects.bulk_create(credited)
    _totals(note)
    audit.record(
        actor=actor,
        action="credit_note.created",
        obj=note,
        changes={
            "invoice": invoice.number,
            "total": note.total_amount,
            "entries": len(credited),
            "rebill": rebill,
        },
        reason=reason,
    )
    return note


def _totals(note: CreditNote) -> list:
    lines = list(note.lines.all())
    taxes = tax_summary(lines, tax_codes_of(note.legal_entity_id), note.currency)
    note.subtotal_amount = sum((line.amount for line in lines), ZERO)
    note.tax_amount = sum((row.tax for row in taxes), ZERO)
    note.total_amount = note.subtotal_amount + note.tax_amount
    note.save(update_fields=["subtotal_amount", "tax_amount", "total_amount"])
    return taxes


def _return_work(note: CreditNote) -> dict:
    """Credited entries, expenses and items leave billing's links: back to unbilled, or written off."""
    rows = list(CreditedEntry.objects.filter(credit_line__credit_note=note))
    entries = [row.time_entry_id for row in rows if row.time_entry_id]
    expenses = [row.expense_id for row in rows if row.expense_id]
    items = [row.plan_item_id for row in rows if row.plan_item_id]
    TimeEntryBilling.objects.filter(time_entry_id__in=entries).delete()
    ExpenseBilling.objects.filter(expense_id__in=expenses).delete()
    if note.rebill:
        PlanItem.objects.filter(pk__in=items).update(invoice_line=None)
    else:
        TimeEntry.objects.filter(pk__in=entries).update(
            status=EntryStatus.WRITTEN_OFF, updated_at=timezone.now()
        )
        Expense.objects.filter(pk__in=expenses).update(
            status=EntryStatus.WRITTEN_OFF, updated_at=timezone.now()
        )
        PlanItem.objects.filter(pk__in=items).update(cancelled=True)
    return {"time_entries": len(entries), "expenses": len(expenses), "items": len(items)}


@transaction.atomic
def release_credit_note(*, actor, credit_note: CreditNote, issue_date: date | None = None) -> CreditNote:
    """Number and post the credit (the invoice's mirror: Dr deferred revenue per line, Dr tax per code,
    Cr AR), apply it to the invoice's open amount, and return the credited work."""
    require_role(actor, Role.FINANCE)
    note = (
        CreditNote.objects.select_for_update()
        .select_related("invoice", "legal_entity")
        .get(pk=credit_note.pk)
    )
    if note.status != CreditNoteStatus.DRAFT:
        raise InvalidTransition(f"Credit note {note} is already released.")
    invoice = lock_invoice(note.invoice)
    taxes = _totals(note)
    issue_date = issue_date or timezone.localdate()
    if invoice.issue_date and issue_date < invoice.issue_date:
        raise ValidationFailed(
            "A credit note cannot be dated before its invoice.",
            fields={"issue_date": ["Before the invoice."]},
        )
    note.number = next_document_number(note.legal_entity, issue_date.year, "credit_note")
    note.issue_date = issue_date
    lines = list(note.lines.select_related("invoice_line"))
    for line in lines:
        line.project_id = line.invoice_line.project_id
    posting_lines = revenue_lines(
        lines,
        currency=note.currency,
        contract=invoice.contract,
        client_id=invoice.account_id,
        legal_entity=note.legal_entity,
        credit=False,
    ) + tax_lines(taxes, currency=note.currency, credit=False)
    item = post_receivable(
        actor=actor,
        legal_entity=note.legal_entity,
        client=invoice.account,
        kind=ArItemKind.CREDIT_NOTE,
        document_type=CREDIT_DOCUMENT,
        document_id=str(note.pk),
        number=note.number,
        date=issue_date,
        due_date=issue_date,
        currency=note.currency,
        amount=note.total_amount,
        lines=posting_lines,
        memo=f"Credit note {note.number} on invoice {invoice.number}: {note.reason}"[:300],
        posting_key=f"{CREDIT_DOCUMENT}:{note.pk}",
    )
    note.status = CreditNoteStatus.RELEASED
    note.ar_item = item
    note.journal_entry_id = item.journal_entry_id
    note.released_at = timezone.now()
    note.released_by = actor
    note.save()
    if invoice.ar_item_id:
        invoice.ar_item.refresh_from_db()
        applied = min(note.total_amount, invoice.ar_item.open_amount)
        if applied > 0:
            allocate(actor=actor, credit_item=item, debit_item=invoice.ar_item, amount=applied, on=issue_date)
    returned = _return_work(note)
    audit.record(
        actor=actor,
        action="credit_note.released",
        obj=note,
        changes={"number": note.number, "invoice": invoice.number, "total": note.total_amount, **returned},
        reason=note.reason,
    )
    emit(
        "credit_note.released",
        note,
        {
            "number": note.number,
            "invoice": invoice.pk,
            "total_amount": note.total_amount,
            "currency": note.currency,
        },
        actor=actor,
    )
    return note


@transaction.atomic
def delete_draft_credit_note(*, actor, credit_note: CreditNote, reason: str = "") -> CreditNote:
    """Discard a credit note that was never released (nothing was posted; its work stays billed)."""
    require_role(actor, Role.FINANCE)
    note = CreditNote.objects.select_for_update().get(pk=credit_note.pk)
    if note.status != CreditNoteStatus.DRAFT:
        raise InvalidTransition(f"Credit note {note} is released; issue another document to correct it.")
    audit.record(
        actor=actor,
        action="credit_note.deleted",
        obj=note,
        changes={"invoice": note.invoice_id, "total": note.total_amount},
        reason=(reason or "").strip() or "Draft discarded",
    )
    pk = note.pk
    note.delete()
    note.pk = pk
    return note
