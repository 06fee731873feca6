"""The consultant's week: the grid of rows (project task, billable or not) by day, with totals."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from projects.choices import EDITABLE_STATUSES, EntryStatus, TimesheetStatus
from projects.models import Person, Task, TimeEntry, Timesheet
from projects.services.time import loggable_tasks
from projects.weeks import is_weekend, week_days

ZERO = Decimal(0)


@dataclass
class Cell:
    day: date
    entry: TimeEntry | None
    locked_week: bool

    @property
    def hours(self) -> Decimal | None:
        return self.entry.hours if self.entry else None

    @property
    def status(self) -> str:
        return self.entry.status if self.entry else ""

    @property
    def editable(self) -> bool:
        if self.entry is None:
            return not self.locked_week
        return self.entry.status in EDITABLE_STATUSES

    @property
    def rejected(self) -> bool:
        return self.entry is not None and self.entry.status == EntryStatus.REJECTED

    @property
    def weekend(self) -> bool:
        return is_weekend(self.day)


@dataclass
class Row:
    task: Task
    billable: bool
    cells: list[Cell]

    @property
    def key(self) -> str:
        return f"{self.task.pk}-{int(self.billable)}"

    @property
    def project(self):
        return self.task.project

    @property
    def total(self) -> Decimal:
        return sum((c.hours for c in self.cells if c.hours is not None), ZERO)

    @property
    def has_entries(self) -> bool:
        return any(c.entry for c in self.cells)

    @property
    def editable(self) -> bool:
        return all(c.editable for c in self.cells)


@dataclass
class WeekGrid:
    person: Person
    monday: date
    days: list[date]
    rows: list[Row]
    timesheet: Timesheet | None
    today: date
    options: list[tuple[str, list[Task]]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.timesheet.status if self.timesheet else TimesheetStatus.DRAFT

    @property
    def status_label(self) -> str:
        return TimesheetStatus(self.status).label

    @property
    def locked(self) -> bool:
        return self.status == TimesheetStatus.APPROVED

    @property
    def day_totals(self) -> list[Decimal]:
        return [sum((r.cells[i].hours or ZERO for r in self.rows), ZERO) for i in range(7)]

    @property
    def day_total_pairs(self) -> list[tuple[date, Decimal]]:
        return list(zip(self.days, self.day_totals, strict=True))

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.rows), ZERO)

    @property
    def capacity(self) -> Decimal:
        return self.person.capacity_hours_per_week

    @property
    def capacity_percent(self) -> int:
        return int(self.total * 100 / self.capacity) if self.capacity else 0

    @property
    def entries(self) -> list[TimeEntry]:
        return [c.entry for r in self.rows for c in r.cells if c.entry]

    @property
    def can_submit(self) -> bool:
        return any(e.status in EDITABLE_STATUSES for e in self.entries)

    @property
    def rejected(self) -> list[TimeEntry]:
        return [e for e in self.entries if e.status == EntryStatus.REJECTED]

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


def week_grid(person: Person, monday: date, *, today: date) -> WeekGrid:
    """The person's week: a row per (task, billable) with entries or pinned, cells Monday to Sunday."""
    days = week_days(monday)
    timesheet = Timesheet.objects.filter(person=person, week_start=monday).first()
    locked = timesheet is not None and timesheet.status == TimesheetStatus.APPROVED
    entries = list(
        TimeEntry.objects.filter(person=person, date__gte=monday, date__lte=days[-1]).select_related(
            "task__project", "task__parent"
        )
    )
    by_row: dict[tuple[int, bool], dict[date, TimeEntry]] = {}
    tasks: dict[int, Task] = {}
    for entry in entries:
        by_row.setdefault((entry.task_id, entry.billable), {})[entry.date] = entry
        tasks[entry.task_id] = entry.task
    pinned = [(row["task"], row["billable"]) for row in (timesheet.rows if timesheet else [])]
    missing = {task_id for task_id, _ in pinned} - set(tasks)
    if missing:
        for task in Task.objects.filter(pk__in=missing).select_related("project", "parent"):
            tasks[task.pk] = task
    for key in pinned:
        if key[0] in tasks:
            by_row.setdefault(key, {})
    rows = [
        Row(task=tasks[task_id], billable=billable, cells=[Cell(d, cells.get(d), locked) for d in days])
        for (task_id, billable), cells in by_row.items()
    ]
    rows.sort(
        key=lambda r: (
            r.project.code,
            r.task.parent.position if r.task.parent else -1,
            r.task.position,
            r.task.pk,
            not r.billable,
        )
    )
    grid = WeekGrid(person=person, monday=monday, days=days, rows=rows, timesheet=timesheet, today=today)
    if not locked:
        present = {(r.task.pk, r.billable) for r in rows}
        groups: dict[str, list[Task]] = {}
        for task in loggable_tasks(person, monday):
            if (task.pk, task.billable) in present:
                continue
            groups.setdefault(f"{task.project.code} {task.project.name}", []).append(task)
        grid.options = list(groups.items())
    return grid
