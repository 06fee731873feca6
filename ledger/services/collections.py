"""Collections: disputes and promises to pay (the holds dunning respects), logged calls, statements.

A hold is a `CollectionHold` row: a dispute on one invoice until resolved, or a promise to pay (one
invoice, several, or the whole client) until a date. Dunning skips what an open hold covers and says why.
Promises are settled by `settle_promises` (nightly, and before every dunning run): paid as promised →
resolved as kept; past their date unpaid → broken, and dunning resumes. CRM activities for account
managers are created as the system, since CRM writes are the account managers' own.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core import audit
from core.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit, emit_many
from core.money import format_money, quantize
from core.roles import Role, has_role, require_role
from crm.access import can_change
from crm.choices import ActivityKind
from crm.models import Account, Contact
from crm.services.accounts import complete_activity, create_activity
from ledger.choices import ArItemKind, HoldKind, HoldStatus
from ledger.models import Allocation, ArItem, CollectionHold, LegalEntity, Payment

logger = logging.getLogger("ledgerline.collections")
ZERO = Decimal(0)


class AlreadyDisputed(Conflict):
    code = "already_disputed"


def can_collect(user, client: Account) -> bool:
    """Finance works every client; an account manager (project manager) the clients they own or unowned."""
    if has_role(user, Role.FINANCE):
        return True
    return has_role(user, Role.PROJECT_MANAGER) and can_change(user, client.owner_id)


def _require_collector(actor, client: Account) -> None:
    if not can_collect(actor, client):
        raise PermissionDenied(
            f"Only finance or {client}'s account manager may work its collections.",
            code="permission_denied",
        )


def _text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(message, fields={field: [message]})
    return value


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else "nobody"


def _open_invoice(ar_item: ArItem) -> ArItem:
    """The item, locked, if it is an invoice with something still open; else a 400."""
    item = ArItem.objects.select_for_update(of=("self",)).select_related("client").get(pk=ar_item.pk)
    if item.kind != ArItemKind.INVOICE or item.amount <= 0:
        raise ValidationFailed(
            f"{item.number} is not an invoice; only invoices are disputed or promised.",
            fields={"ar_item": ["Not an invoice."]},
        )
    if item.open_amount == 0:
        raise ValidationFailed(
            f"Invoice {item.number} is paid; there is nothing to dispute or promise.",
            fields={"ar_item": ["Already paid."]},
        )
    return item


def _crm_task(*, client: Account, owner, subject: str, notes: str, kind: str = ActivityKind.TASK):
    return create_activity(
        actor=None,
        account=client,
        kind=kind,
        subject=subject[:200],
        due=timezone.localdate(),
        owner=owner,
        notes=notes,
    )


@transaction.atomic
def open_dispute(*, actor, ar_item: ArItem, reason: str, owner=None) -> CollectionHold:
    """Mark an invoice disputed: dunning pauses on it until the dispute is resolved.

    The account manager hears of it by a CRM task (the client's owner, else the dispute's owner) and
    the event `invoice.disputed`. `owner` works the dispute (default: the actor). One open dispute per
    invoice (`already_disputed`, 409).
    """
    item = _open_invoice(ar_item)
    _require_collector(actor, item.client)
    reason = _text(reason, "reason", "Say what the client disputes.")
    owner = owner or (actor if getattr(actor, "is_authenticated", False) else None)
    if CollectionHold.objects.filter(ar_item=item, kind=HoldKind.DISPUTE, status=HoldStatus.OPEN).exists():
        raise AlreadyDisputed(
            f"Invoice {item.number} is already disputed; resolve that dispute or add to it.",
            fields={"ar_item": ["Already disputed."]},
        )
    try:
        with transaction.atomic():
            hold = CollectionHold.objects.create(
                legal_entity_id=item.legal_entity_id,
                client=item.client,
                ar_item=item,
                kind=HoldKind.DISPUTE,
                reason=reason,
                owner=owner,
                currency=item.currency,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise AlreadyDisputed(
            f"Invoice {item.number} was just disputed by someone else.",
            fields={"ar_item": ["Already disputed."]},
        ) from None
    open_amount = format_money(item.open_amount, item.currency)
    manager = item.client.owner or owner
    _crm_task(
        client=item.client,
        owner=manager,
        subject=f"Invoice {item.number} disputed ({open_amount})",
        notes=f"{item.client} disputes invoice {item.number}: {reason}\nDispute worked by {_name(owner)}; "
        "dunning of this invoice is paused until it is resolved.",
    )
    data = {
        "hold": hold.pk,
        "ar_item": item.pk,
        "number": item.number,
        "invoice": int(item.document_id) if item.document_type == "billing.invoice" else None,
        "client": item.client_id,
        "open_amount": item.open_amount,
        "currency": item.currency,
        "reason": reason,
        "owner": getattr(owner, "pk", None),
    }
    audit.record(actor=actor, action="collection_hold.dispute_opened", obj=hold, changes=data, reason=reason)
    emit("invoice.disputed", hold, data, actor=actor)
    return hold


@transaction.atomic
def resolve_hold(*, actor, hold: CollectionHold, resolution: str) -> CollectionHold:
    """Close an open dispute (with what was agreed) or withdraw an open promise; dunning resumes."""
    hold = (
        CollectionHold.objects.select_for_update(of=("self",))
        .select_related("client", "ar_item")
        .get(pk=hold.pk)
    )
    _require_collector(actor, hold.client)
    if hold.status != HoldStatus.OPEN:
        raise InvalidTransition(f"The {hold.get_kind_display().lower()} is already {hold.status}.")
    resolution = _text(resolution, "resolution", "Say how it was resolved.")
    hold.status = HoldStatus.RESOLVED
    hold.resolution = resolution
    hold.resolved_at = timezone.now()
    hold.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    hold.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    data = {"hold": hold.pk, "kind": hold.kind, "client": hold.client_id, "ar_item": hold.ar_item_id}
    audit.record(
        actor=actor,
        action=f"collection_hold.{hold.kind}_resolved",
        obj=hold,
        changes={"status": [HoldStatus.OPEN, HoldStatus.RESOLVED], **data},
        reason=resolution,
    )
    if hold.kind == HoldKind.DISPUTE:
        emit("invoice.dispute_resolved", hold, {**data, "resolution": resolution}, actor=actor)
    return hold


def resolve_dispute(*, actor, hold: CollectionHold, resolution: str) -> CollectionHold:
    if hold.kind != HoldKind.DISPUTE:
        raise ValidationFailed(
            "That hold is a promise to pay, not a dispute.", fields={"hold": ["Not a dispute."]}
        )
    return resolve_hold(actor=actor, hold=hold, resolution=resolution)


def _promise_shares(items: list[ArItem], amount: Decimal) -> list[tuple[ArItem, Decimal]]:
    """Spread the promised amount over the invoices, oldest due first; each must get a share."""
    shares, left = [], amount
    for item in sorted(items, key=lambda item: (item.due_date, item.pk)):
        share = min(left, item.open_amount)
        if share <= 0:
            raise ValidationFailed(
                f"The promised amount runs out before invoice {item.number}; promise more or leave it out.",
                fields={"ar_items": [f"{item.number} gets nothing of the promised amount."]},
            )
        shares.append((item, share))
        left -= share
    if left > 0:
        raise ValidationFailed(
            f"The promise exceeds what the chosen invoices have open by {left}.",
            fields={"amount": ["More than the invoices' open amount."]},
        )
    return shares


@transaction.atomic
def record_promise_to_pay(
    *,
    actor,
    client: Account,
    until: date,
    amount: Decimal,
    ar_items: Sequence[ArItem] | None = None,
    note: str = "",
    currency: str | None = None,
) -> list[CollectionHold]:
    """Record that the client promised to pay `amount` by `until`; dunning holds off until then.

    With `ar_items`, the promise covers those invoices (one hold each, the amount spread oldest due
    first); without, the whole client (in `currency`, default the client's). Kept when the client pays
    the promised amount (allocations to the invoices, or payments of the client, from today), broken
    when `until` passes unpaid.
    """
    _require_collector(actor, client)
    today = timezone.localdate()
    problems = {}
    if until is None or until < today:
        problems["until"] = ["The promised date is today or later."]
    if amount is None or amount <= 0:
        problems["amount"] = ["The promised amount is more than zero."]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    user = actor if getattr(actor, "is_authenticated", False) else None
    reason = (note or "").strip() or "Promise to pay"
    if ar_items:
        items = [_open_invoice(item) for item in sorted(ar_items, key=lambda item: item.pk)]
        if any(item.client_id != client.pk for item in items):
            raise ValidationFailed(
                f"Every invoice of the promise must be {client}'s.",
                fields={"ar_items": ["Another client's."]},
            )
        currencies = {item.currency for item in items}
        if len(currencies) > 1 or (currency and currency not in currencies):
            raise ValidationFailed(
                "A promise covers invoices in one currency.", fields={"ar_items": ["Mixed currencies."]}
            )
        currency = currencies.pop()
        shares = _promise_shares(items, quantize(amount, currency))
    else:
        currency = currency or client.currency
        shares = [(None, quantize(amount, currency))]
    holds = CollectionHold.objects.bulk_create(
        CollectionHold(
            legal_entity_id=client.legal_entity_id,
            client=client,
            ar_item=item,
            kind=HoldKind.PROMISE,
            reason=reason,
            owner=user,
            until=until,
            promised_amount=share,
            currency=currency,
            created_by=user,
        )
        for item, share in shares
    )
    rows = [
        (
            hold,
            {
                "hold": hold.pk,
                "client": client.pk,
                "ar_item": hold.ar_item_id,
                "until": until,
                "promised_amount": hold.promised_amount,
                "currency": currency,
            },
        )
        for hold in holds
    ]
    audit.record_many(actor=actor, action="collection_hold.promise_recorded", rows=rows, reason=reason)
    emit_many("promise_to_pay.recorded", rows, actor=actor)
    return holds


def _paid_since(holds: list[CollectionHold]) -> dict[int, Decimal]:
    """What was paid towards each promise since it was made: two queries for any number of promises."""
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    item_holds = [hold for hold in holds if hold.ar_item_id]
    client_holds = [hold for hold in holds if not hold.ar_item_id]
    if item_holds:
        start = min(hold.created_at.date() for hold in item_holds)
        applied = (
            Allocation.objects.filter(
                debit_item_id__in={hold.ar_item_id for hold in item_holds}, date__gte=start
            )
            .values("debit_item_id", "date")
            .annotate(total=Sum("amount"))
        )
        by_item = defaultdict(list)
        for row in applied:
            by_item[row["debit_item_id"]].append((row["date"], row["total"]))
        for hold in item_holds:
            since = hold.created_at.date()
            paid[hold.pk] = sum((total for day, total in by_item[hold.ar_item_id] if day >= since), ZERO)
    if client_holds:
        start = min(hold.created_at.date() for hold in client_holds)
        received = (
            Payment.objects.filter(client_id__in={hold.client_id for hold in client_holds}, date__gte=start)
            .values("client_id", "currency", "date")
            .annotate(total=Sum("amount"))
        )
        by_client = defaultdict(list)
        for row in received:
            by_client[(row["client_id"], row["currency"])].append((row["date"], row["total"]))
        for hold in client_holds:
            since = hold.created_at.date()
            rows = by_client[(hold.client_id, hold.currency)]
            paid[hold.pk] = sum((total for day, total in rows if day >= since), ZERO)
    return paid


@transaction.atomic
def settle_promises(*, as_of: date, legal_entity: LegalEntity | None = None) -> dict[str, int]:
    """Close the open promises that were kept (paid as promised) or broken (`until` before `as_of`, unpaid).

    Claims the open promises with `skip_locked`, so a concurrent twin settles the others. A broken promise
    gets a CRM task for its owner to follow up; dunning resumes on the next run.
    """
    promises = CollectionHold.objects.filter(kind=HoldKind.PROMISE, status=HoldStatus.OPEN)
    if legal_entity is not None:
        promises = promises.filter(legal_entity=legal_entity)
    holds = list(
        promises.select_for_update(of=("self",), skip_locked=True).select_related(
            "client", "owner", "ar_item"
        )
    )
    if not holds:
        return {"kept": 0, "broken": 0}
    paid = _paid_since(holds)
    now = timezone.now()
    kept, broken = [], []
    for hold in holds:
        received = quantize(paid[hold.pk], hold.currency)
        shown = format_money(received, hold.currency)
        if hold.promised_amount is None:
            # A promise without an amount is kept when its invoice is paid (or, for a client, any payment).
            done = hold.ar_item.open_amount == 0 if hold.ar_item_id else received > 0
        else:
            done = received >= hold.promised_amount
        if done:
            hold.status = HoldStatus.RESOLVED
            hold.resolution = f"Kept: {shown} paid by {as_of.isoformat()}."
            kept.append(hold)
        elif hold.until < as_of:
            hold.status = HoldStatus.BROKEN
            promised = format_money(hold.promised_amount or ZERO, hold.currency)
            hold.resolution = f"Broken: {shown} of {promised} paid by {hold.until.isoformat()}."
            broken.append(hold)
        else:
            continue
        hold.resolved_at = now
    CollectionHold.objects.bulk_update([*kept, *broken], ["status", "resolution", "resolved_at"])
    for status, settled in ((HoldStatus.RESOLVED, kept), (HoldStatus.BROKEN, broken)):
        rows = [
            (hold, {"hold": hold.pk, "client": hold.client_id, "resolution": hold.resolution})
            for hold in settled
        ]
        if rows:
            action = "kept" if status == HoldStatus.RESOLVED else "broken"
            audit.record_many(actor=None, action=f"collection_hold.promise_{action}", rows=rows)
            emit_many(f"promise_to_pay.{action}", rows)
    for hold in broken:
        _crm_task(
            client=hold.client,
            owner=hold.owner or hold.client.owner,
            subject=f"Promise to pay broken by {hold.client}",
            notes=f"{hold.resolution} Dunning resumes; call the client.",
        )
    return {"kept": len(kept), "broken": len(broken)}


@transaction.atomic
def log_collection_call(
    *,
    actor,
    client: Account,
    summary: str,
    contact: Contact | None = None,
    notes: str = "",
    follow_up: date | None = None,
):
    """Log a collections call as a done CRM call; with `follow_up`, also plan a task for that day."""
    _require_collector(actor, client)
    summary = _text(summary, "summary", "Say what the call was about or agreed.")
    if contact is not None and contact.account_id != client.pk:
        raise ValidationFailed(
            "That contact belongs to another client.", fields={"contact": ["Another client's."]}
        )
    if follow_up is not None and follow_up < timezone.localdate():
        raise ValidationFailed("A follow-up is today or later.", fields={"follow_up": ["In the past."]})
    owner = actor if getattr(actor, "is_authenticated", False) else None
    call = create_activity(
        actor=actor,
        account=client,
        kind=ActivityKind.CALL,
        subject=f"Collections call: {summary}"[:200],
        due=timezone.localdate(),
        owner=owner,
        contact=contact,
        notes=notes,
    )
    call = complete_activity(actor=actor, activity=call)
    task = None
    if follow_up is not None:
        task = create_activity(
            actor=actor,
            account=client,
            kind=ActivityKind.TASK,
            subject=f"Follow up collections call: {summary}"[:200],
            due=follow_up,
            owner=owner,
            contact=contact,
        )
    audit.record(
        actor=actor,
        action="collection.call_logged",
        obj=client,
        changes={"activity": call.pk, "follow_up": getattr(task, "pk", None), "summary": summary},
    )
    return call


@transaction.atomic
def send_statement(*, actor, client: Account, as_of: date | None = None) -> Account:
    """E-mail the client its statement of open items as a PDF, after this transaction commits."""
    require_role(actor, Role.FINANCE)
    if not client.billing_email:
        raise ValidationFailed(
            f"{client} has no billing e-mail address; add one in the CRM first.",
            code="no_billing_email",
            fields={"client": ["No billing e-mail address."]},
        )
    as_of = as_of or timezone.localdate()
    audit.record(
        actor=actor,
        action="collection.statement_sent",
        obj=client,
        changes={"as_of": as_of, "to": client.billing_email},
    )
    transaction.on_commit(partial(_mail_statement, client_id=client.pk, as_of=as_of), robust=True)
    return client


def _mail_statement(*, client_id: int, as_of: date) -> None:
    from ledger.services.dunning.letters import render_statement_pdf

    client = Account.objects.select_related("legal_entity").get(pk=client_id)
    message = EmailMessage(
        subject=f"Statement of account from {client.legal_entity.name} as of {as_of.isoformat()}",
        body=(
            f"Dear {client.name},\n\nPlease find attached your statement of account as of "
            f"{as_of.isoformat()}, listing the invoices still open and what is overdue.\n\n"
            f"{client.legal_entity.name}"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[client.billing_email],
    )
    message.attach(
        f"statement-{as_of.isoformat()}.pdf",
        render_statement_pdf(client=client, as_of=as_of),
        "application/pdf",
    )
    message.send()
