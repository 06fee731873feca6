"""Fixtures shared by the core tests: a local webhook receiver and a controllable clock."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from tests.webhook_receiver import Receiver

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    """`timezone.now()` frozen at T0, moved forward by the test: backoff is checked without sleeping."""
    frozen = Clock(T0)
    with mock.patch("django.utils.timezone.now", side_effect=lambda: frozen.now):
        yield frozen
