"""Finance logs collection calls and follow-ups as CRM activities (the collections workbench does), in the
API and on the client's page; roles that only read the CRM, and consultants, still cannot."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEvent
from core.roles import Role
from crm.models import Activity

pytestmark = pytest.mark.django_db
CALL = {"kind": "call", "subject": "Chased invoice US-00042", "due": "2026-03-02"}


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def test_finance_logs_and_completes_an_activity_through_the_api(make_user, client_account):
    clerk = make_user(Role.FINANCE)
    api = api_as(clerk)

    created = api.post("/api/v1/activities/", {"account": client_account.pk, **CALL}, format="json")

    assert created.status_code == 201, created.json()
    activity = Activity.objects.get()
    assert (activity.account_id, activity.owner_id, activity.subject) == (
        client_account.pk,
        clerk.pk,
        "Chased invoice US-00042",
    )
    assert AuditEvent.objects.get(action="activity.created").actor_id == clerk.pk
    done = api.post(f"/api/v1/activities/{activity.pk}/complete/", format="json")
    assert (done.status_code, done.json()["done"]) == (200, True)


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.RESOURCE_MANAGER, Role.CONSULTANT])
def test_other_roles_still_cannot_log_activities(make_user, client_account, role):
    refused = api_as(make_user(role)).post(
        "/api/v1/activities/", {"account": client_account.pk, **CALL}, format="json"
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert Activity.objects.count() == 0


def test_finance_logs_an_activity_on_the_client_page_and_an_executive_cannot(make_user, client_account):
    url = reverse("crm:account-add-activity", args=[client_account.pk])
    finance, executive = Client(), Client()
    finance.force_login(make_user(Role.FINANCE))
    executive.force_login(make_user(Role.EXECUTIVE))

    page = finance.get(reverse("crm:account-detail", args=[client_account.pk]))
    logged = finance.post(url, CALL)
    refused = executive.post(url, {**CALL, "subject": "Not mine to log"})

    assert page.status_code == 200 and url in page.content.decode()
    assert logged.status_code == 302
    assert refused.status_code == 403
    assert list(Activity.objects.values_list("subject", flat=True)) == ["Chased invoice US-00042"]
