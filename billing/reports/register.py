"""The invoice register: every invoice and credit note a legal entity issued in a period, with what is
still open, for finance's month-end tie-out to the ledger."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import CreditNote
from billing.selectors import invoices
from core.errors import ValidationFailed
from core.money import quantize

ZERO = Decimal(0)
ISSUED = (InvoiceStatus.RELEASED, InvoiceStatus.SENT, InvoiceStatus.VOID)
# A register row shows the invoice's effective status (paid and partially paid are read from AR).
STATUSES = (*ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)
INVOICE, CREDIT_NOTE = "invoice", "credit_note"


@dataclass(frozen=True)
class RegisterRow:
    """An invoice, or a credit note with negative amounts (as in AR), in its currency."""

    kind: str
    id: int
    number: str
    status: str
    client_id: int
    client_name: str
    issue_date: date
    due_date: date
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    balance: Decimal
    functional_total: Decimal
    # A credit note's invoice; blank for an invoice.
    invoice_number: str = ""


@dataclass
class RegisterTotal:
    currency: str
    count: int = 0
    subtotal: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    balance: Decimal = ZERO


@dataclass
class Register:
    date_from: date
    date_to: date
    status: str | None
    functional_currency: str
    rows: list[RegisterRow]
    totals: list[RegisterTotal] = field(default_factory=list)
    functional_total: Decimal = ZERO


def invoice_register(legal_entity, date_from: date, date_to: date, status: str | None = None) -> Register:
    """Invoices (released, sent or void) and released credit notes issued from `date_from` to `date_to`,
    in issue-date order, with totals per currency and the functional total at the booking rates.

    `status` keeps only invoices in that effective status (released, sent, partially_paid, paid, void);
    credit notes have none, so they are listed only without it. A void invoice stays listed beside the
    credit note that voided it: together they net to zero. Two queries.
    """
    if status is not None and status not in STATUSES:
        raise ValidationFailed(
            f"Unknown invoice status '{status}'.", fields={"status": [f"One of: {', '.join(STATUSES)}."]}
        )
    if date_to < date_from:
        raise ValidationFailed(
            "The period ends before it starts.", fields={"date_to": ["Must be on or after date_from."]}
        )
    functional = legal_entity.functional_currency
    issued = invoices().filter(
        legal_entity=legal_entity, status__in=ISSUED, issue_date__gte=date_from, issue_date__lte=date_to
    )
    if status is not None:
        issued = issued.filter(effective_status=status)
    rows = [
        RegisterRow(
            kind=INVOICE,
            id=row["pk"],
            number=row["number"],
            status=row["effective_status"],
            client_id=row["account_id"],
            client_name=row["account__name"],
            issue_date=row["issue_date"],
            due_date=row["due_date"],
            currency=row["currency"],
            subtotal=quantize(row["subtotal_amount"], row["currency"]),
            tax=quantize(row["tax_amount"], row["currency"]),
            total=quantize(row["total_amount"], row["currency"]),
            balance=quantize(row["balance"] or ZERO, row["currency"]),
            functional_total=quantize(row["functional_total_amount"] or ZERO, functional),
        )
        for row in issued.values(
            "pk",
            "number",
            "effective_status",
            "account_id",
            "account__name",
            "issue_date",
            "due_date",
            "currency",
            "subtotal_amount",
            "tax_amount",
            "total_amount",
            "balance",
            "functional_total_amount",
        )
    ]
    if status is None:
        credits = CreditNote.objects.filter(
            legal_entity=legal_entity,
            status=CreditNoteStatus.RELEASED,
            issue_date__gte=date_from,
            issue_date__lte=date_to,
        ).values(
            "pk",
            "number",
            "invoice__number",
            "invoice__account_id",
            "invoice__account__name",
            "issue_date",
            "currency",
            "subtotal_amount",
            "tax_amount",
            "total_amount",
            "ar_item__open_amount",
            "ar_item__functional_amount",
        )
        rows += [
            RegisterRow(
                kind=CREDIT_NOTE,
                id=row["pk"],
                number=row["number"],
                status=CreditNoteStatus.RELEASED,
                client_id=row["invoice__account_id"],
                client_name=row["invoice__account__name"],
                issue_date=row["issue_date"],
                due_date=row["issue_date"],
                currency=row["currency"],
                subtotal=-quantize(row["subtotal_amount"], row["currency"]),
                tax=-quantize(row["tax_amount"], row["currency"]),
                total=-quantize(row["total_amount"], row["currency"]),
                balance=quantize(row["ar_item__open_amount"] or ZERO, row["currency"]),
                functional_total=quantize(row["ar_item__functional_amount"] or ZERO, functional),
                invoice_number=row["invoice__number"],
            )
            for row in credits
        ]
    rows.sort(key=lambda row: (row.issue_date, row.kind, row.number))
    totals: dict[str, RegisterTotal] = {}
    for row in rows:
        total = totals.setdefault(row.currency, RegisterTotal(currency=row.currency))
        total.count += 1
        total.subtotal += row.subtotal
        total.tax += row.tax
        total.total += row.total
        total.balance += row.balance
    return Register(
        date_from=date_from,
        date_to=date_to,
        status=status,
        functional_currency=functional,
        rows=rows,
        totals=[totals[currency] for currency in sorted(totals)],
        functional_total=sum((row.functional_total for row in rows), ZERO),
    )
