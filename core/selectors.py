"""Reads of the platform core."""

import secrets

from core.models import ApiKey, AuditEvent
from core.models.api_keys import hash_api_key_secret
from core.services.api_keys import KEY_PREFIX


def find_api_key(key: str) -> ApiKey | None:
    """The active key matching the presented secret, or None."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, hash_api_key_secret(key)):
        return None
    return api_key


def audit_events_for(obj_type: str, obj_id: str):
    return AuditEvent.objects.filter(object_type=obj_type, object_id=str(obj_id)).select_related("actor")


def webhook_subscriptions_visible_to(user):
    """The user's own webhook subscriptions; admins see everyone's."""
    from core.models import WebhookSubscription
    from core.roles import Role, has_role

    subscriptions = WebhookSubscription.objects.all()
    if has_role(user, Role.ADMIN):
        return subscriptions
    return subscriptions.filter(owner=user)


def webhook_deliveries_for(subscription):
    """The deliveries of one subscription, newest first, with their events."""
    from core.models import WebhookDelivery

    return WebhookDelivery.objects.filter(subscription=subscription).select_related("event").order_by("-id")


def due_webhook_delivery_ids(*, now, limit: int) -> list[int]:
    """Ids of pending deliveries whose next attempt is due, longest-waiting first."""
    from django.db.models import F, Q

    from core.models import WebhookDelivery

    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by(F("next_attempt_at").asc(nulls_first=True), "id")
        .values_list("id", flat=True)[:limit]
    )


def events_awaiting_fan_out(*, older_than, limit: int) -> list[int]:
    from core.models import Event

    return list(
        Event.objects.filter(fanned_out_at__isnull=True, occurred_at__lt=older_than)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
