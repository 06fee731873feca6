"""Write-offs: requesting, approving and rejecting them, and posting them as bad debt."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole, ArItemKind
from ledger.models import ArItem, WriteOffRequest
from ledger.selectors import accounts_by_role
from ledger.services.ar._common import _check_amount, _check_open_period, _lock, _show
from ledger.services.ar.allocations import _apply, _share, item_balances
from ledger.services.posting import LineSpec, post_entry

WRITE_OFF_DOCUMENT = "ledger.write_off_request"


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
    _check_open_period(item.legal_entity_id, on)
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
