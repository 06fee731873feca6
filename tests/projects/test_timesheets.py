"""The week's state machine: submit → approve | reject (reason, back to the consultant) per entry or per
week by each project's manager; a week is approved when all its entries are, and then it is locked."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role as UserRole
from projects.choices import EntryStatus, TimesheetStatus
from projects.models import TimeEntry
from projects.services.people import create_assignment
from projects.services.projects import create_project
from projects.services.time import (
    approve_time_entries,
    approve_timesheet,
    record_time,
    reject_time_entries,
    reject_timesheet,
    submit_timesheet,
    update_time_entry,
)

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def week(firm):
    """Chloe's Monday to Wednesday on GLX-1, 8 hours a day."""
    return [
        record_time(
            actor=firm.chloe.user,
            person=firm.chloe,
            project=firm.project,
            task=firm.workshops,
            date=date(2026, 3, 16 + offset),
            hours=D(8),
            today=TODAY,
        )
        for offset in range(3)
    ]


def statuses(entries):
    return [TimeEntry.objects.get(pk=e.pk).status for e in entries]


def test_submit_moves_the_weeks_drafts_to_submitted(firm, week):
    sheet = submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    assert sheet.status == TimesheetStatus.SUBMITTED
    assert sheet.submitted_at is not None
    assert statuses(week) == [EntryStatus.SUBMITTED] * 3
    assert AuditEvent.objects.filter(action="time_entry.submitted").count() == 3
    assert Event.objects.filter(type="timesheet.submitted", subject_id=str(sheet.pk)).count() == 1
    with pytest.raises(InvalidTransition, match="Nothing to submit"):
        submit_timesheet(actor=firm.chloe.user, timesheet=sheet)


def test_only_the_author_submits(firm, week):
    with pytest.raises(PermissionDenied):
        submit_timesheet(actor=firm.dan.user, timesheet=week[0].timesheet)
    assert statuses(week) == [EntryStatus.DRAFT] * 3


def test_the_projects_manager_approves_the_week_and_it_locks(firm, week):
    sheet = submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    sheet = approve_timesheet(actor=firm.pm.user, timesheet=sheet)
    assert sheet.status == TimesheetStatus.APPROVED
    assert sheet.approved_at is not None
    assert statuses(week) == [EntryStatus.APPROVED] * 3
    assert {e.approved_by_id for e in TimeEntry.objects.all()} == {firm.pm.user_id}
    event = Event.objects.get(type="timesheet.approved")
    assert event.data["entries"] == [e.pk for e in week]
    assert event.data["hours"] == "24.00"
    with pytest.raises(ValidationFailed, match="approved and locked"):
        record_time(
            actor=firm.chloe.user,
            person=firm.chloe,
            project=firm.project,
            task=firm.travel,
            date=date(2026, 3, 19),
            hours=D(1),
            today=TODAY,
        )


def test_nobody_else_approves(firm, week, make_user, make_person):
    submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    other_pm = make_person("Omar Ali", UserRole.PROJECT_MANAGER)
    for actor in (other_pm.user, firm.dan.user, make_user(UserRole.FINANCE), make_user(UserRole.EXECUTIVE)):
        with pytest.raises((PermissionDenied, InvalidTransition)):
            approve_timesheet(actor=actor, timesheet=week[0].timesheet)
        with pytest.raises(PermissionDenied):
            approve_time_entries(actor=actor, entries=week)
    assert statuses(week) == [EntryStatus.SUBMITTED] * 3


def test_nobody_approves_their_own_time(firm, make_person):
    create_assignment(
        actor=None,
        person=firm.pm,
        project=firm.project,
        start=date(2026, 1, 1),
        end=date(2026, 6, 30),
        hours=D(100),
    )
    entry = record_time(
        actor=firm.pm.user,
        person=firm.pm,
        project=firm.project,
        task=firm.internal,
        date=MONDAY,
        hours=D(2),
        today=TODAY,
    )
    submit_timesheet(actor=firm.pm.user, timesheet=entry.timesheet)
    with pytest.raises(PermissionDenied, match="your own time"):
        approve_time_entries(actor=firm.pm.user, entries=[entry])


def test_reject_needs_a_reason_and_sends_the_entry_back(firm, week):
    sheet = submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    with pytest.raises(ValidationFailed, match="Say why"):
        reject_time_entries(actor=firm.pm.user, entries=[week[1]], reason="  ")
    assert statuses(week) == [EntryStatus.SUBMITTED] * 3

    reject_time_entries(actor=firm.pm.user, entries=[week[1]], reason="Tuesday was a holiday")
    approve_time_entries(actor=firm.pm.user, entries=[week[0], week[2]])
    sheet.refresh_from_db()
    assert sheet.status == TimesheetStatus.REJECTED
    rejected = TimeEntry.objects.get(pk=week[1].pk)
    assert (rejected.status, rejected.rejection_reason) == (EntryStatus.REJECTED, "Tuesday was a holiday")
    assert AuditEvent.objects.get(action="time_entry.rejected").reason == "Tuesday was a holiday"

    # Back with Chloe: she changes it (it stays rejected, with the reason, until she resubmits).
    update_time_entry(actor=firm.chloe.user, entry=rejected, hours=D(2), today=TODAY)
    assert TimeEntry.objects.get(pk=rejected.pk).status == EntryStatus.REJECTED
    submit_timesheet(actor=firm.chloe.user, timesheet=sheet)
    rejected.refresh_from_db()
    assert (rejected.status, rejected.rejection_reason, rejected.hours) == (
        EntryStatus.SUBMITTED,
        "",
        D("2.00"),
    )
    sheet = approve_timesheet(actor=firm.pm.user, timesheet=sheet)
    assert sheet.status == TimesheetStatus.APPROVED


def test_reject_a_whole_week(firm, week):
    sheet = submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    sheet = reject_timesheet(actor=firm.pm.user, timesheet=sheet, reason="Book the workshops on GLX-2")
    assert sheet.status == TimesheetStatus.REJECTED
    assert statuses(week) == [EntryStatus.REJECTED] * 3
    assert Event.objects.filter(type="timesheet.rejected").count() == 1


def test_a_week_on_two_projects_is_approved_by_each_manager(firm, make_person, client_account, usd_entity):
    omar = make_person("Omar Ali", UserRole.PROJECT_MANAGER)
    second = create_project(
        actor=None,
        account=client_account,
        legal_entity=usd_entity,
        code="GLX-9",
        name="Second",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        manager=omar,
        tasks=[{"name": "Build"}],
    )
    create_assignment(
        actor=None,
        person=firm.chloe,
        project=second,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        hours=D(100),
    )
    mine = record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        task=firm.workshops,
        date=MONDAY,
        hours=D(5),
        today=TODAY,
    )
    theirs = record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=second,
        task=second.tasks.get(),
        date=MONDAY,
        hours=D(3),
        today=TODAY,
    )
    sheet = submit_timesheet(actor=firm.chloe.user, timesheet=mine.timesheet)
    sheet = approve_timesheet(actor=firm.pm.user, timesheet=sheet)
    assert sheet.status == TimesheetStatus.PARTIALLY_APPROVED
    assert statuses([mine, theirs]) == [EntryStatus.APPROVED, EntryStatus.SUBMITTED]
    assert not Event.objects.filter(type="timesheet.approved").exists()
    with pytest.raises(InvalidTransition, match="Nothing in the week of 2026-03-16"):
        approve_timesheet(actor=firm.pm.user, timesheet=sheet)
    sheet = approve_timesheet(actor=omar.user, timesheet=sheet)
    assert sheet.status == TimesheetStatus.APPROVED
    assert Event.objects.filter(type="timesheet.approved").count() == 1


def test_bulk_approval_is_all_or_nothing(firm, week):
    submit_timesheet(actor=firm.chloe.user, timesheet=week[0].timesheet)
    late = record_time(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        task=firm.travel,
        date=MONDAY,
        hours=D(1),
        today=TODAY,
    )
    with pytest.raises(InvalidTransition, match="is draft; only submitted time can be approved"):
        approve_time_entries(actor=firm.pm.user, entries=[*week, late])
    assert statuses(week) == [EntryStatus.SUBMITTED] * 3
