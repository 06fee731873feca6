"""The projects API: the contract's fields, the permission matrix (consultant, project manager, resource
manager, finance, executive, integrator), actions and their 409s, expenses with receipts, and lists that do
not query per row."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.models import Event
from core.roles import Role as UserRole
from core.services.api_keys import create_api_key
from projects.choices import EntryStatus
from projects.models import Expense, Milestone, TimeEntry
from projects.services.people import create_assignment, create_resource_request
from projects.services.projects import complete_milestone, create_milestone
from projects.services.time import record_time, submit_timesheet

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr("projects.services.time.timezone.localdate", lambda: TODAY)
    monkeypatch.setattr("projects.services.expenses.timezone.localdate", lambda: TODAY)


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def entries(firm):
    """Chloe's Monday and Tuesday (submitted) and Dan's internal-less nothing."""
    made = [
        record_time(
            actor=firm.chloe.user,
            person=firm.chloe,
            project=firm.project,
            task=firm.workshops,
            date=date(2026, 3, 16 + offset),
            hours=D(8),
            today=TODAY,
        )
        for offset in range(2)
    ]
    submit_timesheet(actor=firm.chloe.user, timesheet=made[0].timesheet)
    return made


def test_a_time_entry_has_the_contract_fields(firm, entries):
    body = as_user(firm.chloe.user).get(f"/api/v1/time-entries/{entries[0].pk}/").json()
    expected = {
        "id": entries[0].pk,
        "person": firm.chloe.pk,
        "project": firm.project.pk,
        "task": firm.workshops.pk,
        "date": "2026-03-16",
        "hours": "8.00",
        "billable": True,
        "notes": "",
        "status": "submitted",
        "bill_rate": "150",
        "cost_rate": "60",
        "invoice_line": None,
        "currency": "USD",
        "billable_amount": "1200.00",
        "rate_source": "standard_card",
    }
    assert {k: body[k] for k in expected} == expected


def test_a_consultant_records_their_own_time(firm):
    chloe = as_user(firm.chloe.user)
    response = chloe.post(
        "/api/v1/time-entries/",
        {"project": firm.project.pk, "task": firm.workshops.pk, "date": "2026-03-17", "hours": "7.5"},
    )
    assert response.status_code == 201, response.content
    assert (response.json()["person"], response.json()["bill_rate"]) == (firm.chloe.pk, "150")
    bad = chloe.post(
        "/api/v1/time-entries/",
        {"project": firm.project.pk, "task": firm.workshops.pk, "date": "2026-03-18", "hours": "0"},
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "code": "invalid",
        "detail": "Hours must be more than 0.",
        "fields": {"hours": ["Hours must be more than 0."]},
    }
    someone_else = chloe.post(
        "/api/v1/time-entries/",
        {
            "person": firm.dan.pk,
            "project": firm.project.pk,
            "task": firm.workshops.pk,
            "date": "2026-03-17",
            "hours": "1",
        },
    )
    assert someone_else.status_code == 403
    assert someone_else.json()["detail"] == "You may record only your own time and expenses."
    assert TimeEntry.objects.count() == 1


def test_what_each_role_sees(firm, entries, make_user, make_person):
    dan = as_user(firm.dan.user)
    assert dan.get("/api/v1/time-entries/").json()["results"] == []
    assert dan.get(f"/api/v1/time-entries/{entries[0].pk}/").status_code == 404
    assert dan.get(f"/api/v1/timesheets/{entries[0].timesheet_id}/").status_code == 404
    assert dan.get("/api/v1/projects/").json()["results"] == []
    assert [p["id"] for p in as_user(firm.chloe.user).get("/api/v1/projects/").json()["results"]] == [
        firm.project.pk
    ]
    assert dan.get("/api/v1/rate-cards/").status_code == 403
    assert dan.get("/api/v1/resource-requests/").status_code == 403
    assert dan.get("/api/v1/capacity/").status_code == 403
    assert [p["id"] for p in dan.get("/api/v1/people/").json()["results"]] == [firm.dan.pk]

    other_pm = as_user(make_person("Omar Ali", UserRole.PROJECT_MANAGER).user)
    assert other_pm.get("/api/v1/time-entries/").json()["results"] == []
    assert len(as_user(firm.pm.user).get("/api/v1/time-entries/").json()["results"]) == 2
    for role in (UserRole.FINANCE, UserRole.EXECUTIVE):
        reader = as_user(make_user(role))
        assert len(reader.get("/api/v1/time-entries/").json()["results"]) == 2
        assert reader.get(f"/api/v1/timesheets/{entries[0].timesheet_id}/").json()["total_hours"] == "16.00"
        assert reader.get("/api/v1/capacity/").status_code == 200
        assert reader.get("/api/v1/cost-rates/").status_code == 200
    assert as_user(firm.pm.user).get("/api/v1/cost-rates/").status_code == 403
    rm = as_user(make_user(UserRole.RESOURCE_MANAGER))
    assert rm.get("/api/v1/people/").json()["results"][0].keys() >= {
        "id",
        "user",
        "name",
        "role",
        "cost_rate",
        "capacity_hours_per_week",
        "skills",
        "legal_entity",
    }
    assert rm.get("/api/v1/time-entries/").json()["results"] == []


def test_the_permission_matrix_for_decisions(firm, entries, make_user):
    sheet_url = f"/api/v1/timesheets/{entries[0].timesheet_id}"
    for user in (
        firm.chloe.user,
        firm.dan.user,
        make_user(UserRole.FINANCE),
        make_user(UserRole.RESOURCE_MANAGER),
    ):
        assert as_user(user).post(f"{sheet_url}/approve/").status_code in (403, 404)
    executive = as_user(make_user(UserRole.EXECUTIVE))
    for url, body in [
        (f"{sheet_url}/approve/", {}),
        (
            "/api/v1/time-entries/",
            {"project": firm.project.pk, "task": firm.workshops.pk, "date": "2026-03-17", "hours": "1"},
        ),
        ("/api/v1/projects/", {}),
        ("/api/v1/rate-cards/", {}),
        ("/api/v1/expenses/", {}),
    ]:
        assert executive.post(url, body).status_code == 403, url
    assert {e.status for e in TimeEntry.objects.all()} == {EntryStatus.SUBMITTED}

    pm = as_user(firm.pm.user)
    assert pm.post(f"{sheet_url}/reject/", {}).status_code == 400
    body = pm.post(f"{sheet_url}/approve/").json()
    assert (body["status"], body["total_hours"]) == ("approved", "16.00")
    assert [e["status"] for e in body["entries"]] == ["approved", "approved"]
    again = pm.post(f"{sheet_url}/approve/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    locked = as_user(firm.chloe.user).patch(f"/api/v1/time-entries/{entries[0].pk}/", {"hours": "1"})
    assert locked.status_code == 409
    assert locked.json()["code"] == "locked"


def test_submit_and_reject_per_entry_through_the_api(firm):
    chloe = as_user(firm.chloe.user)
    entry = chloe.post(
        "/api/v1/time-entries/",
        {"project": firm.project.pk, "task": firm.workshops.pk, "date": "2026-03-16", "hours": "4"},
    ).json()
    submitted = chloe.post(f"/api/v1/timesheets/{entry['timesheet']}/submit/")
    assert submitted.json()["status"] == "submitted"
    rejected = as_user(firm.pm.user).post(
        f"/api/v1/time-entries/{entry['id']}/reject/", {"reason": "Wrong task"}
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == ("rejected", "Wrong task")
    fixed = chloe.patch(f"/api/v1/time-entries/{entry['id']}/", {"task": firm.travel.pk, "billable": False})
    assert (fixed.json()["task"], fixed.json()["status"]) == (firm.travel.pk, "rejected")


def test_the_bulk_api_is_all_or_nothing(firm):
    chloe = as_user(firm.chloe.user)
    row = {"project": firm.project.pk, "task": firm.workshops.pk, "hours": "8"}
    good = [{**row, "date": f"2026-03-{16 + n}"} for n in range(3)]
    bad = [
        *good,
        {**row, "date": "2026-03-16", "task": firm.travel.pk, "hours": "16.25"},  # 24.25 h on Monday
        {**row, "date": "2026-03-20", "hours": "-1"},
        {**row, "date": "2026-04-20"},  # more than 14 days ahead
        {**row, "date": "2026-03-20", "task": 999999},
        {**row, "date": "not a day"},
    ]
    response = chloe.post("/api/v1/time-entries/bulk/", {"entries": bad}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "2 of 8 entries are invalid, so none was saved. Entry 6: No task with id 999999."
    assert set(body["fields"]["entries"]) == {"6", "7"}
    assert TimeEntry.objects.count() == 0
    # Type errors first; once the shapes are right, the rules speak, still by index.
    response = chloe.post("/api/v1/time-entries/bulk/", {"entries": bad[:6]}, format="json")
    assert response.status_code == 400
    errors = response.json()["fields"]["entries"]
    assert errors == {
        "3": {"hours": ["That makes 24.25 hours on 2026-03-16 for Chloe Novak; a day has at most 24."]},
        "4": {"hours": ["Hours must be more than 0."]},
        "5": {"date": ["Time can be recorded at most 14 days ahead (until 2026-04-01)."]},
    }
    assert TimeEntry.objects.count() == 0
    created = chloe.post("/api/v1/time-entries/bulk/", {"entries": good}, format="json")
    assert created.status_code == 201
    assert created.json()["created"] == 3
    assert [e["date"] for e in created.json()["results"]] == ["2026-03-16", "2026-03-17", "2026-03-18"]
    assert TimeEntry.objects.count() == 3


def test_the_bulk_api_takes_500_entries_in_one_go(firm, usd_entity, client_account, make_person):
    people = [firm.chloe] + [make_person(f"P{n} Q", UserRole.CONSULTANT) for n in range(19)]
    for person in people[1:]:
        create_assignment(
            actor=None,
            person=person,
            project=firm.project,
            start=date(2026, 1, 1),
            end=date(2026, 6, 30),
            hours=D(500),
        )
    integrator = as_user(firm.pm.user)
    integrator.force_authenticate(user=make_person("Int Egrator", UserRole.INTEGRATOR).user)
    rows = [
        {
            "person": person.pk,
            "project": firm.project.pk,
            "task": task.pk,
            "date": f"2026-03-{day:02d}",
            "hours": "4",
        }
        for person in people
        for day in range(2, 15)
        if date(2026, 3, day).weekday() < 5
        for task in (firm.workshops, firm.travel)
    ][:500]
    assert len(rows) == 400
    rows += [{**r, "date": "2026-02-" + r["date"][-2:]} for r in rows[:100]]
    with CaptureQueriesContext(connection) as queries:
        response = integrator.post("/api/v1/time-entries/bulk/", {"entries": rows}, format="json")
    assert response.status_code == 201, response.content[:500]
    assert response.json()["created"] == 500
    assert len(queries) < 80
    too_many = integrator.post("/api/v1/time-entries/bulk/", {"entries": rows + rows[:1]}, format="json")
    assert too_many.status_code == 400
    assert "entries" in too_many.json()["fields"]


def test_milestones_complete_and_accept(firm, make_user):
    milestone = create_milestone(
        actor=None, project=firm.project, name="Blueprint", amount=D("25000"), due=date(2026, 4, 30)
    )
    pm = as_user(firm.pm.user)
    early = pm.post(f"/api/v1/milestones/{milestone.pk}/accept/")
    assert early.status_code == 409
    assert pm.post(f"/api/v1/milestones/{milestone.pk}/complete/").json()["status"] == "completed"
    assert as_user(firm.chloe.user).post(f"/api/v1/milestones/{milestone.pk}/accept/").status_code == 403
    finance = make_user(UserRole.FINANCE)
    body = as_user(finance).post(f"/api/v1/milestones/{milestone.pk}/accept/").json()
    assert {k: body[k] for k in ("status", "amount", "currency", "accepted_by")} == {
        "status": "accepted",
        "amount": "25000.00",
        "currency": "USD",
        "accepted_by": finance.pk,
    }
    event = Event.objects.get(type="milestone.accepted")
    assert (event.data["amount"], event.data["project"], event.data["accepted_by"]) == (
        "25000.0000",
        firm.project.pk,
        finance.pk,
    )


def test_projects_and_rate_cards_through_the_api(firm, usd_entity, client_account, make_user):
    pm = as_user(firm.pm.user)
    created = pm.post(
        "/api/v1/projects/",
        {
            "account": client_account.pk,
            "legal_entity": usd_entity.pk,
            "code": "api-1",
            "name": "Via API",
            "currency": "USD",
            "start": "2026-04-01",
            "end": "2026-06-30",
            "budget_hours": "100",
            "tasks": [{"name": "Phase", "children": [{"name": "Task"}]}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    project = created.json()
    assert (project["code"], project["status"], project["budget_hours"]) == ("API-1", "active", "100.00")
    tasks = pm.get(f"/api/v1/tasks/?project={project['id']}").json()["results"]
    assert [(t["name"], t["parent"] is None) for t in tasks] == [("Phase", True), ("Task", False)]
    card = as_user(make_user(UserRole.FINANCE)).post(
        "/api/v1/rate-cards/",
        {
            "name": "Standard EUR",
            "currency": "EUR",
            "rates": [{"role": firm.roles.consultant.pk, "rate": "130.5", "valid_from": "2026-01-01"}],
        },
        format="json",
    )
    assert card.status_code == 201, card.content
    assert card.json()["rates"] == [
        {"role": firm.roles.consultant.pk, "rate": "130.5", "valid_from": "2026-01-01", "valid_to": None}
    ]
    assert card.json()["scope"] == "standard"
    budget = pm.get(f"/api/v1/projects/{firm.project.pk}/budget/").json()
    assert (budget["hours"], budget["budget_hours"], budget["currency"]) == ("0.00", "1000.00", "USD")


def test_resource_managers_fill_requests(firm, make_user):
    request = create_resource_request(
        actor=None,
        project=firm.project,
        role=firm.roles.consultant,
        hours=D(40),
        start=date(2026, 4, 6),
        end=date(2026, 4, 10),
    )
    rm = as_user(make_user(UserRole.RESOURCE_MANAGER))
    suggestions = rm.get(f"/api/v1/resource-requests/{request.pk}/suggestions/").json()
    assert [s["name"] for s in suggestions][:1] == ["Dan Brook"]
    assert (
        as_user(firm.pm.user)
        .post(f"/api/v1/resource-requests/{request.pk}/fill/", {"person": firm.dan.pk})
        .status_code
        == 403
    )
    filled = rm.post(f"/api/v1/resource-requests/{request.pk}/fill/", {"person": firm.dan.pk}).json()
    assert filled["status"] == "filled"
    assert firm.dan.assignments.get().hours == D(40)


PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"


def test_expenses_with_receipts(firm, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    chloe = as_user(firm.chloe.user)
    data = {
        "project": firm.project.pk,
        "date": "2026-03-16",
        "category": "software",
        "amount": "100.00",
        "currency": "USD",
    }
    renamed = chloe.post(
        "/api/v1/expenses/",
        {**data, "receipt": SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00" + b"\0" * 60)},
        format="multipart",
    )
    assert renamed.status_code == 400
    assert renamed.json()["fields"] == {"receipt": ["This file is a program, not a PDF, JPEG or PNG."]}
    assert not Expense.objects.exists()
    created = chloe.post(
        "/api/v1/expenses/", {**data, "receipt": SimpleUploadedFile("invoice.pdf", PDF)}, format="multipart"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert {
        k: body[k]
        for k in (
            "amount",
            "markup_percent",
            "converted_amount",
            "billable_amount",
            "status",
            "receipt_content_type",
            "invoice_line",
        )
    } == {
        "amount": "100.00",
        "markup_percent": "10.00",
        "converted_amount": "100.00",
        "billable_amount": "110.00",
        "status": "draft",
        "receipt_content_type": "application/pdf",
        "invoice_line": None,
    }
    browser = Client()
    browser.force_login(firm.chloe.user)
    receipt = browser.get(body["receipt"])
    assert (receipt.status_code, receipt["Content-Type"]) == (200, "application/pdf")
    assert b"".join(receipt.streaming_content) == PDF
    browser.force_login(firm.dan.user)
    assert browser.get(body["receipt"]).status_code == 404
    assert chloe.post(f"/api/v1/expenses/{body['id']}/submit/").json()["status"] == "submitted"
    assert (
        as_user(firm.pm.user).post(f"/api/v1/expenses/{body['id']}/approve/").json()["status"] == "approved"
    )


def test_api_keys_need_the_projects_scope(firm, entries):
    def client(scopes):
        issued = create_api_key(actor=firm.pm.user, user=firm.pm.user, name=str(scopes), scopes=scopes)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        return api

    assert client(["core:read"]).get("/api/v1/time-entries/").status_code == 403
    reader = client(["projects:read"])
    assert reader.get("/api/v1/time-entries/").status_code == 200
    refused = reader.post(f"/api/v1/timesheets/{entries[0].timesheet_id}/approve/")
    assert refused.status_code == 403
    assert "projects:write" in refused.json()["detail"]
    assert (
        client(["projects:write"]).post(f"/api/v1/timesheets/{entries[0].timesheet_id}/approve/").status_code
        == 200
    )


LIST_URLS = [
    "/api/v1/projects/",
    "/api/v1/tasks/",
    "/api/v1/milestones/",
    "/api/v1/rate-cards/",
    "/api/v1/people/",
    "/api/v1/assignments/",
    "/api/v1/resource-requests/",
    "/api/v1/time-entries/",
    "/api/v1/timesheets/",
    "/api/v1/expenses/",
    "/api/v1/cost-rates/",
    "/api/v1/rate-overrides/",
    "/api/v1/roles/",
]


def test_lists_do_not_query_per_row(firm, make_user, make_person, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    finance = as_user(make_user(UserRole.FINANCE))

    def add(n):
        person = make_person(f"Extra{n} Person", UserRole.CONSULTANT, cost="50", skills=[("SQL", 2)])
        create_assignment(
            actor=None,
            person=person,
            project=firm.project,
            start=date(2026, 1, 1),
            end=date(2026, 6, 30),
            hours=D(100),
        )
        for day in (MONDAY, date(2026, 3, 17)):
            entry = record_time(
                actor=person.user,
                person=person,
                project=firm.project,
                task=firm.workshops,
                date=day,
                hours=D(4),
                today=TODAY,
            )
        submit_timesheet(actor=person.user, timesheet=entry.timesheet)
        create_resource_request(
            actor=None,
            project=firm.project,
            role=firm.roles.consultant,
            hours=D(10),
            start=date(2026, 4, 1),
            end=date(2026, 4, 2),
            skills=[("SQL", 2)],
        )
        milestone = create_milestone(actor=None, project=firm.project, name=f"M{n}", amount=D(1), due=MONDAY)
        complete_milestone(actor=None, milestone=milestone)
        from projects.services.expenses import create_expense

        create_expense(
            actor=None,
            person=person,
            project=firm.project,
            date=MONDAY,
            category="meals",
            amount=D("12.00"),
            currency="USD",
            today=TODAY,
        )

    def counts():
        result = {}
        for url in LIST_URLS:
            with CaptureQueriesContext(connection) as queries:
                response = finance.get(url)
            assert response.status_code == 200, url
            result[url] = len(queries)
        return result

    add(1)
    counts()
    before = counts()
    add(2)
    add(3)
    assert counts() == before
    assert max(before.values()) <= 8
    assert Milestone.objects.count() == 3


def test_bulk_approve_and_reject(firm, entries):
    pm = as_user(firm.pm.user)
    ids = [e.pk for e in entries]
    refused = pm.post("/api/v1/time-entries/bulk-reject/", {"entries": ids}, format="json")
    assert (refused.status_code, refused.json()["fields"]) == (400, {"reason": ["A reason is required."]})
    assert (
        as_user(firm.dan.user).post("/api/v1/time-entries/bulk-approve/", {"entries": ids}).status_code == 400
    )
    unknown = pm.post("/api/v1/time-entries/bulk-approve/", {"entries": [*ids, 999999]}, format="json")
    assert unknown.status_code == 400
    assert {e.status for e in TimeEntry.objects.all()} == {EntryStatus.SUBMITTED}
    approved = pm.post("/api/v1/time-entries/bulk-approve/", {"entries": ids}, format="json").json()
    assert approved["decided"] == 2
    assert [e["status"] for e in approved["results"]] == ["approved", "approved"]
    again = pm.post("/api/v1/time-entries/bulk-approve/", {"entries": ids}, format="json")
    assert again.status_code == 409
