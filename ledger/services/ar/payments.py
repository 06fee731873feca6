"""Payments: cash received from clients, booked and applied to their invoices."""

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit
from core.errors import ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole, AccountType, ArItemKind
from ledger.models import Allocation, ArItem, GLAccount, LegalEntity, Payment
from ledger.selectors import account_by_role
from ledger.services.ar._common import _check_amount, _check_client, _check_currency, _lock, _user
from ledger.services.ar.allocations import _apply
from ledger.services.posting import LineSpec, post_entry

PAYMENT_DOCUMENT = "ledger.payment"


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
