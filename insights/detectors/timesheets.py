"""Timesheet anomalies: time that looks unlike the person's own pattern, read from submitted (or later) time.

Rules, each over the 90 days to `as_of` (the history) and flagging what happened in its last 30 (recent):
- `day_above_norm`: a recent day whose hours are far above the person's own norm. Robust z-score
  z = (hours − median) ÷ (1.4826 × MAD), median and MAD (median absolute deviation) of their daily totals
  over the days worked in the history (at least 10); MAD is floored at 0.5 h, so a constant history
  does not divide by zero. Flagged when z > 3.5.
- `weekend_work`: time on a Saturday or Sunday, one finding per person and week.
- `holiday_work`: time on a public holiday of the person's legal entity.
- `identical_weeks`: on one project, the same hours on each day of the week (Monday to Sunday) for
  at least 4 consecutive complete weeks, the last of them recent.
- `after_project_end`: time on a project dated after the project's end date, per person and project.
- `round_number_streak`: at least 10 consecutive days worked (days with any time, in date order) each
  totalling exactly 8.00 h, the last of them recent.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from statistics import median

from django.db.models import Sum
from django.urls import reverse

from core.roles import Role
from insights.detectors.wording import day, hours, two
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity
from projects.choices import EntryStatus
from projects.models import Holiday, Person, Project, TimeEntry

KIND = InsightKind.TIMESHEET_ANOMALY
HISTORY_DAYS = 90
RECENT_DAYS = 30
MIN_DAYS_FOR_NORM = 10
MAD_FLOOR = Decimal("0.5")
MAD_SCALE = Decimal("1.4826")
Z_THRESHOLD = Decimal("3.5")
IDENTICAL_WEEKS = 4
ROUND_DAY = Decimal("8.00")
ROUND_STREAK_DAYS = 10
# Time counts once submitted; drafts still change and rejected time was sent back.
COUNTED = (EntryStatus.SUBMITTED, EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)
AUDIENCE = (Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER)


class _Firm:
    """What the rules read: hours per person, project and day over the history, with names and holidays."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        self.first_day = as_of - timedelta(days=HISTORY_DAYS - 1)
        self.recent_from = as_of - timedelta(days=RECENT_DAYS - 1)
        rows = (
            TimeEntry.objects.filter(date__range=(self.first_day, as_of), status__in=COUNTED)
            .values("person_id", "project_id", "date")
            .annotate(hours=Sum("hours"))
            .order_by()
        )
        self.by_project: dict[tuple[int, int], dict[date, Decimal]] = defaultdict(dict)
        self.by_day: dict[int, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for row in rows:
            if row["hours"]:
                self.by_project[(row["person_id"], row["project_id"])][row["date"]] = row["hours"]
                self.by_day[row["person_id"]][row["date"]] += row["hours"]
        self.people = {
            row["pk"]: row
            for row in Person.objects.filter(pk__in=list(self.by_day)).values(
                "pk", "name", "user_id", "legal_entity_id"
            )
        }
        self.projects = {
            row["pk"]: row
            for row in Project.objects.filter(pk__in={key[1] for key in self.by_project}).values(
                "pk", "code", "name", "end", "manager__user_id"
            )
        }
        self.holidays: dict[tuple[int, date], str] = {
            (row["legal_entity_id"], row["date"]): row["name"]
            for row in Holiday.objects.filter(
                date__range=(self.recent_from, as_of),
                legal_entity_id__in={person["legal_entity_id"] for person in self.people.values()},
            ).values("legal_entity_id", "date", "name")
        }

    def person_finding(self, person_id: int, rule: str, key: str, *, label: str = "", **fields) -> Finding:
        person = self.people[person_id]
        return Finding(
            kind=KIND,
            rule=rule,
            fingerprint=f"{KIND}:{rule}:person:{person_id}:{key}",
            subject_type="projects.person",
            subject_id=person_id,
            subject_label=label or person["name"],
            audience=AUDIENCE,
            owner_id=person["user_id"],
            **fields,
        )


def _days_above_norm(firm: _Firm):
    for person_id, days in firm.by_day.items():
        if len(days) < MIN_DAYS_FOR_NORM:
            continue
        totals = list(days.values())
        middle = median(totals)
        mad = median(abs(value - middle) for value in totals)
        scale = MAD_SCALE * max(mad, MAD_FLOOR)
        name = firm.people[person_id]["name"]
        for worked, total in sorted(days.items()):
            if worked < firm.recent_from:
                continue
            z = (total - middle) / scale
            if z <= Z_THRESHOLD:
                continue
            floor_note = f", floored at {hours(MAD_FLOOR)}" if mad < MAD_FLOOR else ""
            yield firm.person_finding(
                person_id,
                "day_above_norm",
                worked.isoformat(),
                title=f"{name}: {hours(total)} on {day(worked)}, far above their norm",
                explanation=(
                    f"{name} logged {hours(total)} on {day(worked)}. Over their {len(totals)} days worked "
                    f"in the {HISTORY_DAYS} days to {day(firm.as_of)} the median day is {hours(middle)} "
                    f"and the median absolute deviation {hours(mad)}{floor_note}: a robust z-score of "
                    f"({two(total)} − {two(middle)}) ÷ (1.4826 × {two(max(mad, MAD_FLOOR))}) = {two(z)}, "
                    f"above the {Z_THRESHOLD} threshold."
                ),
                severity=InsightSeverity.WARNING,
                figures={
                    "date": worked.isoformat(),
                    "hours": str(two(total)),
                    "median_hours": str(two(middle)),
                    "mad_hours": str(two(mad)),
                    "days_in_history": len(totals),
                    "z_score": str(two(z)),
                    "threshold": str(Z_THRESHOLD),
                },
                factors=[
                    {"factor": "Hours that day", "value": hours(total), "effect": "raises"},
                    {"factor": "Usual day (median)", "value": hours(middle), "effect": "baseline"},
                ],
            )


def _weekend_and_holiday_work(firm: _Firm):
    for person_id, days in firm.by_day.items():
        person = firm.people[person_id]
        weekends: dict[date, list[tuple[date, Decimal]]] = defaultdict(list)
        for worked, total in sorted(days.items()):
            if worked < firm.recent_from:
                continue
            holiday = firm.holidays.get((person["legal_entity_id"], worked))
            if holiday:
                yield firm.person_finding(
                    person_id,
                    "holiday_work",
                    worked.isoformat(),
                    title=f"{person['name']} worked on {holiday}",
                    explanation=(
                        f"{person['name']} logged {hours(total)} on {day(worked)}, {holiday}, a public "
                        "holiday of their legal entity."
                    ),
                    severity=InsightSeverity.INFO,
                    figures={"date": worked.isoformat(), "hours": str(two(total)), "holiday": holiday},
                )
            if worked.weekday() >= 5:
                weekends[worked - timedelta(days=worked.weekday())].append((worked, total))
        for monday, worked_days in weekends.items():
            total = sum((value for _, value in worked_days), Decimal(0))
            listed = " and ".join(f"{hours(value)} on {day(when)}" for when, value in worked_days)
            yield firm.person_finding(
                person_id,
                "weekend_work",
                monday.isoformat(),
                title=f"{person['name']} worked the weekend of {day(worked_days[0][0])}",
                explanation=f"{person['name']} logged {listed}: {hours(total)} at the weekend.",
                severity=InsightSeverity.INFO,
                figures={
                    "week_start": monday.isoformat(),
                    "hours": str(two(total)),
                    "days": {when.isoformat(): str(two(value)) for when, value in worked_days},
                },
            )


def _weeks(firm: _Firm) -> list[date]:
    """The Mondays of the complete weeks (Monday to Sunday) inside the history."""
    first = firm.first_day + timedelta(days=(7 - firm.first_day.weekday()) % 7)
    last = firm.as_of - timedelta(days=(firm.as_of.weekday() + 1) % 7 + 6)
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)] if last >= first else []


def _identical_weeks(firm: _Firm):
    mondays = _weeks(firm)
    for (person_id, project_id), days in firm.by_project.items():
        streak: list[date] = []
        pattern = None
        for monday in [*mondays, None]:
            week = (
                tuple(two(days.get(monday + timedelta(days=n), Decimal(0))) for n in range(7))
                if monday
                else None
            )
            if week is not None and any(week) and week == pattern:
                streak.append(monday)
                continue
            if len(streak) >= IDENTICAL_WEEKS and streak[-1] + timedelta(days=6) >= firm.recent_from:
                yield _identical_finding(firm, person_id, project_id, streak, pattern)
            streak, pattern = ([monday], week) if week is not None and any(week) else ([], None)


def _identical_finding(firm: _Firm, person_id: int, project_id: int, streak: list[date], pattern) -> Finding:
    name = firm.people[person_id]["name"]
    project = firm.projects[project_id]
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    shape = ", ".join(f"{label} {value}" for label, value in zip(names, pattern, strict=True) if value)
    return firm.person_finding(
        person_id,
        "identical_weeks",
        f"project:{project_id}:{streak[0].isoformat()}",
        label=f"{name} on {project['code']}",
        title=f"{name}: identical weeks on {project['code']} for {len(streak)} weeks",
        explanation=(
            f"{name} logged exactly the same hours on {project['code']} {project['name']} in each of "
            f"{len(streak)} consecutive weeks, from the week of {day(streak[0])} to the week of "
            f"{day(streak[-1])}: {shape} ({hours(sum(pattern, Decimal(0)))} a week). Time copied forward "
            "rather than recorded looks like this."
        ),
        severity=InsightSeverity.WARNING,
        figures={
            "project": project["code"],
            "weeks": len(streak),
            "first_week": streak[0].isoformat(),
            "last_week": streak[-1].isoformat(),
            "pattern": [str(value) for value in pattern],
            "weekly_hours": str(sum(pattern, Decimal(0))),
        },
        url=reverse("projects:detail", args=[project_id]),
    )


def _after_project_end(firm: _Firm):
    for (person_id, project_id), days in firm.by_project.items():
        project = firm.projects[project_id]
        late = sorted(worked for worked in days if worked > project["end"])
        if not late:
            continue
        name = firm.people[person_id]["name"]
        total = sum((days[worked] for worked in late), Decimal(0))
        yield Finding(
            kind=KIND,
            rule="after_project_end",
            fingerprint=f"{KIND}:after_project_end:project:{project_id}:person:{person_id}",
            subject_type="projects.project",
            subject_id=project_id,
            subject_label=f"{project['code']} {project['name']}",
            title=f"{name} logged time on {project['code']} after it ended",
            explanation=(
                f"{name} logged {hours(total)} on {len(late)} day(s) from {day(late[0])} to {day(late[-1])} "
                f"on {project['code']} {project['name']}, which ended on {day(project['end'])}."
            ),
            severity=InsightSeverity.WARNING,
            figures={
                "person": name,
                "project_end": project["end"].isoformat(),
                "hours": str(two(total)),
                "days": len(late),
                "first_date": late[0].isoformat(),
                "last_date": late[-1].isoformat(),
            },
            audience=AUDIENCE,
            owner_id=project["manager__user_id"],
            url=reverse("projects:detail", args=[project_id]),
        )


def _round_number_streaks(firm: _Firm):
    for person_id, days in firm.by_day.items():
        streak: list[date] = []
        for worked, total in [*sorted(days.items()), (None, None)]:
            if total == ROUND_DAY:
                streak.append(worked)
                continue
            if len(streak) >= ROUND_STREAK_DAYS and streak[-1] >= firm.recent_from:
                name = firm.people[person_id]["name"]
                yield firm.person_finding(
                    person_id,
                    "round_number_streak",
                    streak[0].isoformat(),
                    title=f"{name}: {len(streak)} days in a row of exactly {hours(ROUND_DAY)}",
                    explanation=(
                        f"Each of {name}'s {len(streak)} consecutive days worked from {day(streak[0])} to "
                        f"{day(streak[-1])} totals exactly {hours(ROUND_DAY)}. Recorded time rarely comes "
                        f"out this round for {ROUND_STREAK_DAYS} days or more; it may be estimated."
                    ),
                    severity=InsightSeverity.INFO,
                    figures={
                        "days": len(streak),
                        "first_date": streak[0].isoformat(),
                        "last_date": streak[-1].isoformat(),
                        "hours_per_day": str(ROUND_DAY),
                    },
                )
            streak = []


def detect(as_of: date):
    firm = _Firm(as_of)
    yield from _days_above_norm(firm)
    yield from _weekend_and_holiday_work(firm)
    yield from _identical_weeks(firm)
    yield from _after_project_end(firm)
    yield from _round_number_streaks(firm)
