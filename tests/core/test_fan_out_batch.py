"""A bulk action's events fan out as one batch: a delivery per event and subscription that wants it."""

import pytest

from core import tasks
from core.events import emit_many
from core.models import Event, WebhookDelivery
from core.services.webhooks import create_webhook_subscription


@pytest.mark.django_db
def test_a_batch_of_events_fans_out_to_the_subscriptions_that_want_them(make_user, monkeypatch):
    owner = make_user("integrator")
    everything = create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/all", event_types=["*"]
    )
    released = create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/released", event_types=["invoice.released"]
    )
    create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/paid", event_types=["payment.received"]
    )
    others = [make_user("consultant") for _ in range(3)]
    events = emit_many("invoice.released", [(user, {"n": n}) for n, user in enumerate(others)], actor=owner)
    queued = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", queued.append)

    assert tasks.fan_out_events([event.id for event in events]) == 6

    pairs = set(WebhookDelivery.objects.values_list("subscription_id", "event_id"))
    assert pairs == {(sub.pk, event.id) for sub in (everything, released) for event in events}
    assert sorted(queued) == sorted(WebhookDelivery.objects.values_list("id", flat=True))
    assert not Event.objects.filter(pk__in=[e.id for e in events], fanned_out_at__isnull=True).exists()
    # Safe to run twice: no second delivery; the pending ones are queued again, as `fan_out_event` does.
    assert tasks.fan_out_events([event.id for event in events]) == 6
    assert WebhookDelivery.objects.count() == 6
