"""Winning an opportunity (contract, projects, plans) three times at once with one Idempotency-Key: one
contract; the key with another body is refused."""

import pytest
from rest_framework.test import APIClient

from crm.models import Contract
from projects.models import Project
from tests.crm.conftest import (  # noqa: F401 - the CRM tests' deal
    client_account,
    mixed_deal,
    pm,
    roles,
    usd_entity,
)
from tests.reliability.concurrency import (
    assert_one_effect_same_answer,
    assert_other_body_refused,
    post_at_once,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_opportunity_is_won_once(pm, mixed_deal):  # noqa: F811 - fixtures imported above
    api = APIClient()
    api.force_authenticate(user=pm)
    path = f"/api/v1/opportunities/{mixed_deal.pk}/win/"
    won = assert_one_effect_same_answer(post_at_once(api, path, {}, key="win-1"), status=200)
    contract = Contract.objects.get()
    assert (won["stage"], won["contract"]) == ("won", contract.pk)
    projects = Project.objects.filter(contract=contract).count()
    assert projects >= 1
    assert_other_body_refused(api, path, {"note": "again"}, key="win-1")
    assert Contract.objects.count() == 1
    assert Project.objects.filter(contract=contract).count() == projects
