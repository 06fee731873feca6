"""The PDF letters of collections: the dunning notice (attached to its e-mail) and the client statement.

Both are HTML templates under `templates/ledger/dunning/` printed by WeasyPrint, as billing prints
invoices. Everything shown is formatted here, so the templates only lay it out.
"""

from datetime import date
from decimal import Decimal

from django.template.loader import render_to_string

from core.money import format_money, quantize
from core.pdf import print_pdf
from ledger.choices import ArItemKind
from ledger.models import ArItem, DunningNotice, DunningPolicy, LegalEntity

ZERO = Decimal(0)
NOTICE_TEMPLATE = "ledger/dunning/notice_pdf.html"
STATEMENT_TEMPLATE = "ledger/dunning/statement_pdf.html"


def _entity(entity: LegalEntity) -> dict:
    return {
        "name": entity.name,
        "address_lines": [line for line in entity.address.splitlines() if line.strip()],
        "tax_id": entity.tax_id,
    }


def _payment_instructions(entity: LegalEntity, policy: DunningPolicy | None) -> str:
    if policy is not None and policy.payment_instructions.strip():
        return policy.payment_instructions
    return (
        f"Pay by bank transfer to {entity.name} at the bank account on your supplier record, quoting the "
        "invoice numbers; our accounts receivable team confirms the details on request."
    )


def notice_letter_context(notice: DunningNotice) -> dict:
    """What the notice letter shows: its invoices with days overdue and open, the charges, the total."""
    notice = DunningNotice.objects.select_related("legal_entity", "client", "policy", "run").get(pk=notice.pk)
    currency = notice.currency
    items = notice.items.select_related("ar_item").order_by("ar_item__due_date", "ar_item_id")
    return {
        "title": f"Payment reminder, level {notice.level}",
        "entity": _entity(notice.legal_entity),
        "client": {"name": notice.client.name, "email": notice.recipient or notice.client.billing_email},
        "reference": f"DUN-{notice.pk:06d}",
        "as_of": notice.run.as_of.isoformat(),
        "level": notice.level,
        "currency": currency,
        "items": [
            {
                "number": item.ar_item.number,
                "date": item.ar_item.date.isoformat(),
                "due_date": item.ar_item.due_date.isoformat(),
                "days_overdue": item.days_overdue,
                "open_amount": format_money(item.open_amount, currency),
                "interest": format_money(item.interest_amount, currency),
            }
            for item in items
        ],
        "total_open": format_money(notice.total_open, currency),
        "interest": format_money(notice.interest_amount, currency),
        "fee": format_money(notice.fee_amount, currency),
        "total_due": format_money(notice.total_due, currency),
        "fee_note": notice.fee_note,
        "payment_instructions": _payment_instructions(notice.legal_entity, notice.policy),
    }


def render_notice_pdf(notice: DunningNotice) -> bytes:
    return print_pdf(render_to_string(NOTICE_TEMPLATE, notice_letter_context(notice)))


def statement_context(*, client, as_of: date) -> dict:
    """A client's open items on `as_of` (today's open amounts), per currency, with days overdue and totals.

    Unapplied credits (payments not yet matched, credit notes) are listed and reduce the balance due.
    """
    from crm.models import Account

    client = Account.objects.select_related("legal_entity", "dunning_policy").get(pk=client.pk)
    entity = client.legal_entity
    items = (
        ArItem.objects.filter(client=client, legal_entity=entity, date__lte=as_of)
        .exclude(open_amount=0)
        .order_by("currency", "due_date", "id")
    )
    sections: dict[str, dict] = {}
    for item in items:
        currency = item.currency
        section = sections.setdefault(
            currency, {"currency": currency, "rows": [], "overdue": ZERO, "balance": ZERO}
        )
        open_amount = quantize(item.open_amount, currency)
        days = (as_of - item.due_date).days if item.amount > 0 else None
        section["balance"] += open_amount
        if days is not None and days > 0:
            section["overdue"] += open_amount
        section["rows"].append(
            {
                "number": item.number,
                "kind": ArItemKind(item.kind).label,
                "date": item.date.isoformat(),
                "due_date": item.due_date.isoformat() if item.amount > 0 else "",
                "days_overdue": days if days and days > 0 else "",
                "open_amount": format_money(open_amount, currency),
            }
        )
    policy = (
        client.dunning_policy or DunningPolicy.objects.filter(legal_entity=entity, is_default=True).first()
    )
    return {
        "title": f"Statement of account, {client.name}",
        "entity": _entity(entity),
        "client": {"name": client.name, "email": client.billing_email},
        "as_of": as_of.isoformat(),
        "sections": [
            {
                **section,
                "overdue": format_money(section["overdue"], section["currency"]),
                "balance": format_money(section["balance"], section["currency"]),
            }
            for section in sections.values()
        ],
        "payment_instructions": _payment_instructions(entity, policy),
    }


def render_statement_pdf(*, client, as_of: date) -> bytes:
    return print_pdf(render_to_string(STATEMENT_TEMPLATE, statement_context(client=client, as_of=as_of)))
