"""Recording time: every bad input refused with a clear message and nothing saved; edits re-checked and
re-priced; approved and submitted entries locked."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent
from ledger.errors import PeriodClosed
from ledger.selectors import period_for
from ledger.services.setup import close_period
from projects.choices import EntryStatus, ProjectStatus
from projects.errors import Locked
from projects.models import TimeEntry, Timesheet
from projects.services.projects import create_project, set_project_status
from projects.services.time import (
    approve_time_entries,
    delete_time_entry,
    parse_hours,
    record_time,
    submit_timesheet,
    update_time_entry,
)

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def log(firm):
    """log(hours, day=MONDAY, task=workshops, person=chloe, **kw): record as the person's own user."""

    def record(hours, day=MONDAY, task=None, person=None, actor=None, **kwargs):
        person = person or firm.chloe
        task = task or firm.workshops
        return record_time(
            actor=actor or person.user,
            person=person,
            project=kwargs.pop("project", task.project),
            task=task,
            date=day,
            hours=D(hours),
            today=TODAY,
            **kwargs,
        )

    return record


def refused(call, *, message: str, field: str | None = None, error=ValidationFailed):
    before = (TimeEntry.objects.count(), AuditEvent.objects.filter(action__startswith="time_entry").count())
    with pytest.raises(error) as caught:
        call()
    assert message in caught.value.detail, caught.value.detail
    if field:
        assert field in caught.value.fields
    assert (
        TimeEntry.objects.count(),
        AuditEvent.objects.filter(action__startswith="time_entry").count(),
    ) == before
    return caught.value


def test_an_entry_snapshots_its_rates_and_defaults_billable_from_the_task(firm, log):
    entry = log("7.5")
    assert (entry.hours, entry.billable, entry.status) == (D("7.5"), True, EntryStatus.DRAFT)
    assert (entry.bill_rate, entry.cost_rate, entry.currency, entry.role_id) == (
        D("150"),
        D("60"),
        "USD",
        firm.roles.consultant.pk,
    )
    travel = log("2", task=firm.travel)
    assert travel.billable is False
    override = log("1", task=firm.travel, billable=True)
    assert override.billable is True
    assert entry.timesheet == Timesheet.objects.get(person=firm.chloe, week_start=MONDAY)
    assert AuditEvent.objects.filter(action="time_entry.created", object_id=str(entry.pk)).count() == 1


@pytest.mark.parametrize(
    "hours, message",
    [
        ("0", "Hours must be more than 0."),
        ("-1", "Hours must be more than 0."),
        ("24.25", "A day has at most 24 hours."),
        ("7.1", "Hours go in steps of 0.25"),
    ],
)
def test_hours_out_of_range_are_refused(log, hours, message):
    refused(lambda: log(hours), message=message, field="hours")


def test_more_than_24_hours_a_day_in_total_is_refused(firm, log):
    log("16")
    refused(
        lambda: log("8.25", task=firm.travel), message="That makes 24.25 hours on 2026-03-16", field="hours"
    )
    log("8", task=firm.travel)
    assert TimeEntry.objects.filter(date=MONDAY).count() == 2


def test_a_task_of_another_project_is_refused(firm, log, client_account, usd_entity):
    other = create_project(
        actor=None,
        account=client_account,
        legal_entity=usd_entity,
        code="OTH",
        name="Other",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        tasks=[{"name": "Elsewhere"}],
    )
    task = other.tasks.get()
    refused(
        lambda: log("2", task=task, project=firm.project),
        message="Task 'Elsewhere' belongs to another project, not GLX-1.",
        field="task",
    )


def test_someone_not_assigned_is_refused_unless_the_project_takes_anyone(
    firm, log, client_account, usd_entity
):
    refused(lambda: log("2", person=firm.dan), message="Dan Brook is not assigned to GLX-1 on 2026-03-16.")
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
        tasks=[{"name": "Training", "billable": False}],
    )
    entry = log("2", person=firm.dan, task=internal.tasks.get())
    assert (entry.billable, entry.bill_rate) == (False, D("150"))


def test_the_project_must_be_active_on_the_day(firm, log):
    refused(lambda: log("2", day=date(2025, 12, 31)), message="GLX-1 runs from 2026-01-01 to 2026-12-31")
    set_project_status(actor=None, project=firm.project, status=ProjectStatus.ON_HOLD)
    firm.workshops.project.refresh_from_db()
    refused(lambda: log("2"), message="GLX-1 is on hold; time is booked on active projects only.")


def test_a_day_in_a_closed_period_is_refused(firm, log, make_user):
    close_period(
        actor=make_user("finance"),
        period=period_for(firm.entity, date(2026, 2, 1)),
        reason="February is final",
    )
    error = refused(
        lambda: log("3", day=date(2026, 2, 27)),
        message="The period 2026-02 of Acme Consulting Inc. is closed; "
        "time dated 2026-02-27 cannot be recorded.",
        error=PeriodClosed,
    )
    assert error.code == "period_closed"
    assert error.fields == {"date": [error.detail]}


def test_at_most_fourteen_days_ahead(log):
    assert log("1", day=TODAY + timedelta(days=14)).date == date(2026, 4, 1)
    refused(
        lambda: log("1", day=TODAY + timedelta(days=15)), message="at most 14 days ahead (until 2026-04-01)"
    )


def test_a_consultant_cannot_write_someone_elses_time(firm, log):
    refused(
        lambda: log("2", person=firm.chloe, actor=firm.dan.user),
        message="You may record only your own time and expenses.",
        error=PermissionDenied,
    )


def test_one_entry_per_cell(firm, log):
    log("2")
    refused(lambda: log("3"), message="already has billable time on 'Workshops' on 2026-03-16", field="task")
    assert log("1", billable=False).billable is False


def test_editing_a_draft_rechecks_and_reprices_it(firm, log):
    entry = log("4")
    changed = update_time_entry(
        actor=firm.chloe.user, entry=entry, hours=D("6"), notes="Kick-off", today=TODAY
    )
    assert (changed.hours, changed.notes, changed.bill_rate) == (D("6"), "Kick-off", D("150"))
    audit = AuditEvent.objects.get(action="time_entry.changed", object_id=str(entry.pk))
    assert audit.changes == {"hours": ["4.00", "6"], "notes": ["", "Kick-off"]}
    with pytest.raises(ValidationFailed):
        update_time_entry(actor=firm.chloe.user, entry=entry, hours=D("25"), today=TODAY)
    entry.refresh_from_db()
    assert entry.hours == D("6")


def test_submitted_and_approved_entries_are_locked(firm, log):
    entry = log("4")
    submit_timesheet(actor=firm.chloe.user, timesheet=entry.timesheet)
    refused(
        lambda: update_time_entry(actor=firm.chloe.user, entry=entry, hours=D("5"), today=TODAY),
        message="submitted for approval",
        error=Locked,
    )
    approve_time_entries(actor=firm.pm.user, entries=[entry])
    refused(
        lambda: update_time_entry(actor=firm.chloe.user, entry=entry, hours=D("5"), today=TODAY),
        message="approved and locked",
        error=Locked,
    )
    refused(lambda: delete_time_entry(actor=firm.chloe.user, entry=entry), message="approved", error=Locked)
    entry.refresh_from_db()
    assert (entry.hours, entry.status) == (D("4.00"), EntryStatus.APPROVED)


def test_drafts_can_be_deleted(firm, log):
    entry = log("4")
    delete_time_entry(actor=firm.chloe.user, entry=entry)
    assert not TimeEntry.objects.exists()
    assert AuditEvent.objects.filter(action="time_entry.deleted", object_id=str(entry.pk)).exists()


@pytest.mark.parametrize(
    "typed, hours",
    [
        ("7.5", D("7.5")),
        ("7,25", D("7.25")),
        ("7:30", D("7.5")),
        ("7h45", D("7.75")),
        ("", None),
        ("8", D(8)),
    ],
)
def test_hours_as_typed(typed, hours):
    assert parse_hours(typed) == hours


def test_junk_hours_are_a_value_error():
    with pytest.raises(ValueError, match="is not a number of hours"):
        parse_hours("eight")
