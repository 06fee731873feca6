"""Bulk time entry three times at once with one Idempotency-Key: the entries are saved once."""

import pytest
from rest_framework.test import APIClient

from projects.models import TimeEntry
from tests.projects.conftest import (  # noqa: F401 - the projects tests' consultancy
    client_account,
    firm,
    make_person,
    roles,
    usd_entity,
)
from tests.reliability.concurrency import (
    assert_one_effect_same_answer,
    assert_other_body_refused,
    post_at_once,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_bulk_time_is_saved_once(firm):  # noqa: F811 - fixtures imported above
    chloe = APIClient()
    chloe.force_authenticate(user=firm.chloe.user)
    row = {"project": firm.project.pk, "task": firm.workshops.pk, "hours": "7.5"}
    body = {"entries": [{**row, "date": f"2026-03-{16 + n}"} for n in range(3)]}
    created = assert_one_effect_same_answer(
        post_at_once(chloe, "/api/v1/time-entries/bulk/", body, key="week-12"), status=201
    )
    assert created["created"] == 3
    assert TimeEntry.objects.count() == 3
    assert sorted(str(e.hours) for e in TimeEntry.objects.all()) == ["7.50"] * 3
    other = {"entries": body["entries"][:2]}
    assert_other_body_refused(chloe, "/api/v1/time-entries/bulk/", other, key="week-12")
    assert TimeEntry.objects.count() == 3
