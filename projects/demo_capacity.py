"""Demo firm, what shapes available hours: practices for people (by their strongest skill) and projects (the
practice most of their team belongs to), each legal entity's public holidays by its country, and time off
(the week each person took off in the history, and some planned leave ahead). Safe to run twice."""

from collections import Counter, defaultdict
from datetime import date, timedelta

from core import audit
from ledger.models import LegalEntity
from projects.models import Assignment, Holiday, Person, Practice, Project, TimeOff
from projects.services.capacity import create_practice, record_time_off

# The practice a person's strongest skill belongs to (ties: the first listed).
PRACTICE_OF_SKILL = {
    "Data engineering": "Data & AI",
    "Power BI": "Data & AI",
    "SQL": "Data & AI",
    "Python": "Data & AI",
    "SAP FI": "ERP & Finance",
    "Salesforce": "CRM & Customer",
    "UX research": "CRM & Customer",
    "AWS": "Cloud & Security",
    "Azure": "Cloud & Security",
    "Kubernetes": "Cloud & Security",
    "Security": "Cloud & Security",
    "Django": "Digital engineering",
    "React": "Digital engineering",
    "Change management": "Change & PMO",
}


def _easter(year: int) -> date:
    """Easter Sunday (the Gregorian computus, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0 = Monday) of the month; n = −1: the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def public_holidays(currency: str, year: int) -> list[tuple[date, str]]:
    """The public holidays of the demo entity booking in `currency`: the US (USD), Germany (EUR), the UK
    (GBP)."""
    easter = _easter(year)
    if currency == "USD":
        return [
            (date(year, 1, 1), "New Year's Day"),
            (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
            (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
            (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
            (date(year, 6, 19), "Juneteenth"),
            (date(year, 7, 4), "Independence Day"),
            (_nth_weekday(year, 9, 0, 1), "Labor Day"),
            (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
            (date(year, 12, 25), "Christmas Day"),
        ]
    if currency == "EUR":
        return [
            (date(year, 1, 1), "Neujahr"),
            (easter - timedelta(days=2), "Karfreitag"),
            (easter + timedelta(days=1), "Ostermontag"),
            (date(year, 5, 1), "Tag der Arbeit"),
            (easter + timedelta(days=39), "Christi Himmelfahrt"),
            (easter + timedelta(days=50), "Pfingstmontag"),
            (date(year, 10, 3), "Tag der Deutschen Einheit"),
            (date(year, 12, 25), "1. Weihnachtstag"),
            (date(year, 12, 26), "2. Weihnachtstag"),
        ]
    if currency == "GBP":
        return [
            (date(year, 1, 1), "New Year's Day"),
            (easter - timedelta(days=2), "Good Friday"),
            (easter + timedelta(days=1), "Easter Monday"),
            (_nth_weekday(year, 5, 0, 1), "Early May bank holiday"),
            (_nth_weekday(year, 5, 0, -1), "Spring bank holiday"),
            (_nth_weekday(year, 8, 0, -1), "Summer bank holiday"),
            (date(year, 12, 25), "Christmas Day"),
            (date(year, 12, 26), "Boxing Day"),
        ]
    return []


def declare_holidays(first: date, last: date) -> dict[int, set[date]]:
    """Each legal entity's public holidays of the years from `first` to `last` (bulk, skipping those
    declared already); returns {entity id: the holiday dates}."""
    existing = set(Holiday.objects.values_list("legal_entity_id", "date"))
    rows = []
    for entity in LegalEntity.objects.all():
        for year in range(first.year, last.year + 1):
            for day, name in public_holidays(entity.functional_currency, year):
                if (entity.pk, day) not in existing:
                    rows.append(Holiday(legal_entity=entity, date=day, name=name))
                    existing.add((entity.pk, day))
    Holiday.objects.bulk_create(rows)
    days = defaultdict(set)
    for entity_id, day in existing:
        days[entity_id].add(day)
    return days


def assign_practices(skills_by_person: dict[int, dict[str, int]]) -> None:
    """People by their strongest skill; client projects by the practice most of their team is in
    (internal projects, open to anyone, stay without one)."""
    practices = {}
    for name in dict.fromkeys(PRACTICE_OF_SKILL.values()):
        practices[name] = Practice.objects.filter(name=name).first() or create_practice(actor=None, name=name)
    chosen = defaultdict(list)
    for person_id, levels in skills_by_person.items():
        best = max(levels, key=lambda skill: levels[skill]) if levels else None
        if best in PRACTICE_OF_SKILL:
            chosen[practices[PRACTICE_OF_SKILL[best]].pk].append(person_id)
    for practice_id, ids in chosen.items():
        Person.objects.filter(pk__in=ids, practice__isnull=True).update(practice_id=practice_id)
    team = defaultdict(Counter)
    for project_id, practice_id in Assignment.objects.filter(
        project__allow_any_person=False, person__practice__isnull=False
    ).values_list("project_id", "person__practice_id"):
        team[project_id][practice_id] += 1
    by_practice = defaultdict(list)
    for project_id, counts in team.items():
        by_practice[counts.most_common(1)[0][0]].append(project_id)
    for practice_id, ids in by_practice.items():
        Project.objects.filter(pk__in=ids, practice__isnull=True).update(practice_id=practice_id)
    audit.record(
        actor=None,
        action="practice.assigned",
        obj=next(iter(practices.values())),
        changes={"people": sum(len(ids) for ids in chosen.values()), "source": "demo"},
    )


def record_leave(people: list[Person], off_weeks: dict[int, date], today: date, rng) -> int:
    """The week each person took off in the history as vacation, and planned leave ahead for some: a week
    of vacation in the next months, or a half-day of training next month. Nobody's overlaps."""
    if TimeOff.objects.exists():
        return 0
    count = 0
    for person in people:
        monday = off_weeks.get(person.pk)
        if monday is not None:
            record_time_off(actor=None, person=person, start=monday, end=monday + timedelta(days=4))
            count += 1
        draw = rng.random()
        ahead = today + timedelta(days=7 * rng.randint(3, 20))
        ahead -= timedelta(days=ahead.weekday())
        if draw < 0.35:
            record_time_off(
                actor=None, person=person, start=ahead, end=ahead + timedelta(days=4), note="Summer break"
            )
            count += 1
        elif draw < 0.45:
            day = ahead + timedelta(days=2)
            record_time_off(
                actor=None,
                person=person,
                start=day,
                end=day,
                hours_per_day=person.capacity_hours_per_week / 10,
                kind=TimeOff.Kind.TRAINING,
                note="Certification exam",
            )
            count += 1
    return count
