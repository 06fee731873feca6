"""Receivables: billing's invoices and credit notes entering AR through `post_receivable`."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from core import audit
from core.errors import Conflict, ValidationFailed
from ledger.choices import AccountRole, ArItemKind
from ledger.models import ArItem, JournalEntry, LegalEntity
from ledger.selectors import account_by_role
from ledger.services.ar._common import ZERO, _check_amount, _check_client, _check_currency, _show
from ledger.services.posting import LineSpec, post_entry


@transaction.atomic
def post_receivable(
    *,
    actor,
    legal_entity: LegalEntity,
    client,
    kind: str,
    document_type: str,
    document_id: str,
    number: str,
    date: date,
    due_date: date,
    currency: str,
    amount: Decimal,
    lines: Sequence[LineSpec],
    memo: str,
    posting_key: str,
) -> ArItem:
    """Post an invoice or credit note to the ledger and open its AR item: billing's one way into AR.

    An invoice debits AR with `amount` against the given credit `lines` (revenue, tax); a credit note
    credits AR against the given debit lines and is stored with a negative amount. The AR line (added
    here, with the client) is converted at the date's rate, which the item keeps as its booking rate.
    Who may release the document is the caller's check. Posting the same key again returns the first item.
    """
    posted_before = JournalEntry.objects.filter(posting_key=posting_key).first()
    if posted_before is not None:
        existing = ArItem.objects.filter(journal_entry=posted_before).first()
        if existing is None:
            raise Conflict(f"The posting key '{posting_key}' belongs to another journal entry.")
        return existing
    if kind not in (ArItemKind.INVOICE, ArItemKind.CREDIT_NOTE):
        raise ValidationFailed(
            f"An AR document is an invoice or a credit note, not '{kind}'.",
            fields={"kind": ["Use 'invoice' or 'credit_note'."]},
        )
    _check_client(client, legal_entity)
    _check_currency(currency)
    _check_amount(amount, currency, "amount")
    if due_date < date:
        raise ValidationFailed(
            "The due date cannot be before the document date.", fields={"due_date": ["Before the date."]}
        )
    ar = account_by_role(legal_entity, AccountRole.AR)
    invoice = kind == ArItemKind.INVOICE
    net = ZERO
    for index, line in enumerate(lines):
        where = f"Line {index + 1}"
        if line.currency != currency:
            raise ValidationFailed(
                f"{where} is in {line.currency}; every line of a {currency} document must be in {currency}.",
                fields={"lines": [f"{where}: not in {currency}."]},
            )
        if line.account.pk == ar.pk:
            raise ValidationFailed(
                f"{where} posts to the AR account; the AR line is added for you.",
                fields={"lines": [f"{where}: remove the AR line."]},
            )
        net += line.credit - line.debit
    if (net if invoice else -net) != amount:
        side = "credits" if invoice else "debits"
        raise ValidationFailed(
            f"The lines' net {side} ({_show(abs(net), currency)}) differ from the document amount "
            f"({_show(amount, currency)}).",
            fields={"lines": [f"The lines must net to {_show(amount, currency)}."]},
        )
    if ArItem.objects.filter(document_type=document_type, document_id=str(document_id)).exists():
        raise Conflict(f"{document_type} #{document_id} is already in AR under another posting key.")
    ar_line = LineSpec(
        account=ar,
        currency=currency,
        debit=amount if invoice else ZERO,
        credit=ZERO if invoice else amount,
        client_id=client.pk,
        memo=f"{'Invoice' if invoice else 'Credit note'} {number}",
    )
    entry = post_entry(
        actor=actor,
        legal_entity=legal_entity,
        date=date,
        memo=memo,
        lines=[ar_line, *lines],
        source_type=document_type,
        source_id=str(document_id),
        posting_key=posting_key,
    )
    posted = entry.lines.filter(account=ar).first()
    functional = posted.functional_debit - posted.functional_credit
    try:
        with transaction.atomic():
            item = ArItem.objects.create(
                legal_entity=legal_entity,
                client=client,
                kind=kind,
                document_type=document_type,
                document_id=str(document_id),
                number=number,
                date=date,
                due_date=due_date,
                currency=currency,
                amount=amount if invoice else -amount,
                open_amount=amount if invoice else -amount,
                rate=posted.rate,
                functional_amount=functional,
                journal_entry=entry,
            )
    except IntegrityError:
        # A concurrent twin posted the same document first; it is the same item if it holds this entry.
        item = ArItem.objects.filter(document_type=document_type, document_id=str(document_id)).first()
        if item is None or item.journal_entry_id != entry.pk:
            raise
        return item
    audit.record(
        actor=actor,
        action="ar_item.posted",
        obj=item,
        changes={"kind": kind, "amount": item.amount, "currency": currency, "functional_amount": functional},
    )
    return item
