"""Allocations: matching a credit item to an invoice, realized FX, reversals, and the balances they leave.

Every item keeps its booking rate; `item_balances` replays an item's allocation history into what is still
open of it, and `allocate` / `_apply` take each side's functional share with that same replay.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole, ArItemKind
from ledger.errors import InvalidPosting
from ledger.models import Allocation, ArItem, GLAccount, JournalEntry, LegalEntity
from ledger.selectors import accounts_by_role
from ledger.services.ar._common import _check_amount, _check_open_period, _lock, _show, _user
from ledger.services.posting import EntrySpec, LineSpec, post_entries, reversal_spec

ALLOCATION_SOURCE = "ledger.allocation"


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
    _check_open_period(entity.pk, on)
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
    _check_open_period(allocation.legal_entity_id, on)
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
