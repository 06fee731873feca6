"""Bad API keys are rate-limited per client address: DRF answers 401 before its throttles run, so failed
authentications have their own count, checked before the key is looked at."""

import pytest
from rest_framework.test import APIClient

from core.api.throttling import FailedAuthenticationThrottle
from core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_failures_a_minute(monkeypatch):
    monkeypatch.setattr(FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_auth": "3/min"})


def call(key: str, address: str = "203.0.113.7"):
    return APIClient().get("/api/v1/users/me/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)


def test_a_flood_of_bad_keys_is_answered_429_and_then_even_a_good_key_waits(token_client_for):
    good = token_client_for(Role.INTEGRATOR, scopes=("core:read",)).key

    statuses = [call(f"guess-{attempt}").status_code for attempt in range(5)]

    assert statuses == [401, 401, 401, 429, 429]
    throttled = call(good)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert call(good, address="198.51.100.9").status_code == 200


def test_good_keys_and_malformed_headers_count_as_they_should(token_client_for):
    good = token_client_for(Role.INTEGRATOR, scopes=("core:read",)).key

    assert [call(good).status_code for _ in range(5)] == [200] * 5
    malformed = APIClient().get(
        "/api/v1/users/me/", HTTP_AUTHORIZATION="Token two words", REMOTE_ADDR="203.0.113.7"
    )

    assert malformed.status_code == 401
    assert [call("wrong").status_code for _ in range(3)] == [401, 401, 429]
