"""The approvals inbox: submitted time and expenses a manager may decide, with anomalies flagged."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q, Sum

from core.roles import Role, has_role
from projects.choices import EntryStatus, RateSource
from projects.models import Assignment, Expense, Person, TimeEntry, Timesheet
from projects.weeks import is_weekend, week_start

LONG_DAY_HOURS = Decimal(12)
ZERO = Decimal(0)


@dataclass
class Anomaly:
    code: str
    label: str


@dataclass
class InboxGroup:
    """One person's submitted entries of one week on the approver's projects."""

    person: Person
    monday: date
    timesheet: Timesheet
    entries: list[TimeEntry] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((e.hours for e in self.entries), ZERO)

    @property
    def anomaly_count(self) -> int:
        return sum(1 for e in self.entries if e.anomalies)

    @property
    def key(self) -> str:
        return f"{self.person.pk}-{self.monday.isoformat()}"


def _approvable(user) -> Q:
    if has_role(user, Role.ADMIN):
        return Q()
    return Q(project__manager__user=user)


def submitted_entries(user):
    return (
        TimeEntry.objects.filter(_approvable(user), status=EntryStatus.SUBMITTED)
        .exclude(person__user=user)
        .select_related("person", "project", "task", "timesheet")
        .order_by("timesheet__week_start", "person__name", "date", "project__code", "id")
    )


def flag_anomalies(entries: list[TimeEntry]) -> None:
    """Set `entry.anomalies` on each: a day over 12 hours (all the person's projects), weekend work, hours
    outside the person's assignment window on the project, billable time without a bill rate."""
    if not entries:
        return
    person_ids = {e.person_id for e in entries}
    dates = {e.date for e in entries}
    totals = {
        (row["person_id"], row["date"]): row["total"]
        for row in TimeEntry.objects.filter(person_id__in=person_ids, date__in=dates)
        .exclude(status=EntryStatus.REJECTED)
        .values("person_id", "date")
        .annotate(total=Sum("hours"))
    }
    windows = defaultdict(list)
    for row in Assignment.objects.filter(
        person_id__in=person_ids, project_id__in={e.project_id for e in entries}
    ).values_list("person_id", "project_id", "start", "end"):
        windows[(row[0], row[1])].append((row[2], row[3]))
    for entry in entries:
        flags = []
        day_total = totals.get((entry.person_id, entry.date), ZERO)
        if day_total > LONG_DAY_HOURS:
            flags.append(Anomaly("long_day", f"{day_total.normalize():f} h on {entry.date:%a}"))
        if is_weekend(entry.date):
            flags.append(Anomaly("weekend", "Weekend"))
        inside = any(
            start <= entry.date <= end for start, end in windows[(entry.person_id, entry.project_id)]
        )
        if not inside:
            flags.append(Anomaly("outside_assignment", "Outside assignment"))
        if entry.billable and entry.rate_source == RateSource.NONE:
            flags.append(Anomaly("no_rate", "No bill rate"))
        entry.anomalies = flags


def approval_inbox(user) -> list[InboxGroup]:
    """The submitted time `user` may approve, grouped by person and week, anomalies flagged."""
    entries = list(submitted_entries(user))
    flag_anomalies(entries)
    groups: dict[tuple[int, date], InboxGroup] = {}
    for entry in entries:
        key = (entry.person_id, week_start(entry.date))
        if key not in groups:
            groups[key] = InboxGroup(person=entry.person, monday=key[1], timesheet=entry.timesheet)
        groups[key].entries.append(entry)
    # Oldest weeks first; within a week, the people whose time needs a closer look.
    return sorted(groups.values(), key=lambda g: (g.monday, -g.anomaly_count, g.person.name))


def submitted_expenses(user):
    return (
        Expense.objects.filter(_approvable(user), status=EntryStatus.SUBMITTED)
        .exclude(person__user=user)
        .select_related("person", "project")
        .order_by("date", "id")
    )
