"""The projects pages: who may open them, the week grid's autosave (htmx) and structure changes, the
approvals inbox with anomalies and bulk decisions, expenses with receipts, projects, capacity and staffing."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.roles import Role as UserRole
from projects.choices import EntryStatus
from projects.models import Expense, Milestone, TimeEntry, Timesheet
from projects.services.people import create_assignment, create_resource_request
from projects.services.projects import create_milestone
from projects.services.time import record_time, submit_timesheet

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    for module in (
        "projects.views.week",
        "projects.services.time",
        "projects.services.expenses",
        "projects.views.projects",
        "projects.views.capacity",
        "projects.views.expenses",
    ):
        monkeypatch.setattr(f"{module}.timezone.localdate", lambda: TODAY)


@pytest.fixture
def login(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.mark.parametrize(
    "url, allowed, refused",
    [
        ("projects:week", ("consultant", "pm", "rm"), ("finance", "executive")),
        ("projects:approvals", ("pm",), ("consultant", "finance", "executive", "rm")),
        ("projects:capacity", ("rm", "pm", "finance", "executive"), ("consultant",)),
        ("projects:list", ("consultant", "pm", "rm", "finance", "executive"), ()),
        ("projects:expenses", ("consultant", "pm", "finance", "executive"), ()),
    ],
)
def test_who_opens_which_page(client, firm, make_user, url, allowed, refused):
    users = {
        "consultant": firm.chloe.user,
        "pm": firm.pm.user,
        "rm": make_user(UserRole.RESOURCE_MANAGER),
        "finance": make_user(UserRole.FINANCE),
        "executive": make_user(UserRole.EXECUTIVE),
    }
    for name in allowed:
        client.force_login(users[name])
        assert client.get(reverse(url)).status_code == 200, name
    for name in refused:
        client.force_login(users[name])
        assert client.get(reverse(url)).status_code == 403, name
    client.logout()
    assert client.get(reverse(url)).status_code == 302


def test_each_role_lands_on_its_workspace(client, firm, make_user):
    for user, url in [
        (firm.chloe.user, "/projects/time/"),
        (firm.pm.user, "/projects/approvals/"),
        (make_user(UserRole.RESOURCE_MANAGER), "/projects/capacity/"),
    ]:
        client.force_login(user)
        assert client.get("/").url == url


def cell(client, task, day, hours, billable=True, **extra):
    return client.post(
        reverse("projects:week-cell"),
        {
            "task": task.pk,
            "date": day.isoformat(),
            "billable": "1" if billable else "0",
            "hours": hours,
            **extra,
        },
        **HTMX,
    )


def test_the_grid_saves_cell_by_cell(login, firm):
    chloe = login(firm.chloe.user)
    page = chloe.get(reverse("projects:week") + "?week=2026-03-16")
    assert page.status_code == 200
    assert b"No rows yet" in page.content
    added = chloe.post(
        reverse("projects:week-add-row"), {"task": firm.workshops.pk, "week": "2026-03-16"}, **HTMX
    )
    assert b'aria-label="Hours, Workshops, Monday 16 March"' in added.content
    assert Timesheet.objects.get(person=firm.chloe).rows == [{"task": firm.workshops.pk, "billable": True}]

    saved = cell(chloe, firm.workshops, MONDAY, "7:30")
    html = saved.content.decode()
    assert "cell-saved" in html and 'value="7.5"' in html
    assert '<span id="week-total" data-testid="week-total" hx-swap-oob="true">7.50</span>' in html
    assert f'<span id="row-total-{firm.workshops.pk}-1" hx-swap-oob="true">7.50</span>' in html
    assert '<span id="day-total-0" hx-swap-oob="true">7.50</span>' in html
    entry = TimeEntry.objects.get()
    assert (entry.hours, entry.date, entry.status) == (D("7.5"), MONDAY, EntryStatus.DRAFT)

    junk = cell(chloe, firm.workshops, date(2026, 3, 17), "eight").content.decode()
    assert "cell-error" in junk and "&#x27;eight&#x27; is not a number of hours." in junk
    too_much = cell(chloe, firm.workshops, MONDAY, "25").content.decode()
    assert "A day has at most 24 hours." in too_much and 'value="25"' in too_much
    assert TimeEntry.objects.get().hours == D("7.5")

    noted = cell(chloe, firm.workshops, MONDAY, "7.5", notes="Kick-off workshop")
    assert b"bi-chat-left-text-fill" in noted.content
    assert TimeEntry.objects.get().notes == "Kick-off workshop"
    cleared = cell(chloe, firm.workshops, MONDAY, "")
    assert b'<span id="week-total" data-testid="week-total" hx-swap-oob="true">0.00</span>' in cleared.content
    assert not TimeEntry.objects.exists()


def test_copy_last_week_submit_and_locking(login, firm):
    chloe = login(firm.chloe.user)
    record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        task=firm.travel,
        date=date(2026, 3, 10),
        hours=D(2),
        today=TODAY,
    )
    copied = chloe.post(reverse("projects:week-copy"), {"week": "2026-03-16"}, **HTMX).content.decode()
    assert "Hours, Travel, Monday 16 March" in copied
    cell(chloe, firm.workshops, MONDAY, "8")
    submitted = chloe.post(reverse("projects:week-submit"), {"week": "2026-03-16"}, follow=True)
    assert (
        "Week of 16 Mar 2026 submitted: 1 entry went to your project managers" in submitted.content.decode()
    )
    assert TimeEntry.objects.get(date=MONDAY).status == EntryStatus.SUBMITTED
    refused = cell(chloe, firm.workshops, MONDAY, "9").content.decode()
    assert "submitted for approval" in refused


def test_someone_elses_grid_cannot_be_written(login, firm):
    dan = login(firm.dan.user)
    response = cell(dan, firm.workshops, MONDAY, "8")
    assert b"is not assigned to GLX-1" in response.content
    assert not TimeEntry.objects.exists()


@pytest.fixture
def submitted_week(firm):
    days = [(MONDAY, "8"), (date(2026, 3, 17), "13"), (date(2026, 3, 21), "3")]
    entries = [
        record_time(
            actor=firm.chloe.user,
            person=firm.chloe,
            project=firm.project,
            task=firm.workshops,
            date=day,
            hours=D(hours),
            today=TODAY,
        )
        for day, hours in days
    ]
    submit_timesheet(actor=firm.chloe.user, timesheet=entries[0].timesheet)
    return entries


def test_the_inbox_flags_anomalies(login, firm, submitted_week):
    page = login(firm.pm.user).get(reverse("projects:approvals")).content.decode()
    assert "Chloe Novak" in page and "week of Mon 16 Mar 2026" in page
    assert page.count('data-anomaly="long_day"') == 1
    assert page.count('data-anomaly="weekend"') == 1
    assert page.count('data-anomaly="outside_assignment"') == 0


def test_hours_outside_the_assignment_are_flagged(login, firm, usd_entity, client_account):
    from projects.services.projects import create_project

    internal = create_project(
        actor=None,
        account=client_account,
        legal_entity=usd_entity,
        code="INT",
        name="Internal",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        allow_any_person=True,
        manager=firm.pm,
        tasks=[{"name": "Training"}],
    )
    entry = record_time(
        actor=firm.dan.user,
        person=firm.dan,
        project=internal,
        task=internal.tasks.get(),
        date=MONDAY,
        hours=D(2),
        today=TODAY,
    )
    submit_timesheet(actor=firm.dan.user, timesheet=entry.timesheet)
    page = login(firm.pm.user).get(reverse("projects:approvals")).content.decode()
    assert page.count('data-anomaly="outside_assignment"') == 1


def test_bulk_decisions_in_the_inbox(login, firm, submitted_week):
    pm = login(firm.pm.user)
    ids = [e.pk for e in submitted_week]
    no_reason = pm.post(
        reverse("projects:approvals"), {"action": "reject", "entry": ids[:1], "reason": ""}, follow=True
    )
    assert "Say why the time is rejected." in no_reason.content.decode()
    rejected = pm.post(
        reverse("projects:approvals"),
        {"action": "reject", "entry": ids[:1], "reason": "Not on Monday"},
        follow=True,
    )
    assert "Rejected 1 entry: Not on Monday" in rejected.content.decode()
    approved = pm.post(reverse("projects:approvals"), {"action": "approve", "entry": ids[1:]}, follow=True)
    assert "Approved 2 entries." in approved.content.decode()
    assert [TimeEntry.objects.get(pk=pk).status for pk in ids] == ["rejected", "approved", "approved"]
    grid = login(firm.chloe.user).get(reverse("projects:week") + "?week=2026-03-16").content.decode()
    assert 'data-testid="rejection-reason">Not on Monday</div>' in grid
    assert "1 entry sent back" in grid


def test_approving_the_week_in_the_inbox(login, firm, submitted_week):
    pm = login(firm.pm.user)
    response = pm.post(
        reverse("projects:approvals"), {"approve_week": submitted_week[0].timesheet_id}, follow=True
    )
    assert "Approved 3 entries of Chloe Novak, week of 16 Mar 2026." in response.content.decode()
    grid = login(firm.chloe.user).get(reverse("projects:week") + "?week=2026-03-16").content.decode()
    assert 'data-testid="week-locked"' in grid
    assert 'name="hours"' not in grid


def test_the_inbox_does_not_query_per_entry(
    login, firm, submitted_week, make_person, django_assert_max_num_queries
):
    pm = login(firm.pm.user)
    for n in range(3):
        person = make_person(f"Extra{n} Person", UserRole.CONSULTANT)
        create_assignment(
            actor=None,
            person=person,
            project=firm.project,
            start=date(2026, 1, 1),
            end=date(2026, 6, 30),
            hours=D(100),
        )
        for offset in range(5):
            entry = record_time(
                actor=person.user,
                person=person,
                project=firm.project,
                task=firm.workshops,
                date=date(2026, 3, 16 + offset),
                hours=D(8),
                today=TODAY,
            )
        submit_timesheet(actor=person.user, timesheet=entry.timesheet)
    with django_assert_max_num_queries(14):
        assert pm.get(reverse("projects:approvals")).status_code == 200
    chloe = login(firm.chloe.user)
    with django_assert_max_num_queries(14):
        assert chloe.get(reverse("projects:week") + "?week=2026-03-16").status_code == 200


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


def test_recording_an_expense_with_its_receipt(login, firm, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    chloe = login(firm.chloe.user)
    data = {
        "project": firm.project.pk,
        "date": "2026-03-16",
        "category": "travel",
        "amount": "250.00",
        "currency": "USD",
        "billable": "on",
        "notes": "Flight",
    }
    refused = chloe.post(
        reverse("projects:expense-create"),
        {**data, "receipt": SimpleUploadedFile("ticket.pdf", b"MZ" + b"\0" * 90)},
    )
    assert refused.status_code == 200
    assert "This file is a program, not a PDF, JPEG or PNG." in refused.content.decode()
    assert not Expense.objects.exists()
    saved = chloe.post(
        reverse("projects:expense-create"),
        {**data, "receipt": SimpleUploadedFile("ticket.pdf", PDF), "submit": "1"},
        follow=True,
    )
    expense = Expense.objects.get()
    assert expense.status == EntryStatus.SUBMITTED
    page = saved.content.decode()
    assert "Expense recorded and sent for approval." in page and "ticket.pdf" in page
    assert "None needed (USD)" in page


def test_project_page_shows_burn_and_steps_milestones(login, firm):
    milestone = create_milestone(
        actor=None, project=firm.project, name="Blueprint", amount=D(10000), due=date(2026, 4, 30)
    )
    record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        task=firm.workshops,
        date=MONDAY,
        hours=D(10),
        today=TODAY,
    )
    pm = login(firm.pm.user)
    page = pm.get(reverse("projects:detail", args=[firm.project.pk])).content.decode()
    # 10 h of 1,000; billable value 10 × 150 = 1,500 of 150,000; cost 10 × 60 of 150,000 × 60% = 90,000.
    assert "10.00 of 1,000.00 h" in page
    assert "$1,500.00 of $150,000.00" in page
    assert "$600.00 of $90,000.00" in page
    pm.post(reverse("projects:milestone-action", args=[milestone.pk, "complete"]))
    assert Milestone.objects.get().status == "completed"
    listing = pm.get(reverse("projects:list")).content.decode()
    assert "GLX-1" in listing and "Budget burn" in listing


def test_capacity_page_and_staffing_from_a_request(login, firm, make_user):
    request = create_resource_request(
        actor=None,
        project=firm.project,
        role=firm.roles.consultant,
        hours=D(40),
        start=date(2026, 4, 6),
        end=date(2026, 4, 10),
        skills=[("SQL", 2)],
    )
    rm = login(make_user(UserRole.RESOURCE_MANAGER))
    page = rm.get(reverse("projects:capacity")).content.decode()
    assert 'data-testid="capacity-table"' in page and "Find people" in page
    suggestions = rm.get(reverse("projects:request-detail", args=[request.pk])).content.decode()
    assert "Dan Brook" in suggestions and "No SQL (needs 2)" in suggestions
    staffed = rm.post(
        reverse("projects:request-detail", args=[request.pk]), {"person": firm.dan.pk}, follow=True
    )
    assert "Dan Brook is staffed on GLX-1." in staffed.content.decode()
    assert firm.dan.assignments.count() == 1


def test_a_rows_billable_toggle_moves_its_entries_and_an_empty_row_can_go(login, firm):
    chloe = login(firm.chloe.user)
    cell(chloe, firm.workshops, MONDAY, "3")
    cell(chloe, firm.workshops, date(2026, 3, 17), "2")
    flipped = chloe.post(
        reverse("projects:week-row-billable"),
        {"task": firm.workshops.pk, "billable": "1", "week": "2026-03-16"},
        **HTMX,
    )
    assert flipped.status_code == 200
    assert set(TimeEntry.objects.values_list("billable", flat=True)) == {False}
    assert f'data-row="{firm.workshops.pk}-0"' in flipped.content.decode()
    chloe.post(reverse("projects:week-add-row"), {"task": firm.travel.pk, "week": "2026-03-16"}, **HTMX)
    removed = chloe.post(
        reverse("projects:week-row-remove"),
        {"task": firm.travel.pk, "billable": "0", "week": "2026-03-16"},
        **HTMX,
    ).content.decode()
    assert f'data-row="{firm.travel.pk}-0"' not in removed
    kept = chloe.post(
        reverse("projects:week-row-remove"),
        {"task": firm.workshops.pk, "billable": "0", "week": "2026-03-16"},
        **HTMX,
    ).content.decode()
    assert "This row has hours; clear them before removing the row." in kept
    assert TimeEntry.objects.count() == 2
