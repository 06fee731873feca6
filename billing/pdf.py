"""The invoice PDF: what the client receives by e-mail (`send_invoice`) and downloads from the API.

The page is an HTML template (`templates/billing/pdf/invoice.html`) printed by WeasyPrint. Everything it
shows is formatted here, so the template only lays it out. A draft prints with a DRAFT marker and
without a number or dates: those are fixed at release.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string

from billing.choices import InvoiceStatus
from billing.models import Invoice, TimeEntryBilling
from billing.services.tax import tax_codes_of, tax_summary
from core.money import format_money, minor_unit_exponent
from core.pdf import print_pdf

ZERO = Decimal(0)
TEMPLATE = "billing/pdf/invoice.html"


@dataclass(frozen=True)
class TimeRow:
    date: str
    person: str
    hours: str
    note: str


def _places(value: Decimal) -> int:
    """How many decimals `value` really has (38.5000 → 1, 100 → 0)."""
    return max(0, -value.normalize().as_tuple().exponent)


def _quantity(value: Decimal) -> str:
    """38.5000 → "38.50", 1.0000 → "1", 0.3333 → "0.3333"."""
    places = _places(value)
    return f"{value:,.{0 if places == 0 else max(2, places)}f}"


def _unit_price(value: Decimal, currency: str) -> str:
    """To the currency's minor unit, or to its own places when finer (a rate of 123.4567): the printed
    price times the quantity must give the printed amount, so it is never rounded for print."""
    return f"{value:,.{max(minor_unit_exponent(currency), _places(value))}f}"


def _hours(value: Decimal) -> str:
    return f"{value:.2f}"


def _time_rows(invoice: Invoice) -> list[TimeRow]:
    """Every time entry the invoice bills, in one query: split entries show the hours billed here."""
    rows = (
        TimeEntryBilling.objects.filter(invoice_line__invoice=invoice)
        .order_by("time_entry__date", "time_entry__person__name", "time_entry_id")
        .values_list(
            "time_entry__date",
            "time_entry__person__name",
            "time_entry__hours",
            "billed_hours",
            "time_entry__notes",
        )
    )
    return [
        TimeRow(
            date=day.isoformat(),
            person=person,
            hours=_hours(billed if billed is not None else hours),
            note=note,
        )
        for day, person, hours, billed, note in rows
    ]


def invoice_context(invoice: Invoice, *, time_detail: bool = False) -> dict:
    """What the invoice template shows, formatted."""
    invoice = Invoice.objects.select_related(
        "legal_entity", "account__billing_contact", "contract", "project"
    ).get(pk=invoice.pk)
    currency = invoice.currency
    entity, client = invoice.legal_entity, invoice.account
    lines = list(invoice.lines.order_by("position", "id"))
    codes = tax_codes_of(entity.pk)
    # A draft may still carry a code the entity lacks (the review flags it); it prints without a summary.
    known = all(not line.tax_code or line.tax_code in codes for line in lines)
    taxes = tax_summary(lines, codes, currency) if known else []
    contact = client.billing_contact
    time_rows = _time_rows(invoice) if time_detail else []
    draft = invoice.status == InvoiceStatus.DRAFT
    return {
        "draft": draft,
        "void": invoice.status == InvoiceStatus.VOID,
        "title": "Draft invoice" if draft else f"Invoice {invoice.number}",
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else "",
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "currency": currency,
        "entity": {
            "name": entity.name,
            "address_lines": [line for line in entity.address.splitlines() if line.strip()],
            "tax_id": entity.tax_id,
        },
        "client": {
            "name": client.name,
            "attention": contact.name if contact else "",
            "email": (contact.email if contact and contact.email else "") or client.billing_email,
        },
        "contract": invoice.contract.number if invoice.contract else "",
        "project": f"{invoice.project.code} {invoice.project.name}" if invoice.project else "",
        "period_end": invoice.period_end.isoformat() if invoice.period_end else "",
        "lines": [
            {
                "description": line.description,
                "quantity": _quantity(line.quantity),
                "unit_price": _unit_price(line.unit_price, currency),
                "amount": format_money(line.amount, currency),
                "tax_code": line.tax_code,
            }
            for line in lines
        ],
        "taxes": [
            {
                "code": row.code,
                "name": row.name,
                "rate": f"{row.rate_percent.normalize():f}%",
                "base": format_money(row.base, currency),
                "tax": format_money(row.tax, currency),
            }
            for row in taxes
        ],
        "subtotal": format_money(invoice.subtotal_amount, currency),
        "tax": format_money(invoice.tax_amount, currency),
        "total": format_money(invoice.total_amount, currency),
        "payment_terms_days": invoice.payment_terms_days,
        "notes": invoice.notes,
        "time_detail": time_detail,
        "time_rows": time_rows,
        "time_hours": _hours(sum((Decimal(row.hours) for row in time_rows), ZERO)),
    }


def render_invoice_pdf(invoice: Invoice, *, time_detail: bool = False) -> bytes:
    """The invoice as PDF bytes; `time_detail` adds an appendix listing the time entries it bills."""
    html = render_to_string(TEMPLATE, invoice_context(invoice, time_detail=time_detail))
    return print_pdf(html)
