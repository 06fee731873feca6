"""Billing's reads: invoices with their payment status, what a line billed, runs and their exceptions,
and the preview of a run (what it would bill, writing nothing)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from billing.choices import CreditNoteStatus, InvoiceStatus, SourceType
from billing.models import (
    CreditNote,
    ExpenseBilling,
    Invoice,
    InvoiceLine,
    OverCapEntry,
    PlanItem,
    TimeEntryBilling,
)
from billing.services.drafts import draft_contracts
from billing.services.runs import scoped_contract_ids, validated_scope

ZERO = Decimal(0)
PREVIEW_LIMIT = 500


def invoices() -> QuerySet:
    """Invoices with `effective_status` (paid / partially paid read from the AR item, counting payments
    only: a credit note lowers what is due, it does not pay it) and `balance` (what the client still
    owes; the total for a draft, 0 for a void invoice)."""
    credited = (
        CreditNote.objects.filter(invoice=OuterRef("pk"), status=CreditNoteStatus.RELEASED)
        .values("invoice")
        .annotate(total=Sum("total_amount"))
        .values("total")
    )
    issued = Q(status__in=[InvoiceStatus.RELEASED, InvoiceStatus.SENT])
    due = F("ar_item__amount") - F("credited")
    return (
        Invoice.objects.select_related("account", "contract", "legal_entity", "ar_item")
        .annotate(credited=Coalesce(Subquery(credited), Value(ZERO), output_field=DecimalField()))
        .annotate(
            effective_status=Case(
                When(
                    issued & Q(ar_item__open_amount=0, credited__lt=F("ar_item__amount")),
                    then=Value(InvoiceStatus.PAID),
                ),
                When(issued & Q(ar_item__open_amount__lt=due), then=Value(InvoiceStatus.PARTIALLY_PAID)),
                default=F("status"),
                output_field=CharField(),
            ),
            balance=Case(
                When(status=InvoiceStatus.DRAFT, then=F("total_amount")),
                When(status=InvoiceStatus.VOID, then=Value(ZERO)),
                default=F("ar_item__open_amount"),
                output_field=DecimalField(),
            ),
        )
    )


def effective_status(invoice: Invoice) -> str:
    """An invoice's status for display when it was not read through `invoices()`."""
    status = getattr(invoice, "effective_status", None)
    if status:
        return status
    item = invoice.ar_item if invoice.ar_item_id else None
    if invoice.status in (InvoiceStatus.RELEASED, InvoiceStatus.SENT) and item is not None:
        credited = sum(
            invoice.credit_notes.filter(status=CreditNoteStatus.RELEASED).values_list(
                "total_amount", flat=True
            ),
            ZERO,
        )
        if item.open_amount == 0 and credited < item.amount:
            return InvoiceStatus.PAID
        if item.open_amount < item.amount - credited:
            return InvoiceStatus.PARTIALLY_PAID
    return invoice.status


def invoice_balance(invoice: Invoice) -> Decimal:
    balance = getattr(invoice, "balance", None)
    if balance is not None:
        return balance
    if invoice.status == InvoiceStatus.DRAFT:
        return invoice.total_amount
    if invoice.status == InvoiceStatus.VOID or not invoice.ar_item_id:
        return ZERO
    return invoice.ar_item.open_amount


def source_ids(lines) -> dict[int, list[int]]:
    """For each invoice line, the ids of what it bills: time entries, expenses, plan items, or held
    over-cap entries, in id order. One query per kind for all the lines."""
    lines = list(lines)
    found: dict[int, list[int]] = defaultdict(list)
    by_kind = defaultdict(list)
    for line in lines:
        by_kind[line.source_type].append(line.pk)
    time_lines = by_kind[SourceType.TIME] + by_kind[SourceType.RETAINER_OVERAGE]
    if time_lines:
        for line_id, pk in (
            TimeEntryBilling.objects.filter(invoice_line_id__in=time_lines)
            .order_by("time_entry_id")
            .values_list("invoice_line_id", "time_entry_id")
        ):
            found[line_id].append(pk)
        for line_id, pk in OverCapEntry.objects.filter(invoice_line_id__in=time_lines).values_list(
            "invoice_line_id", "time_entry_id"
        ):
            found[line_id].append(pk)
    if by_kind[SourceType.EXPENSE]:
        for line_id, pk in (
            ExpenseBilling.objects.filter(invoice_line_id__in=by_kind[SourceType.EXPENSE])
            .order_by("expense_id")
            .values_list("invoice_line_id", "expense_id")
        ):
            found[line_id].append(pk)
    item_lines = [line.pk for line in lines if line.source_type not in (SourceType.TIME, SourceType.EXPENSE)]
    if item_lines:
        for line_id, pk in PlanItem.objects.filter(invoice_line_id__in=item_lines).values_list(
            "invoice_line_id", "id"
        ):
            found[line_id].append(pk)
    return {line.pk: sorted(found.get(line.pk, [])) for line in lines}


def line_time_entries(line: InvoiceLine):
    """The time entries a line bills, with who and when (the drill-down from a line)."""
    from projects.models import TimeEntry

    return (
        TimeEntry.objects.filter(billing__invoice_line=line)
        .select_related("person", "task", "role")
        .annotate(billed_amount=F("billing__amount"), billed_hours=F("billing__billed_hours"))
        .order_by("date", "id")
    )


def line_expenses(line: InvoiceLine):
    from projects.models import Expense

    return (
        Expense.objects.filter(billing__invoice_line=line)
        .select_related("person")
        .annotate(billed_amount=F("billing__amount"))
        .order_by("date", "id")
    )


def credit_notes() -> QuerySet:
    return CreditNote.objects.select_related("invoice", "invoice__account", "legal_entity")


@dataclass
class PreviewContract:
    contract_id: int
    number: str
    account: str
    currency: str
    lines: list = field(default_factory=list)
    subtotal: Decimal = ZERO
    entries: int = 0
    expenses: int = 0
    items: int = 0
    exceptions: list = field(default_factory=list)


@dataclass
class Preview:
    period_end: date
    contracts: list[PreviewContract]
    totals: dict[str, Decimal]
    exceptions: int
    truncated: bool


def preview_billing(
    *, legal_entity, period_end: date, accounts=(), contracts=(), limit: int = PREVIEW_LIMIT
) -> Preview:
    """What a run with this scope would bill now, per contract, with totals and exceptions (no writes).
    Subtotals are before tax; covers the first `limit` contracts of the scope."""
    scope = validated_scope(legal_entity, accounts, contracts)
    ids = scoped_contract_ids(legal_entity_id=legal_entity.pk, **scope)
    truncated = len(ids) > limit
    result, totals, exceptions = [], defaultdict(lambda: ZERO), 0
    for start in range(0, min(len(ids), limit), 100):
        drafts = draft_contracts(ids[start : min(start + 100, limit)], period_end)
        for draft in drafts.values():
            if not draft.lines and not draft.exceptions:
                continue
            contract = draft.contract
            row = PreviewContract(
                contract_id=contract.pk,
                number=contract.number,
                account=contract.account.name,
                currency=contract.currency,
                lines=[
                    {
                        "description": line.description,
                        "source_type": line.source_type,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "amount": line.amount,
                    }
                    for line in draft.lines
                ],
                subtotal=draft.subtotal,
                entries=draft.time_entry_count,
                expenses=draft.expense_count,
                items=draft.item_count,
                exceptions=[{"kind": kind, "message": message} for kind, message, _ in draft.exceptions],
            )
            totals[contract.currency] += draft.subtotal
            exceptions += len(draft.exceptions)
            result.append(row)
    return Preview(
        period_end=period_end,
        contracts=result,
        totals=dict(totals),
        exceptions=exceptions,
        truncated=truncated,
    )
