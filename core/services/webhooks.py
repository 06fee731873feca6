"""Webhook subscriptions and the signed, retried, dead-lettered delivery of domain events to them."""

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import socket
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from core import audit
from core.api.serializers import EventSerializer
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.models import Event, WebhookDelivery, WebhookSubscription

logger = logging.getLogger("ledgerline.webhooks")

SIGNING_KEY_PREFIX = "whsec_"
EVENT_TYPE_PATTERN = re.compile(r"^[a-z_]+\.[a-z_]+$")
PING_EVENT_TYPE = "webhook.ping"
USER_AGENT = "Ledgerline-Webhooks/1"
MAX_EVENT_TYPES = 100
MIN_SECRET_LENGTH = 16
MAX_ERROR_LENGTH = 1000
# Enough of a failing receiver's answer to diagnose it, without reading an arbitrarily large body.
MAX_RESPONSE_EXCERPT_BYTES = 500

_url_validator = URLValidator(schemes=["http", "https"])
_url_max_length = WebhookSubscription._meta.get_field("url").max_length
_secret_max_length = WebhookSubscription._meta.get_field("secret").max_length


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`: the `v1` of X-Ledgerline-Signature."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str, body: bytes, tolerance_seconds: int = 300) -> bool:
    """True if `header` (`t=<unix ts>,v1=<hex>`) signs `body` with `secret` and is recent enough.

    The tolerance bounds how long a captured request can be replayed to the receiver.
    """
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or not signatures:
        return False
    if abs(timezone.now().timestamp() - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign_payload(secret, int(timestamp), body).encode()
    return any(hmac.compare_digest(expected, signature.encode()) for signature in signatures)


def generate_webhook_secret() -> str:
    return SIGNING_KEY_PREFIX + secrets.token_urlsafe(32)


def _url_errors(url) -> list[str]:
    if not isinstance(url, str) or not url:
        return ["Enter the URL that receives the events."]
    if len(url) > _url_max_length:
        return [f"Use at most {_url_max_length} characters."]
    try:
        _url_validator(url)
    except ValidationError:
        return ["Enter a valid http:// or https:// URL."]
    return []


def _event_types_errors(event_types) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        return ['Choose at least one event type, or ["*"] for all events.']
    if len(event_types) > MAX_EVENT_TYPES:
        return [f"Choose at most {MAX_EVENT_TYPES} event types."]
    return [
        f"'{event_type}' is not an event type; use names like 'invoice.released', or '*'."
        for event_type in event_types
        if not isinstance(event_type, str) or not (event_type == "*" or EVENT_TYPE_PATTERN.match(event_type))
    ]


def _secret_errors(secret) -> list[str]:
    if not isinstance(secret, str) or not MIN_SECRET_LENGTH <= len(secret) <= _secret_max_length:
        return [f"Use {MIN_SECRET_LENGTH} to {_secret_max_length} characters, or leave it out to get one."]
    return []


def _raise_if_invalid(errors: dict[str, list[str]]) -> None:
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        field, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", fields=errors)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _audited_fields(subscription: WebhookSubscription) -> dict:
    return {
        "url": subscription.url,
        "event_types": subscription.event_types,
        "active": subscription.active,
        "description": subscription.description,
    }


@transaction.atomic
def create_webhook_subscription(
    *,
    actor,
    owner,
    url: str,
    event_types: list[str],
    secret: str | None = None,
    description: str = "",
    active: bool = True,
) -> WebhookSubscription:
    """Subscribe `owner`'s endpoint to the given event types; a signing secret is generated unless given."""
    errors = {"url": _url_errors(url), "event_types": _event_types_errors(event_types)}
    if secret is not None:
        errors["secret"] = _secret_errors(secret)
    _raise_if_invalid(errors)
    subscription = WebhookSubscription.objects.create(
        owner=owner,
        url=url,
        event_types=_unique(event_types),
        secret=secret if secret is not None else generate_webhook_secret(),
        description=description.strip(),
        active=active,
    )
    audit.record(
        actor=actor,
        action="webhook_subscription.created",
        obj=subscription,
        changes={**_audited_fields(subscription), "owner": owner.pk},
    )
    return subscription


@transaction.atomic
def update_webhook_subscription(
    *,
    actor,
    subscription: WebhookSubscription,
    url: str | None = None,
    event_types: list[str] | None = None,
    active: bool | None = None,
    description: str | None = None,
) -> WebhookSubscription:
    """Change the given fields (None leaves a field as it is) and audit what changed."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    errors = {}
    if url is not None:
        errors["url"] = _url_errors(url)
    if event_types is not None:
        errors["event_types"] = _event_types_errors(event_types)
    _raise_if_invalid(errors)
    before = _audited_fields(subscription)
    if url is not None:
        subscription.url = url
    if event_types is not None:
        subscription.event_types = _unique(event_types)
    if active is not None:
        subscription.active = active
    if description is not None:
        subscription.description = description.strip()
    changes = audit.diff(before, _audited_fields(subscription))
    if changes:
        subscription.save(update_fields=list(changes))
        audit.record(actor=actor, action="webhook_subscription.updated", obj=subscription, changes=changes)
    return subscription


@transaction.atomic
def delete_webhook_subscription(*, actor, subscription: WebhookSubscription) -> None:
    """Remove the subscription and its delivery history; nothing more is sent to its URL."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    audit.record(
        actor=actor,
        action="webhook_subscription.deleted",
        obj=subscription,
        changes={**_audited_fields(subscription), "owner": subscription.owner_id},
    )
    subscription.delete()


@transaction.atomic
def rotate_webhook_secret(*, actor, subscription: WebhookSubscription) -> WebhookSubscription:
    """Replace the signing secret; attempts from now on are signed with the new one."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.secret = generate_webhook_secret()
    subscription.save(update_fields=["secret"])
    # The secret itself never goes into the audit trail.
    audit.record(actor=actor, action="webhook_subscription.secret_rotated", obj=subscription)
    return subscription


@transaction.atomic
def send_test_event(*, actor, subscription: WebhookSubscription) -> Event:
    """Emit a `webhook.ping` event that goes to this subscription only, whatever its event types."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if not subscription.active:
        raise InvalidTransition("Activate the subscription before sending it a test event.")
    return emit(PING_EVENT_TYPE, subscription, actor=actor)


def _subscriptions_for(event: Event) -> list[WebhookSubscription]:
    subscriptions = WebhookSubscription.objects.filter(active=True)
    if event.type == PING_EVENT_TYPE:
        # A ping is addressed to the subscription it is about, and to no one else's "*".
        if event.subject_type != WebhookSubscription._meta.label_lower:
            return []
        return list(subscriptions.filter(pk=event.subject_id))
    return [subscription for subscription in subscriptions if subscription.wants(event.type)]


@transaction.atomic
def fan_out_event(*, event_id: int) -> list[int]:
    """Create a delivery of the event for each active subscription that wants it; ids of those pending.

    Safe to run twice: the (subscription, event) unique constraint drops the second delivery.
    """
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return []
    deliveries = [WebhookDelivery(subscription=s, event=event) for s in _subscriptions_for(event)]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    Event.objects.filter(pk=event.pk, fanned_out_at__isnull=True).update(fanned_out_at=timezone.now())
    return list(
        WebhookDelivery.objects.filter(event=event, status=WebhookDelivery.Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )


@transaction.atomic
def fan_out_events(*, event_ids) -> list[int]:
    """`fan_out_event` for a batch of events recorded together (a bulk release): the subscriptions read
    once, one insert of deliveries, one update of the events; ids of the pending deliveries."""
    ids = sorted(set(event_ids))
    events = list(Event.objects.filter(pk__in=ids))
    if not events:
        return []
    active = list(WebhookSubscription.objects.filter(active=True))
    label = WebhookSubscription._meta.label_lower
    deliveries = []
    for event in events:
        if event.type == PING_EVENT_TYPE:
            wanted = [s for s in active if event.subject_type == label and str(s.pk) == event.subject_id]
        else:
            wanted = [s for s in active if s.wants(event.type)]
        deliveries += [WebhookDelivery(subscription=s, event=event) for s in wanted]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    Event.objects.filter(pk__in=ids, fanned_out_at__isnull=True).update(fanned_out_at=timezone.now())
    return list(
        WebhookDelivery.objects.filter(event_id__in=ids, status=WebhookDelivery.Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )


def event_payload(event: Event) -> bytes:
    """The request body: the event as the events feed renders it (decimals as strings)."""
    return JSONRenderer().render(EventSerializer(event).data)


def backoff_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: doubling from the base, capped."""
    seconds = settings.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_BACKOFF_MAX_SECONDS))


def _claim_lease() -> timedelta:
    # `timeout` bounds the connect and the read separately, so one attempt can take about twice as long.
    return timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT_SECONDS + 5)


def forbidden_target(url: str) -> str | None:
    """Why the URL may not be called, or None. Integrators must not reach the firm's internal network
    (loopback, private, link-local such as cloud metadata) unless WEBHOOK_ALLOW_PRIVATE_TARGETS is on."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        return f"Cannot resolve {host}: {exc}"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return f"{host} resolves to a non-public address ({ip}); webhooks only call public endpoints."
    return None


def _post(delivery: WebhookDelivery, body: bytes, timestamp: int) -> tuple[int | None, str]:
    """Send one attempt; (status code or None, error text or "")."""
    subscription = delivery.subscription
    refused = forbidden_target(subscription.url)
    if refused:
        return None, refused
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Ledgerline-Event": delivery.event.type,
        "X-Ledgerline-Delivery": str(delivery.pk),
        "X-Ledgerline-Signature": f"t={timestamp},v1={sign_payload(subscription.secret, timestamp, body)}",
    }
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        with requests.post(
            subscription.url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            if 200 <= response.status_code < 300:
                return response.status_code, ""
            error = f"HTTP {response.status_code}"
            text = _excerpt(response)
            return response.status_code, f"{error}: {text}" if text else error
    except requests.Timeout:
        return None, f"Timed out after {timeout:g} s."
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        # Counted as a failed attempt: a delivery that always breaks ends up dead, not leased forever.
        logger.exception("Webhook delivery %s failed unexpectedly", delivery.pk)
        return None, f"{type(exc).__name__}: {exc}"


def _excerpt(response: requests.Response) -> str:
    try:
        chunk = next(response.iter_content(chunk_size=MAX_RESPONSE_EXCERPT_BYTES), b"")
    except requests.RequestException:
        return ""
    return chunk.decode("utf-8", errors="replace").strip()


def attempt_webhook_delivery(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt at a due, pending delivery; None if there is nothing to attempt.

    The row is claimed with a conditional UPDATE that pushes `next_attempt_at` past the attempt's
    longest duration, so a twin task finds it not due and skips it. No transaction is held while the
    request is in flight. A 2xx delivers; anything else schedules a retry with backoff, or dead-letters
    the delivery once WEBHOOK_MAX_ATTEMPTS attempts have failed.
    """
    now = timezone.now()
    lease_until = now + _claim_lease()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=lease_until, last_attempt_at=now)
    )
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription", "event").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    # Results are written only if the claim is still ours (not taken over after an overlong attempt).
    ours = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at=lease_until
    )

    if not delivery.subscription.active:
        delivery.status = WebhookDelivery.Status.DEAD
        delivery.next_attempt_at = None
        delivery.last_error = "The subscription is inactive."
        ours.update(status=delivery.status, next_attempt_at=None, last_error=delivery.last_error)
        return delivery

    status_code, error = _post(delivery, event_payload(delivery.event), int(now.timestamp()))
    finished = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    if error:
        delivery.last_error = error[:MAX_ERROR_LENGTH]
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.DEAD
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = finished + backoff_delay(delivery.attempts)
    else:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = finished
        delivery.next_attempt_at = None
        delivery.last_error = ""
    ours.update(
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
    )
    return delivery


@transaction.atomic
def replay_webhook_delivery(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivered or dead delivery again from scratch; it is attempted once this commits."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise InvalidTransition("This delivery is still pending; only delivered or dead ones are replayed.")
    subscription = WebhookSubscription.objects.get(pk=delivery.subscription_id)
    if not subscription.active:
        raise InvalidTransition("Activate the subscription before replaying its deliveries.")
    changes = {
        "status": [delivery.status, WebhookDelivery.Status.PENDING],
        "attempts": [delivery.attempts, 0],
    }
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.delivered_at = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    audit.record(actor=actor, action="webhook_delivery.replayed", obj=delivery, changes=changes)
    from core.tasks import deliver_webhook

    delivery_id = delivery.pk
    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id))
    return delivery
