"""Celery tasks of the platform core: thin wrappers that take ids and call one service each."""

import math
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.models import WebhookDelivery
from core.selectors import due_webhook_delivery_ids, events_awaiting_fan_out
from core.services import idempotency, webhooks

RETRY_BATCH_SIZE = 500
FAN_OUT_GRACE = timedelta(minutes=1)


@shared_task
def fan_out_event(event_id: int) -> list[int]:
    """Create the event's webhook deliveries and queue an attempt at each pending one."""
    delivery_ids = webhooks.fan_out_event(event_id=event_id)
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
    return delivery_ids


@shared_task
def fan_out_events(event_ids: list[int]) -> int:
    """Fan out a batch of events recorded together (a bulk action) in one transaction; see `fan_out_event`."""
    delivery_ids = webhooks.fan_out_events(event_ids=event_ids)
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
    return len(delivery_ids)


@shared_task
def deliver_webhook(delivery_id: int) -> str | None:
    """Attempt one delivery; after a failure, queue the retry for when its backoff ends.

    Eager mode (no broker) does not re-queue: that would retry at once, in a loop, against a failing
    receiver. `retry_due_webhook_deliveries` picks the retry up instead.
    """
    delivery = webhooks.attempt_webhook_delivery(delivery_id=delivery_id)
    if delivery is None:
        return None
    if delivery.status == WebhookDelivery.Status.PENDING and not settings.CELERY_TASK_ALWAYS_EAGER:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        # Capped well below the broker's visibility timeout, after which Redis would deliver the task twice.
        countdown = min(max(math.ceil(wait), 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)
        deliver_webhook.apply_async((delivery_id,), countdown=countdown)
    return delivery.status


@shared_task
def retry_due_webhook_deliveries() -> int:
    """Queue an attempt at each pending delivery whose next attempt is due; the periodic safety net."""
    delivery_ids = due_webhook_delivery_ids(now=timezone.now(), limit=RETRY_BATCH_SIZE)
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
    return len(delivery_ids)


@shared_task
def fan_out_pending_events() -> int:
    """Fan out events whose on-commit task never ran (broker down, worker lost); the outbox's safety net."""
    event_ids = events_awaiting_fan_out(older_than=timezone.now() - FAN_OUT_GRACE, limit=RETRY_BATCH_SIZE)
    for event_id in event_ids:
        fan_out_event.delay(event_id)
    return len(event_ids)


@shared_task
def purge_expired_idempotency_keys() -> int:
    return idempotency.purge_expired_idempotency_keys()
