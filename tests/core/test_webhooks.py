import json
import socket
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import requests
from django.db import transaction
from django.test import override_settings

from core import tasks
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.models import AuditEvent, Event, IdempotencyKey, WebhookDelivery, WebhookSubscription
from core.services.webhooks import (
    attempt_webhook_delivery,
    backoff_delay,
    create_webhook_subscription,
    delete_webhook_subscription,
    fan_out_event,
    replay_webhook_delivery,
    rotate_webhook_secret,
    send_test_event,
    sign_payload,
    update_webhook_subscription,
    verify_signature,
)

pytestmark = pytest.mark.django_db

from tests.core.conftest import T0  # noqa: E402

SECRET = "whsec_test-secret-0123456789"


@pytest.fixture
def owner(make_user):
    return make_user("integrator")


def subscribe(owner, url, event_types=("*",), **kwargs):
    return create_webhook_subscription(
        actor=owner, owner=owner, url=url, event_types=list(event_types), secret=SECRET, **kwargs
    )


def pending_delivery(subscription, event_type="invoice.released", data=None) -> WebhookDelivery:
    """An event emitted (its on-commit fan-out not run) and fanned out to `subscription` by hand."""
    event = emit(event_type, subscription.owner, data or {})
    fan_out_event(event_id=event.id)
    return WebhookDelivery.objects.get(subscription=subscription, event=event)


def test_signature_verifies_over_the_exact_body_received(owner, receiver, clock):
    subscription = subscribe(owner, f"{receiver.url}/hooks")
    delivery = pending_delivery(subscription, data={"amount": Decimal("1234.50"), "invoice": "INV-7"})

    attempt_webhook_delivery(delivery_id=delivery.id)

    [request] = receiver.requests
    body, headers = request["body"], request["headers"]
    timestamp = int(T0.timestamp())
    assert request["path"] == "/hooks"
    assert json.loads(body) == {
        "id": delivery.event_id,
        "type": "invoice.released",
        "occurred_at": "2025-03-01T12:00:00Z",
        "subject_type": "core.user",
        "subject_id": str(owner.pk),
        "data": {"amount": "1234.50", "invoice": "INV-7"},
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Ledgerline-Webhooks/1"
    assert headers["X-Ledgerline-Event"] == "invoice.released"
    assert headers["X-Ledgerline-Delivery"] == str(delivery.id)
    signature = headers["X-Ledgerline-Signature"]
    assert signature == f"t={timestamp},v1={sign_payload(SECRET, timestamp, body)}"
    assert verify_signature(SECRET, signature, body) is True
    assert verify_signature("whsec_another-secret-000000", signature, body) is False
    assert verify_signature(SECRET, signature, body.replace(b"1234.50", b"9234.50")) is False
    assert verify_signature(SECRET, "v1=" + signature.split("v1=")[1], body) is False
    clock.advance(seconds=301)
    assert verify_signature(SECRET, signature, body) is False


@pytest.mark.parametrize("header", ["", "garbage", "t=,v1=", "t=²,v1=ab", "t=1740830400,v1=é", "v1=ab,t=x"])
def test_a_malformed_signature_header_does_not_verify(header, clock):
    assert verify_signature(SECRET, header, b"{}") is False


def test_failed_attempts_back_off_30_then_60_seconds_then_deliver(owner, receiver, clock):
    receiver.respond_with(500, 500, 200)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    first = attempt_webhook_delivery(delivery_id=delivery.id)
    assert (first.status, first.attempts, first.last_status_code, first.last_error) == (
        "pending", 1, 500, "HTTP 500: nope 500",
    )  # fmt: skip
    assert first.next_attempt_at == T0 + timedelta(seconds=30)

    clock.advance(seconds=29)
    assert attempt_webhook_delivery(delivery_id=delivery.id) is None
    assert len(receiver.requests) == 1

    clock.advance(seconds=1)
    second = attempt_webhook_delivery(delivery_id=delivery.id)
    assert (second.status, second.attempts) == ("pending", 2)
    assert second.next_attempt_at - (T0 + timedelta(seconds=30)) == timedelta(seconds=60)

    clock.advance(seconds=60)
    attempt_webhook_delivery(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 3, 200, "",
    )  # fmt: skip
    assert (delivery.delivered_at, delivery.last_attempt_at, delivery.next_attempt_at) == (
        T0 + timedelta(seconds=90), T0 + timedelta(seconds=90), None,
    )  # fmt: skip
    assert [r["body"] for r in receiver.requests] == [receiver.requests[0]["body"]] * 3
    assert attempt_webhook_delivery(delivery_id=delivery.id) is None
    assert len(receiver.requests) == 3


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_delay(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip


@override_settings(WEBHOOK_MAX_ATTEMPTS=3)
def test_delivery_is_dead_after_max_attempts_and_never_attempted_again(owner, receiver, clock):
    receiver.respond_with(500, 502, 503, 200)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    for _ in range(3):
        attempted = attempt_webhook_delivery(delivery_id=delivery.id)
        if attempted.next_attempt_at:
            clock.now = attempted.next_attempt_at

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "dead", 3, 503, "HTTP 503: nope 503",
    )  # fmt: skip
    assert delivery.next_attempt_at is None
    clock.advance(days=1)
    assert attempt_webhook_delivery(delivery_id=delivery.id) is None
    assert tasks.retry_due_webhook_deliveries() == 0
    assert len(receiver.requests) == 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 3)


@override_settings(WEBHOOK_TIMEOUT_SECONDS=0.3)
def test_a_timeout_is_a_failed_attempt_with_the_error_recorded(owner, receiver, clock):
    receiver.stall(2)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    attempt_webhook_delivery(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "pending", 1, None, "Timed out after 0.3 s.",
    )  # fmt: skip
    assert delivery.next_attempt_at == T0 + timedelta(seconds=30)
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(owner, receiver, clock):
    receiver.respond_with(302)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    attempt_webhook_delivery(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "pending", 1, 302, "HTTP 302: nope 302",
    )  # fmt: skip
    assert [r["path"] for r in receiver.requests] == ["/"]


def test_an_unreachable_receiver_is_a_failed_attempt(owner, clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    delivery = pending_delivery(subscribe(owner, f"http://127.0.0.1:{closed_port}/unreachable"))

    attempt_webhook_delivery(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error.startswith("ConnectionError: ")


def test_a_twin_attempt_skips_a_delivery_being_sent(owner, receiver, clock):
    delivery = pending_delivery(subscribe(owner, receiver.url))
    real_post = requests.post
    seen_while_sending = []

    def post_with_twin(*args, **kwargs):
        seen_while_sending.append(
            (
                WebhookDelivery.objects.get(pk=delivery.id).next_attempt_at,
                attempt_webhook_delivery(delivery_id=delivery.id),
            )
        )
        return real_post(*args, **kwargs)

    with mock.patch("core.services.webhooks.requests.post", side_effect=post_with_twin):
        result = attempt_webhook_delivery(delivery_id=delivery.id)

    assert seen_while_sending == [(T0 + timedelta(seconds=25), None)]
    assert (result.status, result.attempts) == ("delivered", 1)
    assert len(receiver.requests) == 1


def test_a_delivery_of_a_deactivated_subscription_goes_dead_unsent(owner, receiver, clock):
    subscription = subscribe(owner, receiver.url)
    delivery = pending_delivery(subscription)
    update_webhook_subscription(actor=owner, subscription=subscription, active=False)

    attempt_webhook_delivery(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "dead",
        0,
        "The subscription is inactive.",
    )
    assert receiver.requests == []


@override_settings(WEBHOOK_MAX_ATTEMPTS=1)
def test_replaying_a_dead_delivery_delivers_it_exactly_once(
    owner, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.respond_with(500, 200)
    delivery = pending_delivery(subscribe(owner, receiver.url))
    attempt_webhook_delivery(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "dead"
    clock.advance(minutes=5)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        replayed = replay_webhook_delivery(actor=owner, delivery=delivery)
        assert (replayed.status, replayed.attempts, replayed.next_attempt_at) == ("pending", 0, clock.now)

    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.delivered_at) == (
        "delivered", 1, 200, T0 + timedelta(minutes=5),
    )  # fmt: skip
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    audit_row = AuditEvent.objects.get(action="webhook_delivery.replayed")
    assert (audit_row.actor, audit_row.object_id) == (owner, str(delivery.id))
    assert audit_row.changes == {"status": ["dead", "pending"], "attempts": [1, 0]}


def test_replaying_a_pending_delivery_is_refused_and_changes_nothing(
    owner, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.respond_with(500)
    delivery = pending_delivery(subscribe(owner, receiver.url))
    attempt_webhook_delivery(delivery_id=delivery.id)
    delivery.refresh_from_db()
    audit_count = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InvalidTransition):
        replay_webhook_delivery(actor=owner, delivery=delivery)

    assert callbacks == []
    after = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (after.status, after.attempts, after.next_attempt_at) == ("pending", 1, T0 + timedelta(seconds=30))
    assert AuditEvent.objects.count() == audit_count


def test_replay_is_refused_while_the_subscription_is_inactive(owner, receiver, clock):
    subscription = subscribe(owner, receiver.url)
    delivery = pending_delivery(subscription)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=8)
    update_webhook_subscription(actor=owner, subscription=subscription, active=False)

    with pytest.raises(InvalidTransition, match="Activate the subscription"):
        replay_webhook_delivery(actor=owner, delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 8)


def test_emit_fans_out_on_commit_only_to_active_subscriptions_wanting_the_type(
    owner, make_user, receiver, django_capture_on_commit_callbacks
):
    wants_it = subscribe(owner, f"{receiver.url}/released", ["invoice.released", "payment.received"])
    wants_all = subscribe(make_user("integrator"), f"{receiver.url}/all", ["*"])
    subscribe(owner, f"{receiver.url}/payments", ["payment.received"])
    subscribe(owner, f"{receiver.url}/inactive", ["*"], active=False)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            event = emit("invoice.released", owner, {"total": Decimal("10.00")}, actor=owner)
        assert Event.objects.filter(pk=event.pk).exists()
        assert not WebhookDelivery.objects.exists()

    assert len(callbacks) == 1
    deliveries = WebhookDelivery.objects.order_by("subscription_id")
    assert [(d.subscription_id, d.event_id, d.status, d.attempts) for d in deliveries] == [
        (wants_it.id, event.id, "delivered", 1),
        (wants_all.id, event.id, "delivered", 1),
    ]
    assert sorted(r["path"] for r in receiver.requests) == ["/all", "/released"]


def test_fan_out_twice_creates_no_duplicate_deliveries(owner, make_user):
    first = subscribe(owner, "https://hooks.example.com/a", ["invoice.released"])
    second = subscribe(make_user("integrator"), "https://hooks.example.com/b", ["*"])
    event = emit("invoice.released", owner)

    ids = fan_out_event(event_id=event.id)

    assert fan_out_event(event_id=event.id) == ids
    assert list(WebhookDelivery.objects.order_by("id").values_list("id", "subscription_id")) == [
        (ids[0], first.id),
        (ids[1], second.id),
    ]
    WebhookDelivery.objects.filter(pk=ids[0]).update(status="delivered")
    assert fan_out_event(event_id=event.id) == [ids[1]]
    assert fan_out_event(event_id=event.id + 1000) == []


def test_fan_out_task_queues_an_attempt_per_pending_delivery(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a")
    event = emit("invoice.released", owner)

    with mock.patch.object(tasks.deliver_webhook, "delay") as delay:
        ids = tasks.fan_out_event(event.id)

    assert ids == [WebhookDelivery.objects.get(subscription=subscription).id]
    delay.assert_called_once_with(ids[0])


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_deliver_task_requeues_itself_for_the_backoff_when_not_eager(owner, receiver, clock):
    receiver.respond_with(500)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    with mock.patch.object(tasks.deliver_webhook, "apply_async") as apply_async:
        assert tasks.deliver_webhook(delivery.id) == "pending"

    apply_async.assert_called_once_with((delivery.id,), countdown=30)


def test_deliver_task_does_not_recurse_in_eager_mode(owner, receiver, clock):
    receiver.respond_with(500)
    delivery = pending_delivery(subscribe(owner, receiver.url))

    with mock.patch.object(tasks.deliver_webhook, "apply_async") as apply_async:
        assert tasks.deliver_webhook(delivery.id) == "pending"

    apply_async.assert_not_called()
    assert len(receiver.requests) == 1


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_deliver_task_does_nothing_for_a_delivered_or_missing_delivery(owner, receiver):
    delivery = pending_delivery(subscribe(owner, receiver.url))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="delivered")

    with mock.patch.object(tasks.deliver_webhook, "apply_async") as apply_async:
        assert tasks.deliver_webhook(delivery.id) is None
        assert tasks.deliver_webhook(delivery.id + 1000) is None

    apply_async.assert_not_called()
    assert receiver.requests == []


def test_retry_task_queues_due_pending_deliveries_oldest_first(owner, make_user, clock):
    subscriptions = [subscribe(make_user("integrator"), f"https://hooks.example.com/{n}") for n in range(4)]
    event = emit("invoice.released", owner)
    fan_out_event(event_id=event.id)
    fresh, overdue, later, dead = (WebhookDelivery.objects.get(subscription=s) for s in subscriptions)
    WebhookDelivery.objects.filter(pk=overdue.pk).update(next_attempt_at=T0 - timedelta(minutes=1))
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=T0 + timedelta(minutes=1))
    WebhookDelivery.objects.filter(pk=dead.pk).update(status="dead")

    with mock.patch.object(tasks.deliver_webhook, "delay") as delay:
        assert tasks.retry_due_webhook_deliveries() == 2

    assert [c.args for c in delay.call_args_list] == [(fresh.id,), (overdue.id,)]


def test_purge_task_deletes_expired_idempotency_keys(owner, clock):
    IdempotencyKey.objects.create(user=owner, key="old", fingerprint="f", method="POST", path="/")
    clock.advance(hours=25)
    IdempotencyKey.objects.create(user=owner, key="new", fingerprint="f", method="POST", path="/")

    assert tasks.purge_expired_idempotency_keys() == 1

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_create_generates_a_secret_and_audits_without_it(owner):
    subscription = create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/in", event_types=["invoice.released", "*"]
    )

    assert subscription.secret.startswith("whsec_")
    assert len(subscription.secret) == 49
    assert (subscription.owner, subscription.event_types, subscription.active) == (
        owner, ["invoice.released", "*"], True,
    )  # fmt: skip
    row = AuditEvent.objects.get(action="webhook_subscription.created")
    assert row.changes == {
        "url": "https://hooks.example.com/in",
        "event_types": ["invoice.released", "*"],
        "active": True,
        "description": "",
        "owner": owner.pk,
    }


@pytest.mark.parametrize(
    ("url", "event_types", "fields"),
    [
        (
            "ftp://hooks.example.com",
            ["invoice.released"],
            {"url": ["Enter a valid http:// or https:// URL."]},
        ),
        ("not a url", ["*"], {"url": ["Enter a valid http:// or https:// URL."]}),
        (
            "https://hooks.example.com",
            [],
            {"event_types": ['Choose at least one event type, or ["*"] for all events.']},
        ),
        (
            "https://hooks.example.com",
            ["invoice.released", "Invoice.Released", "invoice"],
            {
                "event_types": [
                    "'Invoice.Released' is not an event type; use names like 'invoice.released', or '*'.",
                    "'invoice' is not an event type; use names like 'invoice.released', or '*'.",
                ]
            },
        ),
    ],
)
def test_create_refuses_bad_urls_and_event_types(owner, url, event_types, fields):
    with pytest.raises(ValidationFailed) as refused:
        create_webhook_subscription(actor=owner, owner=owner, url=url, event_types=event_types)

    assert refused.value.fields == fields
    assert not WebhookSubscription.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhook_subscription").exists()


def test_create_refuses_a_short_secret(owner):
    with pytest.raises(ValidationFailed) as refused:
        create_webhook_subscription(
            actor=owner, owner=owner, url="https://hooks.example.com", event_types=["*"], secret="short"
        )

    assert refused.value.fields == {"secret": ["Use 16 to 100 characters, or leave it out to get one."]}
    assert not WebhookSubscription.objects.exists()


def test_update_changes_only_given_fields_and_audits_the_diff(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a", ["invoice.released"], description="ERP")

    update_webhook_subscription(
        actor=owner, subscription=subscription, event_types=["payment.received"], active=False
    )

    subscription.refresh_from_db()
    assert (subscription.url, subscription.event_types, subscription.active, subscription.description) == (
        "https://hooks.example.com/a", ["payment.received"], False, "ERP",
    )  # fmt: skip
    row = AuditEvent.objects.get(action="webhook_subscription.updated")
    assert row.changes == {
        "event_types": [["invoice.released"], ["payment.received"]],
        "active": [True, False],
    }

    update_webhook_subscription(actor=owner, subscription=subscription, active=False)
    assert AuditEvent.objects.filter(action="webhook_subscription.updated").count() == 1


def test_update_refuses_a_bad_url_and_changes_nothing(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a")

    with pytest.raises(ValidationFailed):
        update_webhook_subscription(
            actor=owner, subscription=subscription, url="javascript:alert(1)", active=False
        )

    subscription.refresh_from_db()
    assert (subscription.url, subscription.active) == ("https://hooks.example.com/a", True)
    assert not AuditEvent.objects.filter(action="webhook_subscription.updated").exists()


def test_rotate_secret_replaces_it_and_audits_without_it(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a")

    rotated = rotate_webhook_secret(actor=owner, subscription=subscription)

    assert rotated.secret != SECRET
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == rotated.secret
    assert AuditEvent.objects.get(action="webhook_subscription.secret_rotated").changes == {}


def test_delete_removes_the_subscription_and_its_deliveries(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a")
    pending_delivery(subscription)
    subscription_id = subscription.pk

    delete_webhook_subscription(actor=owner, subscription=subscription)

    assert not WebhookSubscription.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert AuditEvent.objects.get(action="webhook_subscription.deleted").object_id == str(subscription_id)


def test_ping_goes_to_that_subscription_only(owner, make_user, receiver, django_capture_on_commit_callbacks):
    pinged = subscribe(owner, f"{receiver.url}/pinged", ["invoice.released"])
    subscribe(make_user("integrator"), f"{receiver.url}/everything", ["*"])

    with django_capture_on_commit_callbacks(execute=True):
        event = send_test_event(actor=owner, subscription=pinged)

    assert (event.type, event.subject_type, event.subject_id) == (
        "webhook.ping",
        "core.webhooksubscription",
        str(pinged.pk),
    )
    assert list(WebhookDelivery.objects.values_list("subscription_id", "status")) == [
        (pinged.id, "delivered")
    ]
    assert [r["path"] for r in receiver.requests] == ["/pinged"]
    assert receiver.requests[0]["headers"]["X-Ledgerline-Event"] == "webhook.ping"


def test_ping_is_refused_for_an_inactive_subscription(owner):
    subscription = subscribe(owner, "https://hooks.example.com/a", active=False)

    with pytest.raises(InvalidTransition):
        send_test_event(actor=owner, subscription=subscription)

    assert not Event.objects.exists()
