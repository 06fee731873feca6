"""Send one POST several times at once with a single Idempotency-Key, as a client retrying over a flaky
network does, and check that exactly one executed and every caller got the same answer."""

import threading
import time
from unittest import mock

from django.db import connections

from core.api import idempotency


def post_at_once(client, path: str, body: dict, *, key: str, times: int = 3) -> list:
    """`times` concurrent POSTs. The one that executes keeps its key "in progress" a little longer, so
    the others surely arrive while it runs and must wait for its stored response."""
    real_store = idempotency.store_response

    def slow_store(claim, response):
        time.sleep(0.3)
        real_store(claim, response)

    barrier = threading.Barrier(times)
    responses, errors = [], []

    def post():
        try:
            barrier.wait(timeout=10)
            responses.append(client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key))
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            connections.close_all()

    with mock.patch.object(idempotency, "store_response", slow_store):
        threads = [threading.Thread(target=post) for _ in range(times)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == [], errors
    assert len(responses) == times
    return responses


def assert_one_effect_same_answer(responses, *, status: int) -> dict:
    """All answered alike (one executed, the rest replayed); returns the body."""
    assert [r.status_code for r in responses] == [status] * len(responses), [r.content for r in responses]
    assert len({r.content for r in responses}) == 1
    replayed = sorted(r.get("Idempotent-Replayed", "") for r in responses)
    assert replayed == [""] + ["true"] * (len(responses) - 1)
    return responses[0].json()


def assert_other_body_refused(client, path: str, body: dict, *, key: str) -> None:
    response = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "idempotency_key_reused"
