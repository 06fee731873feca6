"""The next six months: revenue expected (scheduled + weighted pipeline) and hours demanded against hours
available by role, so the executive sees where the firm is over- or under-committed.

Revenue, per month and currency:
- scheduled: revenue recognition's schedule lines not recognised yet, in the month of their period (a
  line of a past month still open counts in the first month: it is due now). Obligations without a
  schedule (percent complete, time and materials as delivered) have no dates to place; their work shows
  in the hours demanded instead;
- weighted pipeline: each open opportunity line's amount × the opportunity's probability, spread over the
  line's weekdays from its start to its end; an opportunity without lines puts its amount × probability
  in the month it is expected to close.

Hours, per role (the person's primary role; the assignment's or line's role for demand) and month:
- demanded: assignments' hours of projects not closed, open resource requests' hours, and open
  opportunity lines' hours × probability, each spread evenly over its weekdays;
- available: capacity less holidays and time off (`projects.selectors.availability`).
A role is over-committed in a month when demand exceeds availability, under-committed when it uses less
than 80% of it. Figures are exact until shown.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from analytics.kpis import HUNDRED, ZERO, present, weekdays
from crm.models import Opportunity, OpportunityLine
from crm.services.terms import add_months
from projects.choices import ProjectStatus, ResourceRequestStatus
from projects.models import Assignment, Person, ResourceRequest, Role
from projects.selectors.availability import Availability
from revrec.choices import ObligationStatus
from revrec.reports.common import open_lines

MONTHS = 6
UNDER_COMMITTED = Decimal("0.8")
OPEN_STAGES_EXCLUDED = (Opportunity.Stage.WON, Opportunity.Stage.LOST)


def _month_end(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


def horizon(today: date, count: int = MONTHS) -> list[date]:
    """The first days of this month and the `count − 1` after it."""
    first = date(today.year, today.month, 1)
    return [add_months(first, index) for index in range(count)]


def spread_over_months(amount: Decimal, start: date, end: date, months: list[date]) -> dict[date, Decimal]:
    """The share of `amount`, planned evenly over the weekdays from `start` to `end`, that falls in each
    month of `months` (a window without weekdays spreads over its calendar days)."""
    total = weekdays(start, end)
    count = weekdays
    if total == 0:
        total = (end - start).days + 1

        def count(first, last):
            return max((last - first).days + 1, 0)

    shares = {}
    for month in months:
        days = count(max(start, month), min(end, _month_end(month)))
        if days > 0:
            shares[month] = amount * days / total
    return shares


def revenue_forecast(*, today: date, currency: str, count: int = MONTHS) -> dict:
    """Scheduled revenue and weighted pipeline in `currency` per month of the horizon."""
    months = horizon(today, count)
    last = _month_end(months[-1])
    scheduled = defaultdict(lambda: ZERO)
    for period_start, amount in open_lines(
        today,
        obligation__currency=currency,
        obligation__status=ObligationStatus.ACTIVE,
        period_start__lte=last,
    ).values_list("period_start", "amount"):
        month = max(date(period_start.year, period_start.month, 1), months[0])
        scheduled[month] += amount
    pipeline = defaultdict(lambda: ZERO)
    open_deals = Opportunity.objects.filter(currency=currency).exclude(stage__in=OPEN_STAGES_EXCLUDED)
    for amount, probability, start, end in OpportunityLine.objects.filter(
        opportunity__in=open_deals, start__lte=last, end__gte=months[0]
    ).values_list("amount", "opportunity__probability", "start", "end"):
        for month, share in spread_over_months(amount * probability / HUNDRED, start, end, months).items():
            pipeline[month] += share
    for amount, probability, expected in open_deals.filter(
        lines__isnull=True, expected_close__gte=months[0], expected_close__lte=last
    ).values_list("amount", "probability", "expected_close"):
        pipeline[date(expected.year, expected.month, 1)] += amount * probability / HUNDRED

    def shown(values):
        return [present(values[m], "money", currency) for m in months]

    return {
        "months": months,
        "scheduled": shown(scheduled),
        "pipeline": shown(pipeline),
        "total": shown({m: scheduled[m] + pipeline[m] for m in months}),
    }


@dataclass
class MonthHours:
    month: date
    available: Decimal = ZERO
    assigned: Decimal = ZERO
    requested: Decimal = ZERO
    pipeline: Decimal = ZERO

    @property
    def demand(self) -> Decimal:
        return self.assigned + self.requested + self.pipeline

    @property
    def gap(self) -> Decimal:
        """Hours available after all demand; negative: over-committed."""
        return self.available - self.demand

    @property
    def state(self) -> str:
        if self.demand > self.available:
            return "over"
        if self.demand < self.available * UNDER_COMMITTED:
            return "under"
        return "balanced"

    def shown(self) -> dict:
        return {
            "month": self.month,
            **{
                name: present(getattr(self, name), "hours")
                for name in ("available", "assigned", "requested", "pipeline", "demand", "gap")
            },
            "state": self.state,
            "used": present(self.demand * HUNDRED / self.available, "percent") if self.available else None,
        }


@dataclass
class RoleForecast:
    name: str
    people: int
    months: list[MonthHours] = field(default_factory=list)

    def verdict(self) -> str:
        """The role's months in words: where it is over-committed, where it has room."""
        over = [m for m in self.months if m.state == "over"]
        under = [m for m in self.months if m.state == "under"]
        parts = []
        if over:
            listed = ", ".join(f"{m.month:%b %Y} by {_hours(-m.gap)}" for m in over)
            parts.append(f"over-committed in {listed}")
        if under:
            free = sum((m.gap for m in under), ZERO)
            months = ", ".join(f"{m.month:%b %Y}" for m in under)
            parts.append(f"under-committed in {months} ({_hours(free)} free)")
        if not parts:
            return f"{self.name}: demand matches the hours available in every month."
        return f"{self.name}: " + "; ".join(parts) + "."


def _hours(value: Decimal) -> str:
    return f"{present(value, 'hours'):,} h"


def capacity_forecast(*, today: date, count: int = MONTHS) -> dict:
    """Hours demanded vs available per role and month of the horizon, with each role's verdict."""
    months = horizon(today, count)
    first, last = months[0], _month_end(months[-1])
    figures: dict[int, dict[date, MonthHours]] = defaultdict(lambda: {m: MonthHours(m) for m in months})
    people = Person.objects.filter(active=True)
    available = Availability(people, first, last)
    headcount = defaultdict(int)
    for person_id, role_id in people.values_list("pk", "role_id"):
        headcount[role_id] += 1
        for month in months:
            figures[role_id][month].available += available.hours(person_id, month, _month_end(month))

    def add(role_id, hours, start, end, attr):
        for month, share in spread_over_months(hours, start, end, months).items():
            row = figures[role_id][month]
            setattr(row, attr, getattr(row, attr) + share)

    for row in (
        Assignment.objects.filter(start__lte=last, end__gte=first)
        .exclude(project__status=ProjectStatus.CLOSED)
        .values_list("role_id", "hours", "start", "end")
    ):
        add(*row, "assigned")
    for row in ResourceRequest.objects.filter(
        status=ResourceRequestStatus.OPEN, start__lte=last, end__gte=first
    ).values_list("role_id", "hours", "start", "end"):
        add(*row, "requested")
    for role_id, hours, probability, start, end in (
        OpportunityLine.objects.filter(role__isnull=False, hours__gt=0, start__lte=last, end__gte=first)
        .exclude(opportunity__stage__in=OPEN_STAGES_EXCLUDED)
        .values_list("role_id", "hours", "opportunity__probability", "start", "end")
    ):
        add(role_id, hours * probability / HUNDRED, start, end, "pipeline")

    names = dict(Role.objects.filter(pk__in=figures).values_list("pk", "name"))
    roles = [
        RoleForecast(names[role_id], headcount[role_id], [figures[role_id][m] for m in months])
        for role_id in sorted(figures, key=lambda pk: names[pk])
    ]
    total = RoleForecast("All roles", sum(headcount.values()))
    for index, month in enumerate(months):
        cell = MonthHours(month)
        for role in roles:
            for name in ("available", "assigned", "requested", "pipeline"):
                setattr(cell, name, getattr(cell, name) + getattr(role.months[index], name))
        total.months.append(cell)
    return {
        "months": months,
        "roles": [
            {
                "name": r.name,
                "people": r.people,
                "months": [m.shown() for m in r.months],
                "verdict": r.verdict(),
            }
            for r in roles
        ],
        "total": {"months": [m.shown() for m in total.months], "verdict": total.verdict()},
    }
