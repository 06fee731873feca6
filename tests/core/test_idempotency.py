import threading
from unittest import mock

import pytest
from django.db import connection

from core.models import ApiKey, IdempotencyKey
from core.services import api_keys as api_key_services


def _create_key(client, key, name="integration", scopes=("core:read",)):
    return client.post(
        "/api/v1/api-keys/", {"name": name, "scopes": list(scopes)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(client_for):
    client = client_for("integrator")
    first = _create_key(client, "k-1")
    second = _create_key(client, "k-1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert ApiKey.objects.filter(user=client.user).count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(client_for):
    client = client_for("integrator")
    _create_key(client, "k-2", name="one")
    response = _create_key(client, "k-2", name="two")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(ApiKey.objects.filter(user=client.user).values_list("name", flat=True)) == ["one"]


@pytest.mark.django_db
def test_keys_are_per_user(client_for):
    alice, bob = client_for("integrator"), client_for("integrator")
    assert _create_key(alice, "shared").status_code == 201
    assert _create_key(bob, "shared").status_code == 201
    assert ApiKey.objects.count() == 2


@pytest.mark.django_db
def test_error_responses_are_replayed_too(client_for):
    client = client_for("integrator")
    first = _create_key(client, "k-3", scopes=("nonsense:read",))
    assert first.status_code == 400
    replay = _create_key(client, "k-3", scopes=("nonsense:read",))
    assert replay.status_code == 400 and replay.content == first.content


@pytest.mark.django_db
def test_server_error_releases_the_key(client_for):
    client = client_for("integrator")
    client.raise_request_exception = False
    with mock.patch("core.api.views.create_api_key", side_effect=RuntimeError("boom")):
        failed = _create_key(client, "k-4")
    assert failed.status_code == 500
    assert failed.json()["code"] == "server_error"
    assert not IdempotencyKey.objects.filter(key="k-4").exists()
    assert _create_key(client, "k-4").status_code == 201


@pytest.mark.django_db
def test_without_header_each_post_executes(client_for):
    client = client_for("integrator")
    client.post("/api/v1/api-keys/", {"name": "a", "scopes": ["core:read"]}, format="json")
    client.post("/api/v1/api-keys/", {"name": "b", "scopes": ["core:read"]}, format="json")
    assert ApiKey.objects.filter(user=client.user).count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_overlong_key_is_400(client_for):
    response = _create_key(client_for("integrator"), "x" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_execute_once(client_for):
    client = client_for("integrator")
    real_create = api_key_services.create_api_key
    inside = threading.Event()

    def slow_create(**kwargs):
        inside.set()
        threading.Event().wait(0.5)  # hold the first request inside the action while the twin arrives
        return real_create(**kwargs)

    responses = []

    def post():
        try:
            responses.append(_create_key(client, "concurrent-key"))
        finally:
            connection.close()

    with mock.patch("core.api.views.create_api_key", side_effect=slow_create):
        first = threading.Thread(target=post)
        first.start()
        assert inside.wait(5)
        twins = [threading.Thread(target=post) for _ in range(2)]
        for thread in twins:
            thread.start()
        for thread in [first, *twins]:
            thread.join(15)

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.content for r in responses}) == 1
    assert ApiKey.objects.filter(user=client.user).count() == 1
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true", "true"]
