"""The webhook outbox across a worker kill: events are emitted, the worker is SIGKILLed while a delivery is in
flight (the receiver holds the request open), and once it is back every event reaches the receiver under
one delivery id (a receiver that de-duplicates on `X-Ledgerline-Delivery` acts on it once), a refused
attempt is retried with backoff, and each event ends with exactly one delivered delivery row."""

import json
import os
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.db import transaction

from core import tasks
from core.events import emit
from core.models import Event, WebhookDelivery
from core.services.webhooks import create_webhook_subscription
from core.tasks import fan_out_pending_events, retry_due_webhook_deliveries
from tests.core.conftest import receiver  # noqa: F401 - the core tests' local receiver serves here too
from tests.reliability.test_crash_recovery import wait_for

EVENTS = 8
TRIALS = int(os.environ.get("RELIABILITY_CRASH_TRIALS", "5")) // 2
WEBHOOK_TRIALS = ["child" if trial % 2 == 0 else "whole" for trial in range(TRIALS)]
# The worker's attempt times out after 3 s, so its claim on a delivery (a lease of 2 × 3 + 5 s) lapses
# 11 s after an attempt that died with it; retries back off from 1 s.
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "WEBHOOK_BACKOFF_BASE_SECONDS": "1",
}


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.parametrize("mode", WEBHOOK_TRIALS)
def test_no_event_is_lost_or_acted_on_twice_across_a_worker_kill(
    celery_workers,
    make_user,
    receiver,  # noqa: F811 - the fixture imported above
    monkeypatch,
    mode,
):
    owner = make_user("integrator")
    subscription = create_webhook_subscription(
        actor=owner, owner=owner, url=receiver.url, event_types=["thing.happened"]
    )
    # Two deliveries go through, the third hangs until the worker is killed, the next one is refused.
    receiver.respond_with(200, 200)
    receiver.stall(30)
    receiver.respond_with(500)
    worker = celery_workers(**WORKER_ENV)
    with transaction.atomic():
        events = [emit("thing.happened", owner, {"n": n}) for n in range(EVENTS)]

    wait_for(lambda: len(receiver.requests) >= 3, timeout=60, worker=worker)
    if mode == "child":
        worker.kill_child()  # the task is re-queued at once and finds the delivery claimed: it waits
    else:
        worker.kill_all()
        worker = celery_workers(**WORKER_ENV)
    receiver.release.set()
    # The beat's safety nets, run by the test: due deliveries and events whose fan-out was lost.
    monkeypatch.setattr(tasks, "FAN_OUT_GRACE", timedelta(0))

    def all_delivered():
        delivered = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count()
        if delivered < EVENTS:
            retry_due_webhook_deliveries()
            fan_out_pending_events()
        return delivered == EVENTS

    wait_for(all_delivered, timeout=120, worker=worker, every=1.0)

    deliveries = WebhookDelivery.objects.filter(subscription=subscription)
    assert deliveries.count() == EVENTS
    assert set(deliveries.values_list("event_id", flat=True)) == {event.pk for event in events}
    assert set(deliveries.values_list("status", flat=True)) == {WebhookDelivery.Status.DELIVERED}
    assert Event.objects.filter(pk__in=[e.pk for e in events], fanned_out_at__isnull=True).count() == 0
    delivery_of_event = dict(deliveries.values_list("event_id", "pk"))
    ids_by_event = defaultdict(set)
    for request in receiver.requests:
        event_id = json.loads(request["body"])["id"]
        ids_by_event[event_id].add(int(request["headers"]["X-Ledgerline-Delivery"]))
    # Every event arrived, always under its one delivery id.
    assert dict(ids_by_event) == {event_id: {pk} for event_id, pk in delivery_of_event.items()}
    # Two requests more than events: the one in flight at the kill was sent again, and so was the refused
    # one after its backoff (which may be that same delivery's next attempt).
    sent = Counter(request["headers"]["X-Ledgerline-Delivery"] for request in receiver.requests)
    assert len(receiver.requests) == EVENTS + 2
    assert sent[receiver.requests[2]["headers"]["X-Ledgerline-Delivery"]] >= 2
    assert sorted(deliveries.values_list("attempts", flat=True)) == [1] * (EVENTS - 1) + [2]
