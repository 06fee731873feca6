"""Receivables: billing's invoices and credit notes entering AR through `post_receivable` (one) or
`post_receivables` (a batch: one posting call, one insert of items)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from core import audit
from core.errors import Conflict, ValidationFailed
from ledger.choices import AccountRole, ArItemKind
from ledger.models import ArItem, Currency, JournalEntry, JournalLine, LegalEntity
from ledger.selectors import account_by_role
from ledger.services.ar._common import ZERO, _check_amount, _check_client, _show
from ledger.services.posting import EntrySpec, LineSpec, post_entries


@dataclass(frozen=True)
class ReceivableSpec:
    """An invoice or credit note to post: `lines` are its revenue/tax side; the AR line is added."""

    legal_entity: LegalEntity
    client: object
    kind: str
    document_type: str
    document_id: str
    number: str
    date: date
    due_date: date
    currency: str
    amount: Decimal
    lines: Sequence[LineSpec]
    memo: str
    posting_key: str


def _check(spec: ReceivableSpec, ar, currencies: set[str]) -> None:
    if spec.kind not in (ArItemKind.INVOICE, ArItemKind.CREDIT_NOTE):
        raise ValidationFailed(
            f"An AR document is an invoice or a credit note, not '{spec.kind}'.",
            fields={"kind": ["Use 'invoice' or 'credit_note'."]},
        )
    _check_client(spec.client, spec.legal_entity)
    if spec.currency not in currencies:
        raise ValidationFailed(
            f"Unknown currency '{spec.currency}'.", fields={"currency": ["Not an active currency."]}
        )
    _check_amount(spec.amount, spec.currency, "amount")
    if spec.due_date < spec.date:
        raise ValidationFailed(
            "The due date cannot be before the document date.", fields={"due_date": ["Before the date."]}
        )
    invoice = spec.kind == ArItemKind.INVOICE
    net = ZERO
    for index, line in enumerate(spec.lines):
        where = f"Line {index + 1}"
        if line.currency != spec.currency:
            raise ValidationFailed(
                f"{where} is in {line.currency}; every line of a {spec.currency} document must be in "
                f"{spec.currency}.",
                fields={"lines": [f"{where}: not in {spec.currency}."]},
            )
        if line.account.pk == ar.pk:
            raise ValidationFailed(
                f"{where} posts to the AR account; the AR line is added for you.",
                fields={"lines": [f"{where}: remove the AR line."]},
            )
        net += line.credit - line.debit
    if (net if invoice else -net) != spec.amount:
        side = "credits" if invoice else "debits"
        raise ValidationFailed(
            f"The lines' net {side} ({_show(abs(net), spec.currency)}) differ from the document amount "
            f"({_show(spec.amount, spec.currency)}).",
            fields={"lines": [f"The lines must net to {_show(spec.amount, spec.currency)}."]},
        )


@transaction.atomic
def post_receivables(*, actor, documents: Sequence[ReceivableSpec]) -> list[ArItem]:
    """Post invoices and credit notes to the ledger and open their AR items, set-wise.

    An invoice debits AR with `amount` against its credit `lines` (revenue, tax); a credit note credits
    AR against its debit lines and is stored with a negative amount. Each AR line is converted at the
    document date's rate, which the item keeps as its booking rate. Who may release the document is
    the caller's check. A posting key posted before returns the first item.
    """
    if not documents:
        return []
    keys = [spec.posting_key for spec in documents]
    done = {entry.posting_key: entry for entry in JournalEntry.objects.filter(posting_key__in=keys)}
    existing = {
        item.journal_entry_id: item for item in ArItem.objects.filter(journal_entry__in=done.values())
    }
    for key, entry in done.items():
        if entry.pk not in existing:
            raise Conflict(f"The posting key '{key}' belongs to another journal entry.")
    new = [spec for spec in documents if spec.posting_key not in done]
    if new:
        ar_accounts = {
            entity_id: account_by_role(entity_id, AccountRole.AR)
            for entity_id in {spec.legal_entity.pk for spec in new}
        }
        currencies = set(
            Currency.objects.filter(code__in={s.currency for s in new}, active=True).values_list(
                "code", flat=True
            )
        )
        for spec in new:
            _check(spec, ar_accounts[spec.legal_entity.pk], currencies)
        taken = set(
            ArItem.objects.filter(
                document_type__in={s.document_type for s in new}, document_id__in=[s.document_id for s in new]
            ).values_list("document_type", "document_id")
        )
        for spec in new:
            if (spec.document_type, str(spec.document_id)) in taken:
                raise Conflict(
                    f"{spec.document_type} #{spec.document_id} is already in AR under another posting key."
                )
        entries = post_entries(
            actor=actor,
            entries=[
                EntrySpec(
                    legal_entity=spec.legal_entity,
                    date=spec.date,
                    memo=spec.memo,
                    lines=[_ar_line(spec, ar_accounts[spec.legal_entity.pk]), *spec.lines],
                    source_type=spec.document_type,
                    source_id=str(spec.document_id),
                    posting_key=spec.posting_key,
                )
                for spec in new
            ],
        )
        ar_ids = {account.pk for account in ar_accounts.values()}
        posted = {
            line.entry_id: line
            for line in JournalLine.objects.filter(entry__in=entries, account_id__in=ar_ids).only(
                "entry_id", "rate", "functional_debit", "functional_credit"
            )
        }
        items = []
        for spec, entry in zip(new, entries, strict=True):
            line = posted[entry.pk]
            sign = 1 if spec.kind == ArItemKind.INVOICE else -1
            items.append(
                ArItem(
                    legal_entity=spec.legal_entity,
                    client=spec.client,
                    kind=spec.kind,
                    document_type=spec.document_type,
                    document_id=str(spec.document_id),
                    number=spec.number,
                    date=spec.date,
                    due_date=spec.due_date,
                    currency=spec.currency,
                    amount=sign * spec.amount,
                    open_amount=sign * spec.amount,
                    rate=line.rate,
                    functional_amount=line.functional_debit - line.functional_credit,
                    journal_entry=entry,
                )
            )
        try:
            with transaction.atomic():
                ArItem.objects.bulk_create(items)
        except IntegrityError:
            # A concurrent twin posted the same documents first; they are the same items if they hold
            # these entries.
            twins = {item.journal_entry_id: item for item in ArItem.objects.filter(journal_entry__in=entries)}
            if len(twins) != len(entries):
                raise
            items = [twins[entry.pk] for entry in entries]
        else:
            audit.record_many(
                actor=actor,
                action="ar_item.posted",
                rows=[
                    (
                        item,
                        {
                            "kind": item.kind,
                            "amount": item.amount,
                            "currency": item.currency,
                            "functional_amount": item.functional_amount,
                        },
                    )
                    for item in items
                ],
            )
        existing.update({item.journal_entry_id: item for item in items})
        done.update({entry.posting_key: entry for entry in entries})
    return [existing[done[spec.posting_key].pk] for spec in documents]


def _ar_line(spec: ReceivableSpec, ar) -> LineSpec:
    invoice = spec.kind == ArItemKind.INVOICE
    return LineSpec(
        account=ar,
        currency=spec.currency,
        debit=spec.amount if invoice else ZERO,
        credit=ZERO if invoice else spec.amount,
        client_id=spec.client.pk,
        memo=f"{'Invoice' if invoice else 'Credit note'} {spec.number}",
    )


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
    """Post one invoice or credit note (see `post_receivables`)."""
    spec = ReceivableSpec(
        legal_entity=legal_entity,
        client=client,
        kind=kind,
        document_type=document_type,
        document_id=str(document_id),
        number=number,
        date=date,
        due_date=due_date,
        currency=currency,
        amount=amount,
        lines=list(lines),
        memo=memo,
        posting_key=posting_key,
    )
    return post_receivables(actor=actor, documents=[spec])[0]
