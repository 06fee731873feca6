"""The time-off and holidays pages: a consultant records and cancels their own (an overlap is refused on
the form), a resource manager records anyone's and keeps the holidays, an executive reads."""

from datetime import date

import pytest
from django.test import Client

from core.models import AuditEvent
from core.roles import Role as UserRole
from projects.models import Holiday, Practice, TimeOff

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_consultant_records_and_cancels_time_off(firm):
    chloe = signed_in(firm.chloe.user)
    page = chloe.get("/projects/time-off/")
    assert page.status_code == 200 and b"You have no time off recorded." in page.content
    form = {
        "kind": "vacation",
        "start": "2026-04-06",
        "end": "2026-04-10",
        "hours_per_day": "8",
        "note": "Easter",
    }
    response = chloe.post("/projects/time-off/", form)
    assert response.status_code == 302
    (recorded,) = TimeOff.objects.filter(person=firm.chloe)
    assert (recorded.start, recorded.end, recorded.note) == (date(2026, 4, 6), date(2026, 4, 10), "Easter")
    overlap = chloe.post("/projects/time-off/", form | {"start": "2026-04-10", "end": "2026-04-14"})
    assert overlap.status_code == 400
    assert "Overlaps vacation from 2026-04-06 to 2026-04-10." in overlap.content.decode()
    too_long = chloe.post(
        "/projects/time-off/", form | {"start": "2026-05-04", "end": "2026-05-04", "hours_per_day": "25"}
    )
    assert too_long.status_code == 400 and TimeOff.objects.count() == 1
    listed = chloe.get("/projects/time-off/").content.decode()
    assert "2026-04-06" in listed and "Easter" in listed
    assert chloe.post(f"/projects/time-off/{recorded.pk}/cancel/").status_code == 302
    assert not TimeOff.objects.exists()


def test_a_resource_manager_records_for_anyone_and_keeps_holidays(firm, make_person, make_user):
    rita = signed_in(make_person("Rita Staff", UserRole.RESOURCE_MANAGER).user)
    form = {
        "person": firm.dan.pk,
        "kind": "training",
        "start": "2026-04-06",
        "end": "2026-04-06",
        "hours_per_day": "4",
    }
    assert rita.post("/projects/time-off/", form).status_code == 302
    assert TimeOff.objects.get().person == firm.dan
    added = rita.post(
        "/projects/holidays/", {"legal_entity": firm.entity.pk, "date": "2026-12-25", "name": "Christmas Day"}
    )
    assert added.status_code == 302 and added["Location"].endswith("?year=2026")
    again = rita.post(
        "/projects/holidays/", {"legal_entity": firm.entity.pk, "date": "2026-12-25", "name": "Xmas"}
    )
    assert again.status_code == 400 and "Already a holiday." in again.content.decode()
    page = signed_in(firm.chloe.user).get("/projects/holidays/?year=2026").content.decode()
    assert "Christmas Day" in page and "Declare a holiday" not in page
    assert (
        signed_in(firm.chloe.user)
        .post(
            "/projects/holidays/",
            {"legal_entity": firm.entity.pk, "date": "2026-12-26", "name": "Boxing Day"},
        )
        .status_code
        == 404
    )
    executive = signed_in(make_user(UserRole.EXECUTIVE))
    everyone = executive.get("/projects/time-off/").content.decode()
    assert "Dan Brook" in everyone and "Record time off" not in everyone
    holiday = Holiday.objects.get()
    assert rita.post(f"/projects/holidays/{holiday.pk}/delete/").status_code == 302
    assert not Holiday.objects.exists()


def test_admin_keeps_practices_through_the_services(admin_client, firm):
    assert (
        admin_client.post("/admin/projects/practice/add/", {"name": "ERP", "active": "on"}).status_code == 302
    )
    erp = Practice.objects.get(name="ERP")
    changed = admin_client.post(f"/admin/projects/practice/{erp.pk}/change/", {"name": "ERP & Finance"})
    assert changed.status_code == 302
    erp.refresh_from_db()
    assert (erp.name, erp.active) == ("ERP & Finance", False)
    assert list(
        AuditEvent.objects.filter(object_id=str(erp.pk), action__startswith="practice.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["practice.created", "practice.changed"]
    for name in ("holiday", "timeoff"):
        assert admin_client.get(f"/admin/projects/{name}/").status_code == 200
        assert admin_client.get(f"/admin/projects/{name}/add/").status_code == 403
