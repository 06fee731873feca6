"""The AR subledger: receivables, payments, allocations with realized FX, and write-offs.

Billing posts its invoices and credit notes through `post_receivable`; cash arrives through
`record_payment`; `allocate` matches a credit item (payment, credit note, write-off) to a debit item
(invoice). Every item keeps its booking rate, so settling it at another rate posts the realized FX
difference on the allocation, and the AR control account always equals the subledger (see
`item_balances`).
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core import audit
from core.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole, AccountType, ArItemKind
from ledger.errors import InvalidPosting
from ledger.models import (
    Allocation,
    ArItem,
    Currency,
    GLAccount,
    JournalEntry,
    LegalEntity,
    Payment,
    WriteOffRequest,
)
from ledger.selectors import account_by_role, accounts_by_role
from ledger.services.posting import EntrySpec, LineSpec, post_entries, post_entry, reversal_spec

ZERO = Decimal(0)
PAYMENT_DOCUMENT = "ledger.payment"
ALLOCATION_SOURCE = "ledger.allocation"
WRITE_OFF_DOCUMENT = "ledger.write_off_request"


@dataclass
class ItemBalance:
    """What is still open of an AR item: in its own currency and at its booking value in functional currency.

    Both are signed like the item (negative for credit items).
    """

    open_amount: Decimal
    functional: Decimal


def item_balances(items: Iterable[ArItem]) -> dict[int, ItemBalance]:
    """Replay the allocation history of `items` (one query) into their open and remaining functional values.

    An allocation of `a` takes `a × item rate` (quantized) of functional value off each of its items, except
    the allocation that closes an item: that one takes all the functional value the item has left, so a
    settled item leaves exactly zero in AR, to the cent. A reversal gives back exactly what its original
    took. `allocate` computes its shares with this same replay, so the two always agree.
    """
    by_id = {item.pk: item for item in items}
    if not by_id:
        return {}
    entity_ids = {item.legal_entity_id for item in by_id.values()}
    functional_of = dict(
        LegalEntity.objects.filter(pk__in=entity_ids).values_list("pk", "functional_currency")
    )
    balances = {pk: ItemBalance(item.amount, item.functional_amount) for pk, item in by_id.items()}
    taken: dict[tuple[int, int], Decimal] = {}
    rows = (
        Allocation.objects.filter(Q(debit_item_id__in=by_id) | Q(credit_item_id__in=by_id))
        .order_by("id")
        .values_list("id", "debit_item_id", "credit_item_id", "amount", "reversal_of_id")
    )
    for allocation_id, debit_id, credit_id, amount, reversal_of_id in rows:
        for item_id in (debit_id, credit_id):
            if item_id not in by_id:
                continue
            item = by_id[item_id]
            if reversal_of_id is None:
                share = _share(item, balances[item_id], amount, functional_of[item.legal_entity_id])
            else:
                share = -taken[(reversal_of_id, item_id)]
            taken[(allocation_id, item_id)] = share
            _take(item, balances[item_id], amount, share)
    return balances


def _share(item: ArItem, balance: ItemBalance, amount: Decimal, functional_currency: str) -> Decimal:
    """The functional value (positive) that allocating `amount` takes off `item`."""
    sign = 1 if item.amount > 0 else -1
    if balance.open_amount - sign * amount == 0:
        return sign * balance.functional
    return quantize(amount * item.rate, functional_currency)


def _take(item: ArItem, balance: ItemBalance, amount: Decimal, share: Decimal) -> None:
    sign = 1 if item.amount > 0 else -1
    balance.open_amount -= sign * amount
    balance.functional -= sign * share


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


@transaction.atomic
def record_payment(
    *,
    actor,
    legal_entity: LegalEntity,
    client,
    date: date,
    amount: Decimal,
    currency: str,
    bank_account: GLAccount | None = None,
    reference: str = "",
    allocations: Sequence[tuple[ArItem, Decimal]] | None = None,
) -> Payment:
    """Book cash received from a client (Dr bank / Cr AR at the day's rate) and apply it to invoices.

    `allocations=None` applies it oldest due first to the client's open invoices in the payment's
    currency; a list of (invoice item, amount) applies it as given; `[]` leaves it unallocated. Whatever
    is not applied stays open on the payment's AR item as the client's unallocated credit.
    """
    require_role(actor, Role.FINANCE)
    _check_client(client, legal_entity)
    _check_currency(currency)
    _check_amount(amount, currency, "amount")
    bank = bank_account or account_by_role(legal_entity, AccountRole.CASH)
    if (
        bank.legal_entity_id != legal_entity.pk
        or bank.type != AccountType.ASSET
        or not bank.active
        # Control accounts (AR, unbilled revenue) are never where cash lands.
        or bank.role not in (None, AccountRole.CASH)
    ):
        raise ValidationFailed(
            f"Account {bank} is not a bank account of {legal_entity}; choose an active cash account.",
            fields={"bank_account": ["Not an active cash account of this legal entity."]},
        )
    key = uuid.uuid4().hex
    ar = account_by_role(legal_entity, AccountRole.AR)
    label = reference or f"PAY-{key[:8].upper()}"
    entry = post_entry(
        actor=actor,
        legal_entity=legal_entity,
        date=date,
        memo=f"Payment {label} from {client}",
        lines=[
            LineSpec(account=bank, currency=currency, debit=amount, client_id=client.pk, memo=label),
            LineSpec(account=ar, currency=currency, credit=amount, client_id=client.pk, memo=label),
        ],
        source_type=PAYMENT_DOCUMENT,
        source_id=key,
        posting_key=f"payment:{key}",
    )
    posted = entry.lines.get(account=ar)
    item = ArItem.objects.create(
        legal_entity=legal_entity,
        client=client,
        kind=ArItemKind.PAYMENT,
        document_type=PAYMENT_DOCUMENT,
        document_id=key,
        number=label[:50],
        date=date,
        due_date=date,
        currency=currency,
        amount=-amount,
        open_amount=-amount,
        rate=posted.rate,
        functional_amount=-posted.functional_credit,
        journal_entry=entry,
    )
    payment = Payment.objects.create(
        legal_entity=legal_entity,
        client=client,
        date=date,
        amount=amount,
        currency=currency,
        bank_account=bank,
        reference=reference,
        ar_item=item,
        journal_entry=entry,
        created_by=_user(actor),
    )
    audit.record(
        actor=actor,
        action="payment.recorded",
        obj=payment,
        changes={"amount": amount, "currency": currency, "functional_amount": posted.functional_credit},
    )
    if allocations is None or allocations:
        _allocate_payment(actor=actor, payment=payment, allocations=allocations, on=date)
        item.refresh_from_db(fields=["open_amount"])
    emit(
        "payment.received",
        payment,
        {
            "payment": payment.pk,
            "legal_entity": legal_entity.pk,
            "client": client.pk,
            "amount": amount,
            "currency": currency,
            "date": date,
            "unallocated": quantize(-item.open_amount, currency),
        },
        actor=actor,
    )
    return payment


@transaction.atomic
def allocate_payment(
    *,
    actor,
    payment: Payment,
    allocations: Sequence[tuple[ArItem, Decimal]] | None = None,
    on: date | None = None,
) -> list[Allocation]:
    """Apply a payment's unallocated money: oldest due first when `allocations` is None, else as given.

    `on` (default today) dates the allocations and any realized FX; only invoices dated by then qualify.
    """
    require_role(actor, Role.FINANCE)
    return _allocate_payment(
        actor=actor, payment=payment, allocations=allocations, on=on or timezone.localdate()
    )


def _allocate_payment(*, actor, payment, allocations, on) -> list[Allocation]:
    credit_id = payment.ar_item_id
    if allocations is None:
        locked = list(
            ArItem.objects.select_for_update()
            .filter(
                Q(pk=credit_id)
                | Q(
                    legal_entity_id=payment.legal_entity_id,
                    client_id=payment.client_id,
                    currency=payment.currency,
                    amount__gt=0,
                    open_amount__gt=0,
                    date__lte=on,
                )
            )
            .order_by("pk")
        )
        items = {item.pk: item for item in locked}
        credit = items.pop(credit_id)
        pairs = []
        left = -credit.open_amount
        for debit in sorted(items.values(), key=lambda i: (i.due_date, i.date, i.pk)):
            if left <= 0:
                break
            applied = quantize(min(left, debit.open_amount), debit.currency)
            pairs.append((credit, debit, applied))
            left -= applied
    else:
        items = _lock([credit_id, *(item.pk for item, _ in allocations)])
        credit = items[credit_id]
        pairs = [(credit, items[item.pk], amount) for item, amount in allocations]
    if not pairs:
        return []
    made = _apply(actor=actor, pairs=pairs, on=on)
    audit.record(
        actor=actor,
        action="payment.allocated",
        obj=payment,
        changes={
            "allocations": [[row.debit_item_id, row.amount, row.fx_difference] for row in made],
            "unallocated": -credit.open_amount,
        },
    )
    return made


@transaction.atomic
def allocate(*, actor, credit_item: ArItem, debit_item: ArItem, amount: Decimal, on: date) -> Allocation:
    """Apply `amount` of a credit item (payment, credit note) to an invoice, posting any realized FX.

    Each side gives up `amount × its booking rate` of functional value (the whole remainder when the
    allocation closes it); when the two differ, an entry moves the difference between AR and realized FX.
    """
    require_role(actor, Role.FINANCE)
    items = _lock([credit_item.pk, debit_item.pk])
    allocation = _apply(actor=actor, pairs=[(items[credit_item.pk], items[debit_item.pk], amount)], on=on)[0]
    audit.record(
        actor=actor,
        action="ar.allocated",
        obj=allocation,
        changes={"amount": allocation.amount, "fx_difference": allocation.fx_difference},
    )
    return allocation


def _lock(ids: Iterable[int]) -> dict[int, ArItem]:
    """Lock AR items in primary-key order (so concurrent allocators cannot deadlock) and re-read them."""
    return {
        item.pk: item for item in ArItem.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    }


def _apply(*, actor, pairs: list[tuple[ArItem, ArItem, Decimal]], on: date) -> list[Allocation]:
    """Create the allocations of `pairs` (credit, debit, amount) on locked items, set-wise.

    One history query, one insert of allocation rows, one update of open amounts, one posting call for
    the FX entries; pairs are applied in order, so one credit item can pay several invoices.
    """
    items = {}
    for credit, debit, _ in pairs:
        items[credit.pk] = credit
        items[debit.pk] = debit
    entity = next(iter(items.values())).legal_entity
    functional = entity.functional_currency
    balances = item_balances(items.values())
    for item in items.values():
        if balances[item.pk].open_amount != item.open_amount:
            raise InvalidPosting(
                f"AR item {item} has an open amount of {item.open_amount} but its allocations leave "
                f"{balances[item.pk].open_amount}; the subledger needs repair before allocating."
            )
    rows = []
    for credit, debit, amount in pairs:
        _check_pair(credit, debit, amount, on)
        debit_share = _share(debit, balances[debit.pk], amount, functional)
        credit_share = _share(credit, balances[credit.pk], amount, functional)
        _take(debit, balances[debit.pk], amount, debit_share)
        _take(credit, balances[credit.pk], amount, credit_share)
        debit.open_amount -= amount
        credit.open_amount += amount
        rows.append(
            Allocation(
                legal_entity=entity,
                debit_item=debit,
                credit_item=credit,
                date=on,
                amount=amount,
                fx_difference=debit_share - credit_share,
                created_by=_user(actor),
            )
        )
    Allocation.objects.bulk_create(rows)
    ArItem.objects.bulk_update(list(items.values()), ["open_amount"])
    roles = accounts_by_role(entity)
    specs = [_fx_spec(row, on, roles) for row in rows if row.fx_difference]
    if specs:
        post_entries(actor=actor, entries=specs)
    return rows


def _check_pair(credit: ArItem, debit: ArItem, amount: Decimal, on: date) -> None:
    if debit.amount <= 0:
        raise ValidationFailed(
            f"{debit} is a credit item; money is applied to invoices.",
            fields={"debit_item": ["Not a debit."]},
        )
    if credit.amount >= 0:
        raise ValidationFailed(
            f"{credit} is not a payment, credit note or write-off.", fields={"credit_item": ["Not a credit."]}
        )
    if credit.legal_entity_id != debit.legal_entity_id or credit.client_id != debit.client_id:
        raise ValidationFailed(
            f"{credit} and {debit} belong to different clients or legal entities.",
            fields={"debit_item": ["Another client's item."]},
        )
    if credit.currency != debit.currency:
        raise ValidationFailed(
            f"{credit} is in {credit.currency} but {debit} in {debit.currency}; allocate in one currency.",
            fields={"debit_item": [f"Not in {credit.currency}."]},
        )
    _check_amount(amount, debit.currency, "amount")
    if amount > debit.open_amount:
        raise ValidationFailed(
            f"{_show(amount, debit.currency)} is more than the {_show(debit.open_amount, debit.currency)} "
            f"still open on {debit}.",
            fields={"amount": [f"At most {_show(debit.open_amount, debit.currency)}."]},
        )
    if amount > -credit.open_amount:
        raise ValidationFailed(
            f"{_show(amount, credit.currency)} is more than the "
            f"{_show(-credit.open_amount, credit.currency)} left to apply on {credit}.",
            fields={"amount": [f"At most {_show(-credit.open_amount, credit.currency)}."]},
        )
    if on < debit.date or on < credit.date:
        raise ValidationFailed(
            f"An allocation cannot be dated {on.isoformat()}, before {credit} or {debit} existed.",
            fields={"on": ["Before one of the items' dates."]},
        )


def _fx_spec(allocation: Allocation, on: date, roles: dict[str, GLAccount]) -> EntrySpec:
    """The realized FX of an allocation: the AR line brings the settled part to zero, the other side is P&L.

    `fx_difference` > 0 means the invoice was worth more when booked than the credit that settles it:
    a loss, Cr AR / Dr realized FX. Below zero it is a gain, Dr AR / Cr realized FX.
    """
    debit, credit = allocation.debit_item, allocation.credit_item
    entity = allocation.legal_entity
    difference = allocation.fx_difference
    loss, gain = (difference, None) if difference > 0 else (None, -difference)
    memo = f"Realized FX: {credit} applied to {debit}"
    return EntrySpec(
        legal_entity=entity,
        date=on,
        memo=memo,
        lines=[
            LineSpec(
                account=roles[AccountRole.AR],
                currency=debit.currency,
                functional_debit=gain,
                functional_credit=loss,
                client_id=debit.client_id,
                memo=memo,
            ),
            LineSpec(
                account=roles[AccountRole.FX_REALIZED],
                currency=debit.currency,
                functional_debit=loss,
                functional_credit=gain,
                client_id=debit.client_id,
                memo=memo,
            ),
        ],
        source_type=ALLOCATION_SOURCE,
        source_id=str(allocation.pk),
        posting_key=f"allocation:{allocation.pk}",
    )


@transaction.atomic
def reverse_allocation(*, actor, allocation: Allocation, reason: str, on: date | None = None) -> Allocation:
    """Undo an allocation: a reversing row (negative amount), open amounts restored, its FX entry mirrored.

    `on` (default today) dates the reversal; an allocation is reversed at most once.
    """
    require_role(actor, Role.FINANCE)
    if not reason.strip():
        raise ValidationFailed(
            "Say why the allocation is being reversed.", fields={"reason": ["This field is required."]}
        )
    allocation = Allocation.objects.get(pk=allocation.pk)
    items = _lock([allocation.debit_item_id, allocation.credit_item_id])
    if allocation.reversal_of_id is not None:
        raise InvalidTransition("This allocation is itself a reversal; allocate again instead.")
    debit, credit = items[allocation.debit_item_id], items[allocation.credit_item_id]
    if Allocation.objects.filter(reversal_of=allocation).exists():
        raise InvalidTransition(
            f"The allocation of {_show(allocation.amount, debit.currency)} to {debit} is already reversed."
        )
    if credit.kind == ArItemKind.WRITE_OFF:
        # Undone alone, it would leave a floating write-off credit that could settle another invoice.
        raise InvalidTransition(
            f"{credit} settles {debit} for good; a write-off's allocation is not reversed."
        )
    on = on or timezone.localdate()
    if on < allocation.date:
        raise ValidationFailed(
            "A reversal cannot be dated before the allocation it reverses.", fields={"on": ["Too early."]}
        )
    reversal = Allocation.objects.create(
        legal_entity_id=allocation.legal_entity_id,
        debit_item=debit,
        credit_item=credit,
        date=on,
        amount=-allocation.amount,
        fx_difference=-allocation.fx_difference,
        reversal_of=allocation,
        created_by=_user(actor),
    )
    debit.open_amount += allocation.amount
    credit.open_amount -= allocation.amount
    ArItem.objects.bulk_update([debit, credit], ["open_amount"])
    fx_entry = JournalEntry.objects.filter(posting_key=f"allocation:{allocation.pk}").first()
    if fx_entry is not None:
        # Keyed like every allocation's FX entry, so the reversing row finds its entry the same way.
        spec = replace(
            reversal_spec(fx_entry, on=on),
            source_id=str(reversal.pk),
            posting_key=f"allocation:{reversal.pk}",
        )
        post_entries(actor=actor, entries=[spec])
    audit.record(
        actor=actor,
        action="ar.allocation_reversed",
        obj=allocation,
        changes={
            "amount": allocation.amount,
            "fx_difference": allocation.fx_difference,
            "reversal": reversal.pk,
            "debit_open": [debit.open_amount - allocation.amount, debit.open_amount],
            "credit_open": [credit.open_amount + allocation.amount, credit.open_amount],
        },
        reason=reason,
    )
    return reversal


@transaction.atomic
def request_write_off(
    *, actor, ar_item: ArItem, reason: str, on: date, amount: Decimal | None = None
) -> WriteOffRequest:
    """Ask to write off (part of) an invoice's open amount; posted at once up to the entity's threshold.

    Above the threshold (the amount at the invoice's booking rate, in functional currency) the request
    waits for another finance user's approval.
    """
    require_role(actor, Role.FINANCE)
    if not reason.strip():
        raise ValidationFailed(
            "Say why the amount is written off.", fields={"reason": ["This field is required."]}
        )
    item = _lock([ar_item.pk])[ar_item.pk]
    if item.amount <= 0:
        raise ValidationFailed(f"{item} is a credit item; only invoices are written off.")
    if item.open_amount == 0:
        raise InvalidTransition(f"{item} is settled; there is nothing to write off.")
    if WriteOffRequest.objects.filter(ar_item=item, status=WriteOffRequest.Status.PENDING).exists():
        raise InvalidTransition(
            f"A write-off of {item} is already waiting for approval; decide that one first."
        )
    amount = quantize(item.open_amount, item.currency) if amount is None else amount
    _check_amount(amount, item.currency, "amount")
    if amount > item.open_amount:
        raise ValidationFailed(
            f"{_show(amount, item.currency)} is more than the {_show(item.open_amount, item.currency)} "
            f"still open on {item}.",
            fields={"amount": [f"At most {_show(item.open_amount, item.currency)}."]},
        )
    if on < item.date:
        raise ValidationFailed(
            "A write-off cannot be dated before the invoice.", fields={"on": ["Too early."]}
        )
    request = WriteOffRequest.objects.create(
        legal_entity_id=item.legal_entity_id,
        ar_item=item,
        amount=amount,
        date=on,
        reason=reason,
        requested_by=actor,
    )
    entity = item.legal_entity
    value = quantize(amount * item.rate, entity.functional_currency)
    audit.record(
        actor=actor,
        action="write_off.requested",
        obj=request,
        changes={"amount": amount, "currency": item.currency, "functional_value": value},
        reason=reason,
    )
    if value <= entity.write_off_approval_threshold:
        _post_write_off(actor=actor, request=request, item=item)
    return request


@transaction.atomic
def approve_write_off(*, actor, request: WriteOffRequest) -> WriteOffRequest:
    """Approve and post a pending write-off: finance, and someone other than the requester."""
    require_role(actor, Role.FINANCE)
    request = WriteOffRequest.objects.select_for_update().get(pk=request.pk)
    if request.requested_by_id == actor.pk:
        raise PermissionDenied("You requested this write-off; another finance user must approve it.")
    if request.status != WriteOffRequest.Status.PENDING:
        raise InvalidTransition(f"The write-off is {request.get_status_display().lower()}, not pending.")
    item = _lock([request.ar_item_id])[request.ar_item_id]
    if request.amount > item.open_amount:
        raise InvalidTransition(
            f"{item} has only {_show(item.open_amount, item.currency)} open now, less than the "
            f"{_show(request.amount, item.currency)} to write off; reject this request and raise a new one."
        )
    return _post_write_off(actor=actor, request=request, item=item)


@transaction.atomic
def reject_write_off(*, actor, request: WriteOffRequest, reason: str) -> WriteOffRequest:
    """Refuse a pending write-off; the invoice stays open. Finance only; the reason is audited."""
    require_role(actor, Role.FINANCE)
    if not reason.strip():
        raise ValidationFailed(
            "Say why the write-off is rejected.", fields={"reason": ["This field is required."]}
        )
    request = WriteOffRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != WriteOffRequest.Status.PENDING:
        raise InvalidTransition(f"The write-off is {request.get_status_display().lower()}, not pending.")
    request.status = WriteOffRequest.Status.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        actor=actor,
        action="write_off.rejected",
        obj=request,
        changes={"status": [WriteOffRequest.Status.PENDING, WriteOffRequest.Status.REJECTED]},
        reason=reason,
    )
    return request


def _post_write_off(*, actor, request: WriteOffRequest, item: ArItem) -> WriteOffRequest:
    """Dr bad debt / Cr AR at the invoice's booking value, then settle the invoice with the write-off item.

    Both sides carry the same functional value, so the allocation realizes no FX.
    """
    entity = item.legal_entity
    value = _share(item, item_balances([item])[item.pk], request.amount, entity.functional_currency)
    roles = accounts_by_role(entity)
    memo = f"Write-off of {_show(request.amount, item.currency)} on {item}"
    entry = post_entry(
        actor=actor,
        legal_entity=entity,
        date=request.date,
        memo=memo,
        lines=[
            LineSpec(
                account=roles[AccountRole.BAD_DEBT],
                currency=item.currency,
                debit=request.amount,
                functional_debit=value,
                client_id=item.client_id,
                memo=memo,
            ),
            LineSpec(
                account=roles[AccountRole.AR],
                currency=item.currency,
                credit=request.amount,
                functional_credit=value,
                client_id=item.client_id,
                memo=memo,
            ),
        ],
        source_type=WRITE_OFF_DOCUMENT,
        source_id=str(request.pk),
        posting_key=f"write-off:{request.pk}",
    )
    credit = ArItem.objects.create(
        legal_entity=entity,
        client_id=item.client_id,
        kind=ArItemKind.WRITE_OFF,
        document_type=WRITE_OFF_DOCUMENT,
        document_id=str(request.pk),
        number=f"WO-{request.pk}",
        date=request.date,
        due_date=request.date,
        currency=item.currency,
        amount=-request.amount,
        open_amount=-request.amount,
        rate=item.rate,
        functional_amount=-value,
        journal_entry=entry,
    )
    _apply(actor=actor, pairs=[(credit, item, request.amount)], on=request.date)
    previous = request.status
    request.status = WriteOffRequest.Status.POSTED
    request.credit_item = credit
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "credit_item", "decided_by", "decided_at"])
    audit.record(
        actor=actor,
        action="write_off.posted",
        obj=request,
        changes={
            "status": [previous, request.status],
            "amount": request.amount,
            "functional_amount": value,
            "open_amount": [item.open_amount + request.amount, item.open_amount],
        },
    )
    emit(
        "write_off.posted",
        request,
        {
            "write_off": request.pk,
            "ar_item": item.pk,
            "client": item.client_id,
            "amount": request.amount,
            "currency": item.currency,
            "functional_amount": value,
        },
        actor=actor,
    )
    return request


def _check_client(client, legal_entity: LegalEntity) -> None:
    if client.legal_entity_id != legal_entity.pk:
        raise ValidationFailed(
            f"{client} is a client of another legal entity, not of {legal_entity}.",
            fields={"client": ["Belongs to another legal entity."]},
        )


def _check_currency(currency: str) -> None:
    if not Currency.objects.filter(code=currency, active=True).exists():
        raise ValidationFailed(
            f"Unknown currency '{currency}'.", fields={"currency": ["Not an active currency."]}
        )


def _check_amount(amount: Decimal, currency: str, field: str) -> None:
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise ValidationFailed(f"The {field} must be a Decimal.", fields={field: ["Not a decimal amount."]})
    if amount <= 0:
        raise ValidationFailed(
            f"The {field} must be positive, not {amount}.", fields={field: ["Must be positive."]}
        )
    if quantize(amount, currency) != amount:
        raise ValidationFailed(
            f"The {field} {amount} has more decimals than {currency} allows.",
            fields={field: [f"Round to {currency}'s minor unit."]},
        )


def _show(amount: Decimal, currency: str) -> str:
    """An amount for a message: 1,234.50 EUR."""
    return f"{quantize(amount, currency):,} {currency}"


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
