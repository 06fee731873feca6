import pytest

from core.models import AuditEvent, WebhookDelivery, WebhookSubscription
from core.roles import Role
from core.services.webhooks import attempt_webhook_delivery, fan_out_event
from tests.core.test_webhooks import SECRET, T0, pending_delivery, subscribe

pytestmark = pytest.mark.django_db


URL = "/api/v1/webhooks/"


@pytest.fixture
def integrator(client_for):
    return client_for(Role.INTEGRATOR)


def as_body(subscription: WebhookSubscription) -> dict:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "event_types": subscription.event_types,
        "secret": subscription.secret,
        "active": subscription.active,
        "description": subscription.description,
        "created_at": subscription.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_create_returns_the_subscription_with_a_generated_secret(integrator):
    response = integrator.post(
        URL,
        {"url": "https://hooks.example.com/in", "event_types": ["invoice.released"], "description": "ERP"},
        HTTP_IDEMPOTENCY_KEY="create-1",
    )

    assert response.status_code == 201
    subscription = WebhookSubscription.objects.get()
    assert response.json() == as_body(subscription)
    assert (subscription.owner, subscription.url, subscription.event_types, subscription.description) == (
        integrator.user, "https://hooks.example.com/in", ["invoice.released"], "ERP",
    )  # fmt: skip
    assert subscription.secret.startswith("whsec_")
    assert len(subscription.secret) == 49


def test_create_with_a_given_secret_keeps_it(integrator):
    response = integrator.post(
        URL, {"url": "https://hooks.example.com/in", "event_types": ["*"], "secret": SECRET}
    )

    assert response.status_code == 201
    assert response.json()["secret"] == SECRET


def test_create_refuses_a_bad_url_and_empty_event_types(integrator):
    response = integrator.post(URL, {"url": "ftp://hooks.example.com", "event_types": []})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "url: Enter a valid http:// or https:// URL.",
        "fields": {
            "url": ["Enter a valid http:// or https:// URL."],
            "event_types": ['Choose at least one event type, or ["*"] for all events.'],
        },
    }
    assert not WebhookSubscription.objects.exists()


def test_create_refuses_a_body_of_the_wrong_shape(integrator):
    response = integrator.post(URL, {"url": "https://hooks.example.com", "event_types": "invoice.released"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": 'event_types: Expected a list of items but got type "str".',
        "fields": {"event_types": ['Expected a list of items but got type "str".']},
    }
    assert not WebhookSubscription.objects.exists()


def test_list_shows_only_your_own_subscriptions(integrator, make_user):
    own = subscribe(integrator.user, "https://hooks.example.com/mine")
    subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/theirs")

    response = integrator.get(URL)

    assert response.status_code == 200
    assert response.json()["results"] == [as_body(own)]


def test_admin_sees_every_subscription(client_for, make_user):
    first = subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/a")
    second = subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/b")

    response = client_for(Role.ADMIN).get(URL)

    assert [s["id"] for s in response.json()["results"]] == [second.id, first.id]


def test_another_users_subscription_is_not_found(integrator, make_user):
    theirs = subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/theirs")
    detail = f"{URL}{theirs.id}/"

    assert integrator.get(detail).status_code == 404
    assert integrator.patch(detail, {"active": False}).status_code == 404
    assert integrator.delete(detail).status_code == 404
    assert integrator.post(f"{detail}rotate-secret/").status_code == 404
    assert integrator.get(f"{detail}deliveries/").status_code == 404

    theirs_now = WebhookSubscription.objects.get(pk=theirs.pk)
    assert (theirs_now.active, theirs_now.secret) == (True, SECRET)


def test_a_consultant_may_not_read_or_create_subscriptions(client_for):
    consultant = client_for(Role.CONSULTANT)

    assert consultant.get(URL).status_code == 403
    response = consultant.post(URL, {"url": "https://hooks.example.com", "event_types": ["*"]})

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "Your role does not allow this.",
        "fields": {},
    }
    assert not WebhookSubscription.objects.exists()


def test_an_api_key_without_core_write_may_read_but_not_create(token_client_for):
    client = token_client_for(Role.INTEGRATOR, scopes=("core:read",))

    assert client.get(URL).status_code == 200
    response = client.post(URL, {"url": "https://hooks.example.com", "event_types": ["*"]})

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "This API key lacks the 'core:write' scope.",
        "fields": {},
    }
    assert not WebhookSubscription.objects.exists()


def test_an_api_key_with_core_write_creates(token_client_for):
    client = token_client_for(Role.INTEGRATOR)

    response = client.post(URL, {"url": "https://hooks.example.com", "event_types": ["*"]})

    assert response.status_code == 201
    assert WebhookSubscription.objects.get().owner == client.user


def test_patch_changes_the_given_fields(integrator):
    subscription = subscribe(integrator.user, "https://hooks.example.com/a", ["invoice.released"])

    response = integrator.patch(f"{URL}{subscription.id}/", {"active": False, "description": "Paused"})

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert response.json() == as_body(subscription)
    assert (subscription.active, subscription.description, subscription.event_types) == (
        False, "Paused", ["invoice.released"],
    )  # fmt: skip


def test_put_replaces_url_and_event_types(integrator):
    subscription = subscribe(integrator.user, "https://hooks.example.com/a", ["invoice.released"])

    response = integrator.put(
        f"{URL}{subscription.id}/",
        {"url": "https://hooks.example.com/b", "event_types": ["payment.received"]},
    )

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert (subscription.url, subscription.event_types, subscription.active) == (
        "https://hooks.example.com/b", ["payment.received"], True,
    )  # fmt: skip


def test_delete_removes_the_subscription(integrator):
    subscription = subscribe(integrator.user, "https://hooks.example.com/a")

    assert integrator.delete(f"{URL}{subscription.id}/").status_code == 204

    assert not WebhookSubscription.objects.exists()
    assert AuditEvent.objects.filter(action="webhook_subscription.deleted").count() == 1


def test_rotate_secret_returns_the_new_secret(integrator):
    subscription = subscribe(integrator.user, "https://hooks.example.com/a")

    response = integrator.post(f"{URL}{subscription.id}/rotate-secret/")

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert response.json()["secret"] == subscription.secret
    assert subscription.secret != SECRET


def test_deliveries_list_newest_first_and_filters_by_status(integrator, make_user, clock):
    subscription = subscribe(
        integrator.user, "https://hooks.example.com/a", ["invoice.released", "payment.received"]
    )
    other = subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/b", ["project.created"])
    older = pending_delivery(subscription, "invoice.released")
    newer = pending_delivery(subscription, "payment.received")
    WebhookDelivery.objects.filter(pk=older.pk).update(status="dead", attempts=8, last_error="HTTP 500")
    pending_delivery(other, "project.created")

    response = integrator.get(f"{URL}{subscription.id}/deliveries/")

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [d["id"] for d in body["results"]] == [newer.id, older.id]
    dead = integrator.get(f"{URL}{subscription.id}/deliveries/?status=dead").json()["results"]
    assert dead == [
        {
            "id": older.id,
            "subscription": subscription.id,
            "event": older.event_id,
            "event_type": "invoice.released",
            "status": "dead",
            "attempts": 8,
            "next_attempt_at": None,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": "HTTP 500",
            "delivered_at": None,
            "created_at": "2025-03-01T12:00:00Z",
        }
    ]
    assert integrator.get(f"{URL}{subscription.id}/deliveries/?status=lost").status_code == 400


def test_replay_queues_a_dead_delivery_and_it_is_delivered_on_commit(
    integrator, receiver, clock, django_capture_on_commit_callbacks
):
    subscription = subscribe(integrator.user, receiver.url)
    delivery = pending_delivery(subscription)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=8)

    with django_capture_on_commit_callbacks(execute=True):
        response = integrator.post(f"{URL}{subscription.id}/deliveries/{delivery.id}/replay/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("delivered", 1, T0)
    assert len(receiver.requests) == 1


def test_replay_of_a_pending_delivery_is_a_conflict(
    integrator, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.respond_with(500)
    subscription = subscribe(integrator.user, receiver.url)
    delivery = pending_delivery(subscription)
    attempt_webhook_delivery(delivery_id=delivery.id)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = integrator.post(f"{URL}{subscription.id}/deliveries/{delivery.id}/replay/")

    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "detail": "This delivery is still pending; only delivered or dead ones are replayed.",
        "fields": {},
    }
    assert callbacks == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert len(receiver.requests) == 1


def test_replay_of_another_subscriptions_delivery_is_not_found(integrator, make_user):
    mine = subscribe(integrator.user, "https://hooks.example.com/a")
    theirs = subscribe(make_user(Role.INTEGRATOR), "https://hooks.example.com/b")
    delivery = pending_delivery(theirs)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead")

    response = integrator.post(f"{URL}{mine.id}/deliveries/{delivery.id}/replay/")

    assert response.status_code == 404
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "dead"


def test_ping_sends_a_test_event_to_the_subscription(
    integrator, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(integrator.user, receiver.url, ["invoice.released"])

    with django_capture_on_commit_callbacks(execute=True):
        response = integrator.post(f"{URL}{subscription.id}/ping/")

    assert response.status_code == 202
    assert (response.json()["type"], response.json()["subject_id"]) == ("webhook.ping", str(subscription.id))
    assert list(WebhookDelivery.objects.values_list("subscription_id", "status")) == [
        (subscription.id, "delivered")
    ]
    assert fan_out_event(event_id=response.json()["id"]) == []
    assert len(receiver.requests) == 1
