"""Time entries and timesheets: recording time (one entry, a grid cell, or a bulk import of up to 500, all
or nothing), the week's state machine draft → submitted → approved | rejected, and re-rating.

Every entry passes the same checks (`prepare_time_entries`): hours in quarter-hour steps, above 0 and at
most 24 a day per person; the task belongs to the project; the person is assigned (unless the project
takes anyone); the project is active on the day; the day is not in a closed fiscal period of the
project's legal entity, not more than 14 days ahead, and not in an approved week. Rates are resolved
and snapshotted on every save. The person's timesheet row for the week is locked first, so two writes to
one week never race past the 24-hour rule.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit
from core.roles import Role as UserRole
from core.roles import has_role
from ledger.errors import PeriodClosed
from ledger.models import LegalEntity
from projects.access import manages, may_approve, require_write_for
from projects.choices import (
    EDITABLE_STATUSES,
    RERATABLE_STATUSES,
    EntryStatus,
    ProjectStatus,
    TimesheetStatus,
    timesheet_status,
)
from projects.errors import Locked
from projects.models import Person, Project, Task, TimeEntry, Timesheet
from projects.selectors.rates import RateBook
from projects.services.common import (
    QUARTER,
    closed_period_label,
    closed_periods,
    record_many,
    refuse_closed_periods,
)
from projects.weeks import week_start

MAX_DAY_HOURS = Decimal(24)
MAX_DAYS_AHEAD = 14
MAX_NOTES = 500
ENTRY_FIELDS = ("project", "task", "date", "hours", "billable", "notes")


@dataclass
class TimeInput:
    """One entry to record: the task's `billable` flag applies when `billable` is None."""

    person: Person
    project: Project
    task: Task
    date: date
    hours: Decimal
    billable: bool | None = None
    notes: str = ""


def parse_hours(value) -> Decimal | None:
    """Hours as typed: "7.5", "7,5", "7:30" or "7h30" → Decimal("7.5"); blank → None; junk → ValueError."""
    if value is None:
        return None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    text = str(value).strip().lower().replace(",", ".").replace("h", ":").rstrip(":")
    if not text:
        return None
    try:
        if ":" in text:
            hours, minutes = text.split(":", 1)
            minutes_value = Decimal(minutes or 0)
            if not 0 <= minutes_value < 60:
                raise ValueError(value)
            return Decimal(hours or 0) + minutes_value / 60
        return Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError(f"'{value}' is not a number of hours.") from None


def hours_problem(hours) -> str | None:
    if hours is None:
        return "Enter the hours."
    if not isinstance(hours, Decimal) or not hours.is_finite():
        return "Hours must be a number."
    if hours <= 0:
        return "Hours must be more than 0."
    if hours > MAX_DAY_HOURS:
        return "A day has at most 24 hours."
    if hours % QUARTER != 0:
        return "Hours go in steps of 0.25 (a quarter of an hour)."
    return None


def _fmt(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.01'))}"


class _Checker:
    """Checks rows of time against the rules and prices them, with what it needs loaded up front."""

    def __init__(self, rows: Sequence[TimeInput], *, today: date, exclude_ids: Iterable[int] = ()):
        exclude_ids = set(exclude_ids)
        self.today = today
        projects = {row.project.pk: row.project for row in rows}
        person_ids = {row.person.pk for row in rows}
        self.book = RateBook(projects.values(), person_ids)
        dates = [row.date for row in rows]
        first, last = min(dates), max(dates)
        entity_ids = {project.legal_entity_id for project in projects.values()}
        self.closed = closed_periods(entity_ids, first, last)
        self.hit_closed_period = False
        self.entity_names = dict(LegalEntity.objects.filter(pk__in=entity_ids).values_list("pk", "name"))
        existing = TimeEntry.objects.filter(
            person_id__in=person_ids, date__gte=first, date__lte=last
        ).exclude(pk__in=exclude_ids)
        self.day_totals: dict[tuple[int, date], Decimal] = defaultdict(Decimal)
        for person_id, day, total in (
            existing.values("person_id", "date")
            .annotate(total=Sum("hours"))
            .values_list("person_id", "date", "total")
        ):
            self.day_totals[(person_id, day)] = total
        self.cells = set(existing.values_list("person_id", "task_id", "date", "billable"))
        self.approved_weeks = set(
            Timesheet.objects.filter(
                person_id__in=person_ids,
                week_start__gte=week_start(first),
                week_start__lte=last,
                status=TimesheetStatus.APPROVED,
            ).values_list("person_id", "week_start")
        )

    def check(self, row: TimeInput) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = defaultdict(list)
        person, project, task, day = row.person, row.project, row.task, row.date
        problem = hours_problem(row.hours)
        if problem:
            errors["hours"].append(problem)
        if task.project_id != project.pk:
            errors["task"].append(f"Task '{task.name}' belongs to another project, not {project.code}.")
        elif not task.active:
            errors["task"].append(f"Task '{task.name}' of {project.code} is closed to new time.")
        if len(row.notes or "") > MAX_NOTES:
            errors["notes"].append(f"Notes have at most {MAX_NOTES} characters.")
        if project.status != ProjectStatus.ACTIVE:
            errors["project"].append(
                f"{project.code} is {project.get_status_display().lower()}; "
                "time is booked on active projects only."
            )
        elif not project.runs_on(day):
            errors["date"].append(
                f"{project.code} runs from {project.start.isoformat()} to {project.end.isoformat()}; "
                f"{day.isoformat()} is outside it."
            )
        if not project.allow_any_person and self.book.assignment_on(person.pk, project.pk, day) is None:
            errors["project"].append(f"{person.name} is not assigned to {project.code} on {day.isoformat()}.")
        label = closed_period_label(self.closed, project.legal_entity_id, day)
        if label:
            self.hit_closed_period = True
            errors["date"].append(
                f"The period {label} of {self.entity_names.get(project.legal_entity_id, 'the legal entity')} "
                f"is closed; time dated {day.isoformat()} cannot be recorded."
            )
        limit = self.today + timedelta(days=MAX_DAYS_AHEAD)
        if day > limit:
            errors["date"].append(
                f"Time can be recorded at most {MAX_DAYS_AHEAD} days ahead (until {limit.isoformat()})."
            )
        if (person.pk, week_start(day)) in self.approved_weeks:
            errors["date"].append(f"The week of {week_start(day).isoformat()} is approved and locked.")
        billable = task.billable if row.billable is None else row.billable
        cell = (person.pk, task.pk, day, billable)
        if not errors and cell in self.cells:
            kind = "billable" if billable else "non-billable"
            errors["task"].append(
                f"{person.name} already has {kind} time on '{task.name}' on {day.isoformat()}; "
                "change that entry instead."
            )
        if not errors:
            total = self.day_totals[(person.pk, day)] + row.hours
            if total > MAX_DAY_HOURS:
                errors["hours"].append(
                    f"That makes {_fmt(total)} hours on {day.isoformat()} for {person.name}; "
                    "a day has at most 24."
                )
            else:
                self.day_totals[(person.pk, day)] = total
                self.cells.add(cell)
        return dict(errors)


def _lock_timesheets(pairs: Iterable[tuple[int, date]]) -> dict[tuple[int, date], Timesheet]:
    """The timesheets of (person id, Monday) pairs, created when missing, locked in primary-key order."""
    pairs = set(pairs)
    if not pairs:
        return {}
    person_ids = {person_id for person_id, _ in pairs}
    mondays = {monday for _, monday in pairs}
    existing = set(
        Timesheet.objects.filter(person_id__in=person_ids, week_start__in=mondays).values_list(
            "person_id", "week_start"
        )
    )
    missing = pairs - existing
    if missing:
        Timesheet.objects.bulk_create(
            [Timesheet(person_id=person_id, week_start=monday) for person_id, monday in sorted(missing)],
            ignore_conflicts=True,
        )
    locked = Timesheet.objects.select_for_update().filter(person_id__in=person_ids, week_start__in=mondays)
    return {
        (sheet.person_id, sheet.week_start): sheet
        for sheet in locked.order_by("pk")
        if (sheet.person_id, sheet.week_start) in pairs
    }


def refresh_timesheets(timesheet_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Recompute the status of timesheets from their entries; returns {id: (old, new)} of those changed."""
    timesheet_ids = set(timesheet_ids)
    counts: dict[int, Counter] = {pk: Counter() for pk in timesheet_ids}
    rows = (
        TimeEntry.objects.filter(timesheet_id__in=timesheet_ids)
        .values("timesheet_id", "status")
        .annotate(n=Count("id"))
        .values_list("timesheet_id", "status", "n")
    )
    for sheet_id, status, n in rows:
        counts[sheet_id][status] = n
    changed = {}
    now = timezone.now()
    sheets = list(Timesheet.objects.filter(pk__in=timesheet_ids))
    for sheet in sheets:
        new = timesheet_status(counts[sheet.pk])
        if new != sheet.status:
            changed[sheet.pk] = (sheet.status, new)
            sheet.status = new
            sheet.approved_at = now if new == TimesheetStatus.APPROVED else None
    Timesheet.objects.bulk_update([s for s in sheets if s.pk in changed], ["status", "approved_at"])
    return changed


def prepare_time_entries(
    *,
    actor,
    rows: Sequence[TimeInput],
    timesheets: dict[tuple[int, date], Timesheet],
    today: date,
    exclude_ids: Iterable[int] = (),
    single: bool = False,
) -> list[TimeEntry]:
    """Check every row and price it; all valid → the unsaved entries, else ValidationFailed naming each bad
    row by index (`fields.entries`), or with the row's own field errors when `single`.

    The caller holds the locks of the rows' timesheets (`timesheets`, by (person id, Monday)).
    """
    checker = _Checker(rows, today=today, exclude_ids=exclude_ids)
    errors: dict[str, dict[str, list[str]]] = {}
    entries = []
    now = timezone.now()
    created_by = actor if getattr(actor, "is_authenticated", False) else None
    for index, row in enumerate(rows):
        row_errors = checker.check(row)
        if row_errors:
            errors[str(index)] = row_errors
            continue
        pricing = checker.book.price(row.person.pk, row.project, row.date)
        entries.append(
            TimeEntry(
                person=row.person,
                project=row.project,
                task=row.task,
                timesheet=timesheets[(row.person.pk, week_start(row.date))],
                role_id=pricing.role_id,
                date=row.date,
                hours=row.hours,
                billable=row.task.billable if row.billable is None else row.billable,
                notes=(row.notes or "").strip(),
                currency=row.project.currency,
                bill_rate=pricing.bill_rate,
                cost_rate=pricing.cost_rate,
                rate_source=pricing.rate_source,
                rated_at=now,
                created_by=created_by,
            )
        )
    if errors:
        # A closed month is its own code (`period_closed`), as the ledger refuses postings into it.
        error = PeriodClosed if checker.hit_closed_period else ValidationFailed
        if single:
            row_errors = errors["0"]
            first = next(iter(row_errors.values()))[0]
            raise error(first, fields=row_errors)
        bad = sorted(errors, key=int)
        first_index = bad[0]
        first = next(iter(errors[first_index].values()))[0]
        raise error(
            f"{len(bad)} of {len(rows)} entries are invalid, so none was saved. Entry {first_index}: {first}",
            fields={"entries": errors},
        )
    return entries


def _entry_state(entry: TimeEntry) -> dict:
    return {
        "person": entry.person_id,
        "project": entry.project_id,
        "task": entry.task_id,
        "date": entry.date,
        "hours": entry.hours,
        "billable": entry.billable,
        "bill_rate": entry.bill_rate,
        "cost_rate": entry.cost_rate,
        "rate_source": entry.rate_source,
        "status": entry.status,
    }


def _record(*, actor, rows: Sequence[TimeInput], today: date | None, single: bool) -> list[TimeEntry]:
    if not rows:
        raise ValidationFailed("No entries to record.", fields={"entries": ["Give at least one entry."]})
    for person in {row.person.pk: row.person for row in rows}.values():
        require_write_for(actor, person)
    today = today or timezone.localdate()
    sheets = _lock_timesheets({(row.person.pk, week_start(row.date)) for row in rows})
    entries = prepare_time_entries(actor=actor, rows=rows, timesheets=sheets, today=today, single=single)
    TimeEntry.objects.bulk_create(entries, batch_size=500)
    refresh_timesheets({entry.timesheet_id for entry in entries})
    record_many(actor=actor, action="time_entry.created", objects=entries, changes=_entry_state)
    return entries


@transaction.atomic
def record_time(
    *,
    actor,
    person: Person,
    project: Project,
    task: Task,
    date: date,
    hours: Decimal,
    billable: bool | None = None,
    notes: str = "",
    today: date | None = None,
) -> TimeEntry:
    """Record a draft time entry; `billable` defaults from the task. Rates are resolved and stored."""
    row = TimeInput(person, project, task, date, hours, billable, notes)
    return _record(actor=actor, rows=[row], today=today, single=True)[0]


@transaction.atomic
def bulk_record_time(*, actor, rows: Sequence[TimeInput], today: date | None = None) -> list[TimeEntry]:
    """Record many draft entries at once: all valid → all created; any invalid → none, and the error lists
    each bad row by index with its reasons."""
    return _record(actor=actor, rows=list(rows), today=today, single=False)


def _editable(entry: TimeEntry) -> None:
    if entry.status in EDITABLE_STATUSES:
        return
    if entry.status == EntryStatus.SUBMITTED:
        raise Locked(
            f"The entry of {entry.date.isoformat()} is submitted for approval; ask the project's manager "
            "to reject it if it needs a change."
        )
    if entry.status == EntryStatus.APPROVED:
        raise Locked(f"The entry of {entry.date.isoformat()} is approved and locked; it cannot be changed.")
    raise Locked(
        f"The entry of {entry.date.isoformat()} is {entry.get_status_display().lower()}; "
        "only billing can credit it."
    )


@transaction.atomic
def update_time_entry(*, actor, entry: TimeEntry, today: date | None = None, **changes) -> TimeEntry:
    """Change a draft (or rejected) entry: project, task, date, hours, billable, notes. It is re-checked
    and re-priced as it is saved; a rejected entry stays rejected (with its reason) until resubmitted."""
    unknown = sorted(set(changes) - set(ENTRY_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    current = TimeEntry.objects.select_related("person", "project", "task").get(pk=entry.pk)
    require_write_for(actor, current.person)
    new_date = changes.get("date", current.date)
    sheets = _lock_timesheets(
        {(current.person_id, week_start(current.date)), (current.person_id, week_start(new_date))}
    )
    current = TimeEntry.objects.select_for_update().get(pk=entry.pk)
    current = TimeEntry.objects.select_related("person", "project", "task").get(pk=current.pk)
    _editable(current)
    refuse_closed_periods([(current.project.legal_entity_id, current.date)], "a time entry")
    project = changes.get("project", current.project)
    task = changes.get("task", current.task if project.pk == current.project_id else None)
    if task is None:
        raise ValidationFailed("Choose a task of the new project.", fields={"task": ["Required."]})
    billable = changes.get("billable", current.billable)
    row = TimeInput(
        current.person,
        project,
        task,
        new_date,
        changes.get("hours", current.hours),
        billable,
        changes.get("notes", current.notes),
    )
    prepared = prepare_time_entries(
        actor=actor,
        rows=[row],
        timesheets=sheets,
        today=today or timezone.localdate(),
        exclude_ids=[current.pk],
        single=True,
    )[0]
    before = _entry_state(current)
    before["notes"] = current.notes
    fields = [
        "project",
        "task",
        "timesheet",
        "role",
        "date",
        "hours",
        "billable",
        "notes",
        "currency",
        "bill_rate",
        "cost_rate",
        "rate_source",
        "rated_at",
        "updated_at",
    ]
    old_sheet = current.timesheet_id
    for name in fields[:-1]:
        setattr(current, name, getattr(prepared, name))
    current.save(update_fields=fields)
    refresh_timesheets({old_sheet, current.timesheet_id})
    after = _entry_state(current)
    after["notes"] = current.notes
    diff = audit.diff(before, after)
    if diff:
        audit.record(actor=actor, action="time_entry.changed", obj=current, changes=diff)
    return current


@transaction.atomic
def delete_time_entry(*, actor, entry: TimeEntry) -> None:
    """Remove a draft (or rejected) entry."""
    current = TimeEntry.objects.select_related("person").get(pk=entry.pk)
    require_write_for(actor, current.person)
    _lock_timesheets({(current.person_id, week_start(current.date))})
    current = TimeEntry.objects.select_for_update(of=("self",)).select_related("project").get(pk=entry.pk)
    _editable(current)
    refuse_closed_periods([(current.project.legal_entity_id, current.date)], "a time entry")
    audit.record(actor=actor, action="time_entry.deleted", obj=current, changes=_entry_state(current))
    sheet_id = current.timesheet_id
    current.delete()
    refresh_timesheets({sheet_id})


@transaction.atomic
def save_week_cell(
    *,
    actor,
    person: Person,
    task: Task,
    date: date,
    billable: bool,
    hours: Decimal | None,
    notes: str | None = None,
    today: date | None = None,
) -> TimeEntry | None:
    """The week grid's autosave: set one cell (person, task, day, billable) to `hours`, creating, changing
    or (when blank) removing its entry. `notes` None keeps the cell's note."""
    require_write_for(actor, person)
    _lock_timesheets({(person.pk, week_start(date))})
    existing = (
        TimeEntry.objects.select_for_update()
        .filter(person=person, task=task, date=date, billable=billable)
        .first()
    )
    if hours is None:
        if existing is not None:
            delete_time_entry(actor=actor, entry=existing)
        elif notes:
            raise ValidationFailed("Enter the hours before a note.", fields={"hours": ["Enter the hours."]})
        return None
    if existing is not None:
        changes = {"hours": hours}
        if notes is not None:
            changes["notes"] = notes
        return update_time_entry(actor=actor, entry=existing, today=today, **changes)
    return record_time(
        actor=actor,
        person=person,
        project=task.project,
        task=task,
        date=date,
        hours=hours,
        billable=billable,
        notes=notes or "",
        today=today,
    )


# The grid's rows


def _row_key(task_id: int, billable: bool) -> dict:
    return {"task": task_id, "billable": bool(billable)}


def loggable_tasks(person: Person, monday: date):
    """Tasks `person` may book in the week of `monday`: active tasks of active projects they are assigned
    to that week, or that take anyone."""
    from django.db.models import Q

    sunday = monday + timedelta(days=6)
    assigned = Q(
        project__assignments__person=person,
        project__assignments__start__lte=sunday,
        project__assignments__end__gte=monday,
    )
    return (
        Task.objects.filter(
            Q(project__allow_any_person=True, project__legal_entity_id=person.legal_entity_id) | assigned,
            active=True,
            project__status=ProjectStatus.ACTIVE,
            project__start__lte=sunday,
            project__end__gte=monday,
            children__isnull=True,
        )
        .select_related("project", "parent")
        .distinct()
        .order_by("project__code", "parent__position", "position", "id")
    )


@transaction.atomic
def add_week_rows(
    *, actor, person: Person, week_start: date, rows: Iterable[tuple[Task, bool | None]]
) -> Timesheet:
    """Pin rows (task, billable) on the week grid before any hours are typed in them."""
    require_write_for(actor, person)
    sheet = _lock_timesheets({(person.pk, week_start)})[(person.pk, week_start)]
    allowed = set(loggable_tasks(person, week_start).values_list("pk", flat=True))
    pinned = list(sheet.rows)
    for task, billable in rows:
        if task.pk not in allowed:
            raise ValidationFailed(
                f"{person.name} cannot book time on '{task.name}' of {task.project.code} that week: "
                "not assigned, or the project or task is not open.",
                fields={"task": ["Not one of your assignments that week."]},
            )
        key = _row_key(task.pk, task.billable if billable is None else billable)
        if key not in pinned:
            pinned.append(key)
    if pinned != sheet.rows:
        sheet.rows = pinned
        sheet.save(update_fields=["rows", "updated_at"])
    return sheet


@transaction.atomic
def remove_week_row(*, actor, person: Person, week_start: date, task: Task, billable: bool) -> Timesheet:
    """Unpin an empty row of the week grid; a row with hours is emptied cell by cell first."""
    require_write_for(actor, person)
    sheet = _lock_timesheets({(person.pk, week_start)})[(person.pk, week_start)]
    if sheet.entries.filter(task=task, billable=billable).exists():
        raise ValidationFailed(
            "This row has hours; clear them before removing the row.", fields={"task": ["Row has hours."]}
        )
    key = _row_key(task.pk, billable)
    sheet.rows = [row for row in sheet.rows if row != key]
    sheet.save(update_fields=["rows", "updated_at"])
    return sheet


@transaction.atomic
def copy_previous_week(*, actor, person: Person, week_start: date) -> Timesheet:
    """Pin last week's rows (its tasks, billable or not) on this week's grid, without their hours.

    Rows whose task is no longer open to the person this week are left out.
    """
    previous = week_start - timedelta(days=7)
    keys = list(
        TimeEntry.objects.filter(person=person, date__gte=previous, date__lt=week_start)
        .order_by("project__code", "task_id", "-billable")
        .values_list("task_id", "billable")
        .distinct()
    )
    last_sheet = Timesheet.objects.filter(person=person, week_start=previous).first()
    if last_sheet is not None:
        keys += [(row["task"], row["billable"]) for row in last_sheet.rows]
    allowed = {task.pk: task for task in loggable_tasks(person, week_start)}
    rows = [(allowed[task_id], billable) for task_id, billable in dict.fromkeys(keys) if task_id in allowed]
    return add_week_rows(actor=actor, person=person, week_start=week_start, rows=rows)


@transaction.atomic
def set_week_row_billable(
    *, actor, person: Person, week_start: date, task: Task, billable: bool, to: bool
) -> Timesheet:
    """Flip a grid row between billable and non-billable: every entry of the row that week moves along."""
    require_write_for(actor, person)
    sheet = _lock_timesheets({(person.pk, week_start)})[(person.pk, week_start)]
    if billable == to:
        return sheet
    entries = list(sheet.entries.select_for_update().filter(task=task, billable=billable))
    for entry in entries:
        _editable(entry)
    clash = sheet.entries.filter(task=task, billable=to, date__in=[e.date for e in entries]).exists()
    if clash:
        raise ValidationFailed(
            f"'{task.name}' already has {'billable' if to else 'non-billable'} hours on some of these days.",
            fields={"billable": ["Both rows have hours on the same day."]},
        )
    for entry in entries:
        entry.billable = to
    TimeEntry.objects.bulk_update(entries, ["billable"])
    record_many(
        actor=actor, action="time_entry.changed", objects=entries, changes={"billable": [billable, to]}
    )
    old, new = _row_key(task.pk, billable), _row_key(task.pk, to)
    sheet.rows = [new if row == old else row for row in sheet.rows if row != new]
    if new not in sheet.rows and not entries:
        sheet.rows.append(new)
    sheet.save(update_fields=["rows", "updated_at"])
    return sheet


# The state machine


def _sheet_for(timesheet: Timesheet) -> Timesheet:
    return Timesheet.objects.select_for_update(of=("self",)).select_related("person").get(pk=timesheet.pk)


def _week_label(sheet: Timesheet) -> str:
    return f"the week of {sheet.week_start.isoformat()}"


@transaction.atomic
def submit_timesheet(*, actor, timesheet: Timesheet) -> Timesheet:
    """Submit a week: its draft and rejected entries go to the projects' managers for approval."""
    sheet = _sheet_for(timesheet)
    require_write_for(actor, sheet.person)
    entries = list(
        sheet.entries.select_for_update(of=("self",))
        .select_related("project")
        .filter(status__in=EDITABLE_STATUSES)
        .order_by("pk")
    )
    if not entries:
        raise InvalidTransition(f"Nothing to submit in {_week_label(sheet)}: no draft or rejected entries.")
    refuse_closed_periods({(e.project.legal_entity_id, e.date) for e in entries}, "time")
    now = timezone.now()
    previous = {entry.pk: entry.status for entry in entries}
    TimeEntry.objects.filter(pk__in=previous).update(
        status=EntryStatus.SUBMITTED, submitted_at=now, rejection_reason="", updated_at=now
    )
    Timesheet.objects.filter(pk=sheet.pk).update(submitted_at=now)
    refresh_timesheets({sheet.pk})
    record_many(
        actor=actor,
        action="time_entry.submitted",
        objects=entries,
        changes=lambda e: {"status": [previous[e.pk], EntryStatus.SUBMITTED]},
    )
    sheet.refresh_from_db()
    hours = sum((entry.hours for entry in entries), Decimal(0))
    emit(
        "timesheet.submitted",
        sheet,
        {
            "person": sheet.person_id,
            "week_start": sheet.week_start,
            "entries": sorted(previous),
            "hours": hours,
        },
        actor=actor,
    )
    return sheet


def _lock_entries(entries: Iterable[TimeEntry]) -> tuple[list[TimeEntry], dict[int, Timesheet]]:
    """Lock the entries' timesheets, then the entries (always in this order), and re-read them."""
    ids = sorted({entry.pk for entry in entries})
    if not ids:
        raise ValidationFailed("Choose at least one entry.", fields={"entries": ["Nothing chosen."]})
    sheet_ids = set(TimeEntry.objects.filter(pk__in=ids).values_list("timesheet_id", flat=True))
    sheets = {s.pk: s for s in Timesheet.objects.select_for_update().filter(pk__in=sheet_ids).order_by("pk")}
    locked = list(
        TimeEntry.objects.select_for_update(of=("self",))
        .select_related("person", "project__manager", "task")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    if len(locked) != len(ids):
        raise ValidationFailed("Some of these entries no longer exist.", fields={"entries": ["Gone."]})
    return locked, sheets


def _check_approver(actor, entries: Sequence[TimeEntry], doing: str) -> None:
    for entry in entries:
        if entry.status != EntryStatus.SUBMITTED:
            raise InvalidTransition(
                f"The entry of {entry.person.name} on {entry.date.isoformat()} is "
                f"{entry.get_status_display().lower()}; only submitted time can be {doing}."
            )
        if not may_approve(actor, entry.project):
            raise PermissionDenied(
                f"Only the manager of {entry.project.code} may {doing.rstrip('d')} its time."
            )
        if actor is not None and entry.person.user_id == actor.pk:
            raise PermissionDenied("You cannot approve or reject your own time.")
    refuse_closed_periods({(e.project.legal_entity_id, e.date) for e in entries}, "time")


def _announce(
    actor, entries: Sequence[TimeEntry], sheets: dict[int, Timesheet], changed: dict, verb: str
) -> None:
    by_sheet: dict[int, list[TimeEntry]] = defaultdict(list)
    for entry in entries:
        by_sheet[entry.timesheet_id].append(entry)
    for sheet_id, rows in by_sheet.items():
        sheet = sheets[sheet_id]
        data = {
            "person": sheet.person_id,
            "week_start": sheet.week_start,
            "entries": [e.pk for e in rows],
            "projects": sorted({e.project_id for e in rows}),
            "hours": sum((e.hours for e in rows), Decimal(0)),
        }
        emit(f"time_entries.{verb}", sheet, data, actor=actor)
        if sheet_id in changed:
            new = changed[sheet_id][1]
            if new in (TimesheetStatus.APPROVED, TimesheetStatus.REJECTED):
                emit(f"timesheet.{new}", sheet, data, actor=actor)


@transaction.atomic
def approve_time_entries(*, actor, entries: Iterable[TimeEntry]) -> list[TimeEntry]:
    """Approve submitted entries (all or none): each needs the approver to manage its project and not to be
    its author. Approved entries are locked; a week whose entries are all approved is approved."""
    locked, sheets = _lock_entries(entries)
    _check_approver(actor, locked, "approved")
    now = timezone.now()
    approver = actor if getattr(actor, "is_authenticated", False) else None
    TimeEntry.objects.filter(pk__in=[e.pk for e in locked]).update(
        status=EntryStatus.APPROVED, approved_at=now, approved_by=approver, updated_at=now
    )
    changed = refresh_timesheets(sheets)
    record_many(
        actor=actor,
        action="time_entry.approved",
        objects=locked,
        changes={"status": [EntryStatus.SUBMITTED, EntryStatus.APPROVED]},
    )
    _announce(actor, locked, sheets, changed, "approved")
    for entry in locked:
        entry.status, entry.approved_at, entry.approved_by = EntryStatus.APPROVED, now, approver
    return locked


@transaction.atomic
def reject_time_entries(*, actor, entries: Iterable[TimeEntry], reason: str) -> list[TimeEntry]:
    """Send submitted entries back to the consultant with a reason (required); they can change and
    resubmit them."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the time is rejected.", fields={"reason": ["A reason is required."]})
    locked, sheets = _lock_entries(entries)
    _check_approver(actor, locked, "rejected")
    now = timezone.now()
    rejecter = actor if getattr(actor, "is_authenticated", False) else None
    TimeEntry.objects.filter(pk__in=[e.pk for e in locked]).update(
        status=EntryStatus.REJECTED,
        rejected_at=now,
        rejected_by=rejecter,
        rejection_reason=reason[:500],
        updated_at=now,
    )
    changed = refresh_timesheets(sheets)
    record_many(
        actor=actor,
        action="time_entry.rejected",
        objects=locked,
        changes={"status": [EntryStatus.SUBMITTED, EntryStatus.REJECTED]},
        reason=reason,
    )
    _announce(actor, locked, sheets, changed, "rejected")
    for entry in locked:
        entry.status, entry.rejection_reason = EntryStatus.REJECTED, reason[:500]
    return locked


def _entries_to_decide(actor, sheet: Timesheet) -> list[TimeEntry]:
    entries = list(sheet.entries.select_related("project__manager"))
    managed = [entry for entry in entries if may_approve(actor, entry.project)]
    if not managed:
        raise PermissionDenied(
            f"You manage none of the projects in {_week_label(sheet)} of {sheet.person.name}."
        )
    if actor is not None and sheet.person.user_id == actor.pk:
        raise PermissionDenied("You cannot approve or reject your own time.")
    mine = [entry for entry in managed if entry.status == EntryStatus.SUBMITTED]
    if not mine:
        raise InvalidTransition(
            f"Nothing in {_week_label(sheet)} of {sheet.person.name} waits for your approval."
        )
    return mine


@transaction.atomic
def approve_timesheet(*, actor, timesheet: Timesheet) -> Timesheet:
    """Approve a week: the submitted entries of the projects the approver manages (a week touching several
    projects is approved by each project's manager; it is approved once all its entries are)."""
    sheet = _sheet_for(timesheet)
    approve_time_entries(actor=actor, entries=_entries_to_decide(actor, sheet))
    sheet.refresh_from_db()
    return sheet


@transaction.atomic
def reject_timesheet(*, actor, timesheet: Timesheet, reason: str) -> Timesheet:
    """Reject the submitted entries of a week that the approver manages, with a reason."""
    sheet = _sheet_for(timesheet)
    reject_time_entries(actor=actor, entries=_entries_to_decide(actor, sheet), reason=reason)
    sheet.refresh_from_db()
    return sheet


@transaction.atomic
def rerate_time_entries(*, actor, entries: Iterable[TimeEntry]) -> list[TimeEntry]:
    """Resolve the rates of draft, submitted or rejected entries again (after a rate card was fixed, say).
    Approved, billed and written-off entries keep the rates they were approved at."""
    locked, _sheets = _lock_entries(entries)
    for entry in locked:
        if entry.status not in RERATABLE_STATUSES:
            raise Locked(
                f"The entry of {entry.person.name} on {entry.date.isoformat()} is "
                f"{entry.get_status_display().lower()}; its rates are final."
            )
        if actor is not None and not has_role(actor, UserRole.FINANCE) and not manages(actor, entry.project):
            raise PermissionDenied(
                f"Only the manager of {entry.project.code} or finance may re-rate its time."
            )
    book = RateBook({e.project_id: e.project for e in locked}.values(), {e.person_id for e in locked})
    now = timezone.now()
    changed = []
    before = {}
    for entry in locked:
        pricing = book.price(entry.person_id, entry.project, entry.date)
        new = (pricing.role_id, pricing.bill_rate, pricing.cost_rate, pricing.rate_source)
        old = (entry.role_id, entry.bill_rate, entry.cost_rate, entry.rate_source)
        if new != old:
            before[entry.pk] = old
            entry.role_id, entry.bill_rate, entry.cost_rate, entry.rate_source = new
            entry.rated_at = now
            changed.append(entry)
    TimeEntry.objects.bulk_update(changed, ["role", "bill_rate", "cost_rate", "rate_source", "rated_at"])
    record_many(
        actor=actor,
        action="time_entry.rerated",
        objects=changed,
        changes=lambda e: {
            "bill_rate": [before[e.pk][1], e.bill_rate],
            "cost_rate": [before[e.pk][2], e.cost_rate],
            "rate_source": [before[e.pk][3], e.rate_source],
        },
    )
    return locked


def timesheet_for(person: Person, monday: date) -> Timesheet:
    """The person's timesheet of the week (created empty when missing, no lock)."""
    return Timesheet.objects.get_or_create(person=person, week_start=monday)[0]
