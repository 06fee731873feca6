"""Draft review (line edits with a reason, removing work, deleting a draft) and the invoice's life:
release (numbered, dated, posted to the ledger and AR), send, void."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.choices import CreditNoteStatus, HoldStatus, InvoiceStatus, SourceType
from billing.models import (
    ExpenseBilling,
    Invoice,
    InvoiceLine,
    LineAdjustment,
    OverCapEntry,
    PlanItem,
    RetainerMovement,
    TimeEntryBilling,
)
from billing.services.bulk import update_rows
from billing.services.flags import refresh_flags
from billing.services.numbering import next_document_numbers
from billing.services.tax import tax_codes_of, tax_summary
from core import audit
from core.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from core.events import emit, emit_many
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole, ArItemKind, PeriodStatus
from ledger.errors import PeriodClosed, PeriodMissing
from ledger.models import FiscalPeriod, GLAccount
from ledger.selectors import account_by_role, exchange_rate
from ledger.services.ar import ReceivableSpec, post_receivables
from ledger.services.posting import LineSpec

ZERO = Decimal(0)
INVOICE_DOCUMENT = "billing.invoice"


def lock_invoice(invoice: Invoice) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("account", "contract", "legal_entity")
        .get(pk=invoice.pk)
    )


def _require_draft(invoice: Invoice, action: str) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidTransition(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; only a draft can be {action}."
        )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why (it is kept in the audit trail).", fields={"reason": ["Required."]})
    return reason


def recompute_totals(invoice: Invoice) -> Invoice:
    """Subtotal, tax per code (rounded once per code) and total from the current lines."""
    lines = list(invoice.lines.all())
    codes = tax_codes_of(invoice.legal_entity_id)
    taxes = (
        tax_summary(lines, codes, invoice.currency)
        if all(line.tax_code in codes or not line.tax_code for line in lines)
        else []
    )
    invoice.subtotal_amount = sum((line.amount for line in lines), ZERO)
    invoice.tax_amount = sum((row.tax for row in taxes), ZERO)
    invoice.total_amount = invoice.subtotal_amount + invoice.tax_amount
    invoice.save(update_fields=["subtotal_amount", "tax_amount", "total_amount", "updated_at"])
    refresh_flags([invoice])
    return invoice


@transaction.atomic
def edit_invoice_line(
    *, actor, line: InvoiceLine, reason: str, quantity=None, unit_price=None
) -> InvoiceLine:
    """Change a draft line's quantity or unit price: a write-up or write-down, recorded with its reason."""
    require_role(actor, Role.FINANCE)
    invoice = lock_invoice(line.invoice)
    _require_draft(invoice, "edited")
    reason = _reason(reason)
    line = InvoiceLine.objects.get(pk=line.pk)
    new_quantity = line.quantity if quantity is None else Decimal(quantity)
    new_price = line.unit_price if unit_price is None else Decimal(unit_price)
    problems = {}
    if new_quantity < 0:
        problems["quantity"] = ["Must not be negative; credit a released invoice instead."]
    if new_price < 0 and line.source_type != SourceType.RETAINER_FEE:
        problems["unit_price"] = ["Must not be negative."]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    if new_quantity == line.quantity and new_price == line.unit_price:
        raise ValidationFailed("Nothing changes.", fields={"quantity": ["Same quantity and price."]})
    amount = quantize(new_quantity * new_price, invoice.currency)
    LineAdjustment.objects.create(
        line=line,
        invoice=invoice,
        quantity_before=line.quantity,
        quantity_after=new_quantity,
        unit_price_before=line.unit_price,
        unit_price_after=new_price,
        amount_change=amount - line.amount,
        reason=reason,
        actor=actor,
    )
    before = {"quantity": line.quantity, "unit_price": line.unit_price, "amount": line.amount}
    line.quantity, line.unit_price, line.amount = new_quantity, new_price, amount
    if line.source_type == SourceType.TIME and " h at " in line.description:
        # The client reads the line: its text follows the new hours and rate.
        line.description = (
            f"{line.description.split(':')[0]}: {new_quantity.normalize():f} h at {new_price:.2f}"
        )
    line.save(update_fields=["quantity", "unit_price", "amount", "description"])
    recompute_totals(invoice)
    audit.record(
        actor=actor,
        action="invoice.line_adjusted",
        obj=invoice,
        changes={name: [value, getattr(line, name)] for name, value in before.items()} | {"line": line.pk},
        reason=reason,
    )
    return line


def _return_line_sources(lines) -> dict:
    """Undo what billed these draft lines: entries, expenses and items go back to unbilled."""
    line_ids = [line.pk for line in lines]
    entries = TimeEntryBilling.objects.filter(invoice_line_id__in=line_ids).delete()[0]
    expenses = ExpenseBilling.objects.filter(invoice_line_id__in=line_ids).delete()[0]
    items = PlanItem.objects.filter(invoice_line_id__in=line_ids).update(invoice_line=None)
    OverCapEntry.objects.filter(invoice_line_id__in=line_ids, status=HoldStatus.BILLED).update(
        status=HoldStatus.RELEASED, invoice_line=None
    )
    return {"time_entries": entries, "expenses": expenses, "items": items}


def _undo_retainer_and_holds(invoice: Invoice, plan_ids: set[int]) -> None:
    """A draft's run also drew retainer balances and held over-cap time for these plans: undo that too,
    unless a later run built on it."""
    if not plan_ids or invoice.run_id is None:
        return
    later = RetainerMovement.objects.filter(plan_id__in=plan_ids, run_id__gt=invoice.run_id).exists()
    if later:
        raise InvalidTransition(
            "A later billing run has drawn on this contract's retainer; "
            "release this draft and credit it instead."
        )
    TimeEntryBilling.objects.filter(
        plan_id__in=plan_ids, run_id=invoice.run_id, invoice_line__isnull=True
    ).delete()
    RetainerMovement.objects.filter(plan_id__in=plan_ids, run_id=invoice.run_id).delete()
    OverCapEntry.objects.filter(plan_id__in=plan_ids, run_id=invoice.run_id, status=HoldStatus.HELD).delete()


@transaction.atomic
def remove_invoice_line(*, actor, line: InvoiceLine, reason: str) -> Invoice:
    """Take a line off a draft; the work it billed returns to unbilled."""
    require_role(actor, Role.FINANCE)
    invoice = lock_invoice(line.invoice)
    _require_draft(invoice, "changed")
    reason = _reason(reason)
    line = InvoiceLine.objects.get(pk=line.pk, invoice=invoice)
    if line.source_type in (SourceType.RETAINER_FEE, SourceType.RETAINER_OVERAGE):
        raise InvalidTransition("Retainer lines come and go with the whole draft; delete the draft instead.")
    returned = _return_line_sources([line])
    line.delete()
    if not invoice.lines.exists():
        return _delete(actor, invoice, reason, returned)
    recompute_totals(invoice)
    audit.record(
        actor=actor,
        action="invoice.line_removed",
        obj=invoice,
        changes={"line": line.description, "amount": line.amount, **returned},
        reason=reason,
    )
    return invoice


@transaction.atomic
def remove_time_entries(*, actor, invoice: Invoice, entry_ids, reason: str) -> Invoice:
    """Take some time entries off a draft: they return to unbilled and their lines shrink."""
    require_role(actor, Role.FINANCE)
    invoice = lock_invoice(invoice)
    _require_draft(invoice, "changed")
    reason = _reason(reason)
    ids = sorted({int(pk) for pk in entry_ids or []})
    links = list(
        TimeEntryBilling.objects.filter(time_entry_id__in=ids, invoice_line__invoice=invoice).select_related(
            "invoice_line"
        )
    )
    missing = sorted(set(ids) - {link.time_entry_id for link in links})
    if not ids or missing:
        raise ValidationFailed(
            "Name time entries billed on this draft.",
            fields={
                "time_entries": [
                    f"Not on this draft: {', '.join(map(str, missing))}." if missing else "Required."
                ]
            },
        )
    if any(link.invoice_line.source_type != SourceType.TIME for link in links):
        raise InvalidTransition(
            "Retainer overage comes and goes with the whole draft; delete the draft instead."
        )
    TimeEntryBilling.objects.filter(time_entry_id__in=ids).delete()
    lines = {link.invoice_line_id: link.invoice_line for link in links}
    hours = dict(
        TimeEntryBilling.objects.filter(invoice_line_id__in=list(lines))
        .values("invoice_line_id")
        .annotate(hours=Sum("time_entry__hours"))
        .values_list("invoice_line_id", "hours")
    )
    for line in lines.values():
        remaining = hours.get(line.pk)
        if not remaining or line.quantity == 1 and line.unit_price == line.amount:
            line.delete()
            continue
        line.quantity = remaining
        line.amount = quantize(remaining * line.unit_price, invoice.currency)
        line.description = line.description.split(":")[0] + f": {remaining} h at {line.unit_price:.2f}"
        line.save(update_fields=["quantity", "amount", "description"])
    if not invoice.lines.exists():
        return _delete(actor, invoice, reason, {"time_entries": len(ids)})
    recompute_totals(invoice)
    audit.record(
        actor=actor,
        action="invoice.entries_removed",
        obj=invoice,
        changes={"time_entries": ids},
        reason=reason,
    )
    return invoice


def _delete(actor, invoice: Invoice, reason: str, returned: dict) -> Invoice:
    plan_ids = set(invoice.lines.exclude(plan__isnull=True).values_list("plan_id", flat=True))
    plan_ids |= (
        set(
            RetainerMovement.objects.filter(
                run_id=invoice.run_id, plan__contract_id=invoice.contract_id
            ).values_list("plan_id", flat=True)
        )
        if invoice.run_id
        else set()
    )
    _undo_retainer_and_holds(invoice, plan_ids)
    lines = list(invoice.lines.all())
    returned = {**returned, **_return_line_sources(lines)} if lines else returned
    audit.record(
        actor=actor,
        action="invoice.draft_deleted",
        obj=invoice,
        changes={"contract": invoice.contract_id, "total": invoice.total_amount, **returned},
        reason=reason,
    )
    pk = invoice.pk
    invoice.delete()
    invoice.pk = pk
    return invoice


@transaction.atomic
def delete_draft_invoice(*, actor, invoice: Invoice, reason: str = "") -> Invoice:
    """Delete a draft: everything it billed returns to unbilled for the next run."""
    require_role(actor, Role.FINANCE)
    invoice = lock_invoice(invoice)
    _require_draft(invoice, "deleted")
    return _delete(actor, invoice, (reason or "").strip() or "Draft deleted", {})


def revenue_lines(
    invoice_lines, *, currency: str, contract, client_id: int, legal_entity, credit: bool, deferred=None
) -> list:
    """The contract-liability lines of a document: per invoice line, dimensioned by project (and the
    contract in the memo); a negative line (a refund) posts to the other side."""
    deferred = deferred or account_by_role(legal_entity, AccountRole.DEFERRED_REVENUE)
    result = []
    for line in invoice_lines:
        if not line.amount:
            continue
        positive = (line.amount > 0) == credit
        amount = abs(line.amount)
        result.append(
            LineSpec(
                account=deferred,
                currency=currency,
                credit=amount if positive else ZERO,
                debit=ZERO if positive else amount,
                client_id=client_id,
                project_id=line.project_id,
                memo=f"{contract.number if contract else ''} · {line.description}"[:300],
            )
        )
    return result


def tax_lines(taxes, *, currency: str, credit: bool, accounts: dict | None = None) -> list:
    if accounts is None:
        wanted = {row.account_id for row in taxes if row.account_id}
        accounts = {account.pk: account for account in GLAccount.objects.filter(pk__in=wanted)}
    return [
        LineSpec(
            account=accounts[row.account_id],
            currency=currency,
            credit=row.tax if credit else ZERO,
            debit=ZERO if credit else row.tax,
            memo=f"{row.code} {row.rate_percent.normalize()}% on {row.base:.2f}",
        )
        for row in taxes
        if row.tax
    ]


@dataclass
class ReleaseResult:
    released: list[Invoice] = field(default_factory=list)
    # Invoice id → the domain error that refused it (nothing of it was written).
    refused: dict[int, DomainError] = field(default_factory=dict)


def _release_problem(invoice: Invoice, lines, codes) -> tuple[list, DomainError | None]:
    if invoice.status != InvoiceStatus.DRAFT:
        return [], InvalidTransition(f"Invoice {invoice} is already {invoice.get_status_display().lower()}.")
    if not lines:
        return [], ValidationFailed(
            "The invoice has no lines.", code="no_lines", fields={"lines": ["Add a line first."]}
        )
    try:
        taxes = tax_summary(lines, codes, invoice.currency)
    except DomainError as exc:
        return [], exc
    total = sum((line.amount for line in lines), ZERO) + sum((row.tax for row in taxes), ZERO)
    if total <= 0:
        return [], ValidationFailed(
            f"The invoice totals {total:.2f} {invoice.currency}; an invoice must total more than zero "
            "(issue a credit note for money owed back).",
            code="non_positive_total",
            fields={"total_amount": ["Must be more than zero."]},
        )
    return taxes, None


def _ledger_problems(invoices, issue_date: date) -> dict[tuple, DomainError]:
    """(entity, currency) → why the ledger would refuse posting on `issue_date` (closed period, no rate)."""
    problems = {}
    periods = {
        period.legal_entity_id: period
        for period in FiscalPeriod.objects.filter(
            legal_entity_id__in={i.legal_entity_id for i in invoices},
            start__lte=issue_date,
            end__gte=issue_date,
        )
    }
    for invoice in invoices:
        key = (invoice.legal_entity_id, invoice.currency)
        if key in problems:
            continue
        period = periods.get(invoice.legal_entity_id)
        if period is None:
            problems[key] = PeriodMissing(
                f"No fiscal period covers {issue_date} for {invoice.legal_entity}.",
                fields={"issue_date": ["No fiscal period covers this date."]},
            )
        elif period.status != PeriodStatus.OPEN:
            problems[key] = PeriodClosed(
                f"The period {period.start:%Y-%m} is closed; release into an open period or reopen it.",
                fields={"issue_date": [f"{period.start:%Y-%m} is closed."]},
            )
        else:
            try:
                exchange_rate(invoice.currency, invoice.legal_entity.functional_currency, issue_date)
            except DomainError as exc:
                problems[key] = exc
    return problems


@transaction.atomic
def release_invoices(*, actor, invoices, issue_date: date | None = None) -> ReleaseResult:
    """Release many drafts at once (the workbench's "release all", a month-end batch): each is checked
    as `release_invoice` checks it; the good ones are numbered in id order and posted in one batch, the
    refused ones are reported with their error and left untouched."""
    require_role(actor, Role.FINANCE)
    issue_date = issue_date or timezone.localdate()
    ids = sorted({getattr(invoice, "pk", invoice) for invoice in invoices})
    locked = list(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("account", "contract", "legal_entity")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    result = ReleaseResult()
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=ids).order_by("invoice_id", "position", "id"):
        lines[line.invoice_id].append(line)
    codes = {entity_id: tax_codes_of(entity_id) for entity_id in {i.legal_entity_id for i in locked}}
    ready = []
    for invoice in locked:
        taxes, problem = _release_problem(invoice, lines[invoice.pk], codes[invoice.legal_entity_id])
        if problem is not None:
            result.refused[invoice.pk] = problem
        else:
            ready.append((invoice, taxes))
    ledger = _ledger_problems([invoice for invoice, _ in ready], issue_date)
    for invoice, _ in ready:
        problem = ledger.get((invoice.legal_entity_id, invoice.currency))
        if problem is not None:
            result.refused[invoice.pk] = problem
    ready = [(invoice, taxes) for invoice, taxes in ready if invoice.pk not in result.refused]
    if not ready:
        return result
    by_entity = defaultdict(list)
    for invoice, _ in ready:
        by_entity[invoice.legal_entity_id].append(invoice)
    for group in by_entity.values():
        numbers = next_document_numbers(group[0].legal_entity, issue_date.year, "invoice", len(group))
        for invoice, number in zip(group, numbers, strict=True):
            invoice.number = number
    deferred = {
        entity_id: account_by_role(entity_id, AccountRole.DEFERRED_REVENUE) for entity_id in by_entity
    }
    tax_accounts = {
        account.pk: account
        for account in GLAccount.objects.filter(
            pk__in={row.account_id for _, taxes in ready for row in taxes if row.account_id}
        )
    }
    specs = []
    for invoice, taxes in ready:
        invoice.issue_date = issue_date
        invoice.due_date = issue_date + timedelta(days=invoice.payment_terms_days)
        invoice.subtotal_amount = sum((line.amount for line in lines[invoice.pk]), ZERO)
        invoice.tax_amount = sum((row.tax for row in taxes), ZERO)
        invoice.total_amount = invoice.subtotal_amount + invoice.tax_amount
        specs.append(
            ReceivableSpec(
                legal_entity=invoice.legal_entity,
                client=invoice.account,
                kind=ArItemKind.INVOICE,
                document_type=INVOICE_DOCUMENT,
                document_id=str(invoice.pk),
                number=invoice.number,
                date=issue_date,
                due_date=invoice.due_date,
                currency=invoice.currency,
                amount=invoice.total_amount,
                lines=revenue_lines(
                    lines[invoice.pk],
                    currency=invoice.currency,
                    contract=invoice.contract,
                    client_id=invoice.account_id,
                    legal_entity=invoice.legal_entity,
                    credit=True,
                    deferred=deferred[invoice.legal_entity_id],
                )
                + tax_lines(taxes, currency=invoice.currency, credit=True, accounts=tax_accounts),
                memo=f"Invoice {invoice.number} to {invoice.account.name}",
                posting_key=f"{INVOICE_DOCUMENT}:{invoice.pk}",
            )
        )
    items = post_receivables(actor=actor, documents=specs)
    now = timezone.now()
    released = []
    for (invoice, _), item in zip(ready, items, strict=True):
        invoice.status = InvoiceStatus.RELEASED
        invoice.ar_item = item
        invoice.journal_entry_id = item.journal_entry_id
        invoice.rate = item.rate
        invoice.functional_total_amount = item.functional_amount
        invoice.released_at = now
        invoice.released_by = actor if getattr(actor, "is_authenticated", False) else None
        released.append(invoice)
    # One UPDATE joined to the invoices' values (bulk_update's CASE per field grows with the square of
    # the batch); the fields every released invoice shares are set once.
    update_rows(
        Invoice,
        RELEASE_COLUMNS,
        [
            (
                invoice.pk,
                invoice.number,
                invoice.due_date,
                invoice.subtotal_amount,
                invoice.tax_amount,
                invoice.total_amount,
                invoice.ar_item_id,
                invoice.journal_entry_id,
                invoice.rate,
                invoice.functional_total_amount,
            )
            for invoice in released
        ],
        constants={
            "status": InvoiceStatus.RELEASED.value,
            "issue_date": issue_date,
            "released_at": now,
            "released_by_id": released[0].released_by_id if released else None,
            "updated_at": now,
        },
    )
    for invoice in released:
        invoice.updated_at = now
    audit.record_many(
        actor=actor,
        action="invoice.released",
        rows=[
            (
                invoice,
                {
                    "status": [InvoiceStatus.DRAFT, InvoiceStatus.RELEASED],
                    "number": invoice.number,
                    "total": invoice.total_amount,
                },
            )
            for invoice in released
        ],
    )
    emit_many(
        "invoice.released",
        [
            (
                invoice,
                {
                    "number": invoice.number,
                    "account": invoice.account_id,
                    "contract": invoice.contract_id,
                    "currency": invoice.currency,
                    "total_amount": invoice.total_amount,
                    "issue_date": invoice.issue_date,
                    "due_date": invoice.due_date,
                },
            )
            for invoice in released
        ],
        actor=actor,
    )
    result.released = released
    return result


RELEASE_COLUMNS = [
    "number",
    "due_date",
    "subtotal_amount",
    "tax_amount",
    "total_amount",
    "ar_item_id",
    "journal_entry_id",
    "rate",
    "functional_total_amount",
]


@transaction.atomic
def release_invoice(*, actor, invoice: Invoice, issue_date: date | None = None) -> Invoice:
    """Number, date and post a draft: Dr AR (total) / Cr deferred revenue per line / Cr tax per code,
    at the issue date's rate. Refused with its error and nothing written if anything is wrong."""
    result = release_invoices(actor=actor, invoices=[invoice], issue_date=issue_date)
    if result.refused:
        raise next(iter(result.refused.values()))
    if not result.released:
        raise NotFound("No such invoice.")
    return result.released[0]


def billing_address(invoice: Invoice) -> str:
    account = invoice.account
    contact = account.billing_contact
    return (contact.email if contact and contact.email else "") or account.billing_email


@transaction.atomic
def send_invoice(*, actor, invoice: Invoice, to: str | None = None) -> Invoice:
    """E-mail the invoice PDF to the client's billing contact (or `to`); sending again is allowed."""
    from django.core.mail import EmailMessage

    from billing.pdf import render_invoice_pdf

    require_role(actor, Role.FINANCE)
    invoice = lock_invoice(invoice)
    if invoice.status not in (InvoiceStatus.RELEASED, InvoiceStatus.SENT):
        raise InvalidTransition(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; release it before sending."
        )
    address = (to or "").strip() or billing_address(invoice)
    if not address:
        raise ValidationFailed(
            f"{invoice.account.name} has no billing e-mail; add a billing contact or give an address.",
            fields={"to": ["No billing e-mail address."]},
        )
    message = EmailMessage(
        subject=f"Invoice {invoice.number} from {invoice.legal_entity.name}",
        body=(
            f"Please find attached invoice {invoice.number} dated {invoice.issue_date} for "
            f"{invoice.total_amount:.2f} {invoice.currency}, due {invoice.due_date}.\n"
        ),
        to=[address],
    )
    message.attach(f"{invoice.number}.pdf", render_invoice_pdf(invoice), "application/pdf")
    message.send()
    previous = invoice.status
    invoice.status = InvoiceStatus.SENT
    invoice.sent_at = timezone.now()
    invoice.sent_to = address
    invoice.save(update_fields=["status", "sent_at", "sent_to", "updated_at"])
    audit.record(
        actor=actor,
        action="invoice.sent",
        obj=invoice,
        changes={"status": [previous, invoice.status], "to": address},
    )
    emit("invoice.sent", invoice, {"number": invoice.number, "to": address}, actor=actor)
    return invoice


@transaction.atomic
def void_invoice(*, actor, invoice: Invoice, reason: str) -> Invoice:
    """Cancel a released invoice with a full credit note; its work returns to unbilled."""
    from billing.services.credit_notes import create_credit_note, release_credit_note

    require_role(actor, Role.FINANCE)
    reason = _reason(reason)
    invoice = lock_invoice(invoice)
    if invoice.status not in (InvoiceStatus.RELEASED, InvoiceStatus.SENT):
        raise InvalidTransition(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; "
            "only a released or sent invoice can be voided."
        )
    pending = invoice.credit_notes.filter(status=CreditNoteStatus.DRAFT).first()
    if pending is not None:
        raise InvalidTransition(
            f"A draft credit note (#{pending.pk}) is pending on invoice {invoice}; "
            "release or delete it first."
        )
    item = invoice.ar_item
    if item is not None and item.open_amount != item.amount:
        raise InvalidTransition(
            f"Invoice {invoice} has payments or credits applied; reverse them or issue a partial credit note."
        )
    lines = [{"invoice_line": line.pk, "amount": line.amount} for line in invoice.lines.all()]
    note = create_credit_note(actor=actor, invoice=invoice, reason=reason, lines=lines, rebill=True)
    release_credit_note(actor=actor, credit_note=note)
    previous = invoice.status
    invoice.refresh_from_db()
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = timezone.now()
    invoice.void_reason = reason
    invoice.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
    audit.record(
        actor=actor,
        action="invoice.voided",
        obj=invoice,
        changes={"status": [previous, InvoiceStatus.VOID], "credit_note": note.number},
        reason=reason,
    )
    emit(
        "invoice.voided",
        invoice,
        {"number": invoice.number, "credit_note": note.number, "reason": reason},
        actor=actor,
    )
    return invoice
