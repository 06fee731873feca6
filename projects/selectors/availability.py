"""Available hours: capacity on weekdays less the legal entity's holidays and recorded time off.

A person's day capacity is their weekly capacity ÷ 5 on a weekday that is not a holiday of their legal
entity, 0 otherwise; time off takes `hours_per_day` of it, never more than the day holds (so leave on a
holiday or a weekend takes nothing). `Availability` reads the people, the holidays and the time off of a
range in three queries and answers any sub-range by arithmetic, without a query per person or day.
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from projects.models import Holiday, Person, TimeOff
from projects.weeks import working_days

ZERO = Decimal(0)
WEEKDAYS = 5


@dataclass(frozen=True)
class Capacity:
    person_id: int
    legal_entity_id: int
    weekly: Decimal

    @property
    def daily(self) -> Decimal:
        return self.weekly / WEEKDAYS


class Availability:
    """The available hours of a set of people, for any dates within [start, end]."""

    def __init__(self, people, start: date, end: date):
        rows = people.values_list("pk", "legal_entity_id", "capacity_hours_per_week")
        self.people = {pk: Capacity(pk, entity, weekly) for pk, entity, weekly in rows}
        self.holidays: dict[int, list[date]] = defaultdict(list)
        entities = {capacity.legal_entity_id for capacity in self.people.values()}
        for entity, day in (
            Holiday.objects.filter(legal_entity_id__in=entities, date__gte=start, date__lte=end)
            .order_by("date")
            .values_list("legal_entity_id", "date")
        ):
            if day.weekday() < WEEKDAYS:
                self.holidays[entity].append(day)
        self.time_off: dict[int, list[tuple[date, date, Decimal]]] = defaultdict(list)
        for person_id, first, last, hours in TimeOff.objects.filter(
            person_id__in=self.people, start__lte=end, end__gte=start
        ).values_list("person_id", "start", "end", "hours_per_day"):
            self.time_off[person_id].append((max(first, start), min(last, end), hours))

    def _working_days(self, entity: int, first: date, last: date) -> int:
        """Weekdays from `first` to `last` that are not the entity's holidays."""
        if last < first:
            return 0
        days = self.holidays.get(entity, ())
        return working_days(first, last) - (bisect_right(days, last) - bisect_left(days, first))

    def hours(self, person_id: int, first: date, last: date) -> Decimal:
        capacity = self.people.get(person_id)
        if capacity is None:
            return ZERO
        entity, daily = capacity.legal_entity_id, capacity.daily
        available = daily * self._working_days(entity, first, last)
        for off_start, off_end, per_day in self.time_off.get(person_id, ()):
            days = self._working_days(entity, max(first, off_start), min(last, off_end))
            available -= min(per_day, daily) * days
        return available

    def total(self, first: date, last: date, person_ids=None) -> Decimal:
        ids = self.people if person_ids is None else person_ids
        return sum((self.hours(pk, first, last) for pk in ids), ZERO)


def availability(start: date, end: date, person: Person | None = None) -> Availability:
    """Availability of the active people (or of `person` alone) over [start, end]."""
    people = Person.objects.filter(active=True)
    if person is not None:
        people = people.filter(pk=person.pk)
    return Availability(people, start, end)
