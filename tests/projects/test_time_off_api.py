"""Practices, holidays and time off through the API: who may read and write which, the validation (end ≥
start, 0 < hours ≤ 24, no overlap for a person), the audit trail, and `practice` on people and projects."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent
from core.roles import Role as UserRole
from projects.models import Holiday, Practice, TimeOff

D = Decimal
pytestmark = pytest.mark.django_db


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def staffer(firm, make_person):
    return make_person("Rita Staff", UserRole.RESOURCE_MANAGER)


def test_a_consultant_records_and_sees_only_their_own_time_off(firm):
    chloe = as_user(firm.chloe.user)
    created = chloe.post(
        "/api/v1/time-off/",
        {"person": firm.chloe.pk, "start": "2026-04-06", "end": "2026-04-10", "hours_per_day": "4.5"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["kind"], body["hours_per_day"], body["start"], body["end"]) == (
        "vacation",
        "4.50",
        "2026-04-06",
        "2026-04-10",
    )
    assert AuditEvent.objects.filter(action="time_off.recorded", object_id=str(body["id"])).count() == 1
    refused = chloe.post(
        "/api/v1/time-off/",
        {"person": firm.dan.pk, "start": "2026-04-06", "end": "2026-04-06"},
        format="json",
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    TimeOff.objects.create(person=firm.dan, start=date(2026, 5, 1), end=date(2026, 5, 1))
    listed = chloe.get("/api/v1/time-off/").json()["results"]
    assert [row["person"] for row in listed] == [firm.chloe.pk]
    dans = TimeOff.objects.get(person=firm.dan)
    assert chloe.delete(f"/api/v1/time-off/{dans.pk}/").status_code == 404
    assert chloe.delete(f"/api/v1/time-off/{body['id']}/").status_code == 204
    assert not TimeOff.objects.filter(person=firm.chloe).exists()


def test_time_off_validation(firm):
    chloe = as_user(firm.chloe.user)

    def post(**fields):
        return chloe.post("/api/v1/time-off/", {"person": firm.chloe.pk, **fields}, format="json")

    backwards = post(start="2026-04-10", end="2026-04-06")
    assert (backwards.status_code, backwards.json()["fields"]) == (
        400,
        {"end": ["Must be on or after the start."]},
    )
    for hours in ("0", "-1", "24.01"):
        response = post(start="2026-04-06", end="2026-04-06", hours_per_day=hours)
        assert response.status_code == 400 and "hours_per_day" in response.json()["fields"], hours
    assert post(start="2026-04-06", end="2026-04-06", hours_per_day="24").status_code == 201
    assert post(start="2026-04-13", end="2026-04-17", kind="sick").status_code == 201
    overlap = post(start="2026-04-17", end="2026-04-20")
    assert overlap.status_code == 400
    assert overlap.json()["code"] == "overlap"
    assert overlap.json()["detail"] == (
        "Chloe Novak already has sick leave from 2026-04-13 to 2026-04-17; time off may not overlap."
    )
    assert post(start="2026-04-06", end="2026-04-06", kind="sabbatical").status_code == 400
    assert TimeOff.objects.filter(person=firm.chloe).count() == 2
    # Moving one onto the other is refused too; moving it clear is fine.
    first = TimeOff.objects.get(person=firm.chloe, start=date(2026, 4, 6))
    moved = chloe.patch(f"/api/v1/time-off/{first.pk}/", {"end": "2026-04-14"}, format="json")
    assert (moved.status_code, moved.json()["code"]) == (400, "overlap")
    moved = chloe.patch(f"/api/v1/time-off/{first.pk}/", {"end": "2026-04-08"}, format="json")
    assert (moved.status_code, moved.json()["end"]) == (200, "2026-04-08")


def test_resource_managers_manage_everyones_and_others_read(firm, staffer, make_user):
    rita = as_user(staffer.user)
    created = rita.post(
        "/api/v1/time-off/",
        {"person": firm.dan.pk, "start": "2026-04-06", "end": "2026-04-07", "kind": "training"},
        format="json",
    )
    assert created.status_code == 201
    executive = as_user(make_user(UserRole.EXECUTIVE))
    assert [row["person"] for row in executive.get("/api/v1/time-off/").json()["results"]] == [firm.dan.pk]
    refused = executive.post(
        "/api/v1/time-off/",
        {"person": firm.dan.pk, "start": "2026-05-06", "end": "2026-05-07"},
        format="json",
    )
    assert refused.status_code == 403
    pm = as_user(firm.pm.user)
    assert pm.get(f"/api/v1/time-off/?person={firm.dan.pk}").json()["results"][0]["kind"] == "training"
    assert pm.delete(f"/api/v1/time-off/{created.json()['id']}/").status_code == 403


def test_holidays_and_practices(firm, staffer):
    rita, chloe = as_user(staffer.user), as_user(firm.chloe.user)
    holiday = {"legal_entity": firm.entity.pk, "date": "2026-12-25", "name": "Christmas Day"}
    assert chloe.post("/api/v1/holidays/", holiday, format="json").status_code == 403
    created = rita.post("/api/v1/holidays/", holiday, format="json")
    assert created.status_code == 201
    again = rita.post("/api/v1/holidays/", holiday | {"name": "Xmas"}, format="json")
    assert again.status_code == 400
    assert (
        again.json()["detail"] == "2026-12-25 is already a holiday of Acme Consulting Inc. (Christmas Day)."
    )
    listed = chloe.get(f"/api/v1/holidays/?legal_entity={firm.entity.pk}&date_after=2026-12-01").json()
    assert [(row["date"], row["name"]) for row in listed["results"]] == [("2026-12-25", "Christmas Day")]
    assert rita.delete(f"/api/v1/holidays/{created.json()['id']}/").status_code == 204
    assert not Holiday.objects.exists()
    assert AuditEvent.objects.filter(action__in=["holiday.created", "holiday.deleted"]).count() == 2

    assert chloe.post("/api/v1/practices/", {"name": "ERP"}, format="json").status_code == 403
    erp = rita.post("/api/v1/practices/", {"name": "ERP"}, format="json").json()
    assert rita.post("/api/v1/practices/", {"name": "erp"}, format="json").status_code == 400
    renamed = rita.patch(f"/api/v1/practices/{erp['id']}/", {"name": "ERP & Finance"}, format="json")
    assert renamed.json() == {"id": erp["id"], "name": "ERP & Finance", "active": True}
    assert [row["name"] for row in chloe.get("/api/v1/practices/").json()["results"]] == ["ERP & Finance"]


def test_practice_on_people_and_projects(firm, staffer):
    erp = Practice.objects.create(name="ERP")
    rita = as_user(staffer.user)
    changed = rita.patch(f"/api/v1/people/{firm.dan.pk}/", {"practice": erp.pk}, format="json")
    assert (changed.status_code, changed.json()["practice"]) == (200, erp.pk)
    listed = rita.get(f"/api/v1/people/?practice={erp.pk}").json()["results"]
    assert [row["name"] for row in listed] == ["Dan Brook"]
    unknown = rita.patch(f"/api/v1/people/{firm.dan.pk}/", {"practice": 999999}, format="json")
    assert unknown.status_code == 400 and "practice" in unknown.json()["fields"]
    pm = as_user(firm.pm.user)
    project = pm.patch(f"/api/v1/projects/{firm.project.pk}/", {"practice": erp.pk}, format="json")
    assert (project.status_code, project.json()["practice"]) == (200, erp.pk)
    assert pm.get(f"/api/v1/projects/?practice={erp.pk}").json()["results"][0]["code"] == "GLX-1"


def test_a_person_without_email_shows_an_empty_string(firm, make_person):
    nobody = make_person("No Mail", user=False)
    assert as_user(firm.pm.user).get(f"/api/v1/people/{nobody.pk}/").json()["email"] == ""
