"""Capacity vs demand by role and week, the bench, and staffing suggestions for a resource request.

Capacity is available hours: weekly capacity on weekdays less the legal entity's holidays and recorded
time off (`projects.selectors.availability`).

Planned hours (assignments, open resource requests, opportunity lines) are spread evenly over the
working days of their window (`projects.weeks.spread_over_weeks`). Figures are exact until shown.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from crm.models import Opportunity, OpportunityLine
from ledger.errors import MissingExchangeRate
from projects.choices import ResourceRequestStatus
from projects.models import Assignment, Person, PersonSkill, ResourceRequest, Role
from projects.selectors.availability import Availability
from projects.selectors.rates import RateBook
from projects.weeks import spread_over_weeks, week_start, weeks_from

ZERO = Decimal(0)
HUNDRED = Decimal(100)
HOURS = Decimal("0.01")
HORIZON_WEEKS = 12
BENCH_WEEKS = 4
BENCH_THRESHOLD = Decimal("0.5")


@dataclass
class WeekFigures:
    monday: date
    capacity: Decimal = ZERO
    assigned: Decimal = ZERO
    requested: Decimal = ZERO
    pipeline: Decimal = ZERO

    @property
    def demand(self) -> Decimal:
        return self.assigned + self.requested + self.pipeline

    @property
    def gap(self) -> Decimal:
        """Capacity left after all demand; negative: short of people."""
        return self.capacity - self.demand

    def rounded(self) -> "WeekFigures":
        return WeekFigures(
            self.monday,
            self.capacity.quantize(HOURS),
            self.assigned.quantize(HOURS),
            self.requested.quantize(HOURS),
            self.pipeline.quantize(HOURS),
        )


@dataclass
class RoleRow:
    role: Role | None
    weeks: list[WeekFigures]
    people: int = 0

    @property
    def name(self) -> str:
        return self.role.name if self.role else "All roles"


@dataclass
class CapacityReport:
    mondays: list[date]
    rows: list[RoleRow]
    total: RoleRow


def capacity_vs_demand(*, start: date, weeks: int = HORIZON_WEEKS) -> CapacityReport:
    """For each role and each of `weeks` weeks from `start`'s week: capacity of the active people of that
    primary role, hours assigned in that role, open resource requests, and open opportunities' line
    hours × probability (the weighted pipeline); the gap is capacity minus all three."""
    mondays = weeks_from(week_start(start), weeks)
    first, last = mondays[0], mondays[-1] + timedelta(days=6)
    figures: dict[int, dict[date, WeekFigures]] = defaultdict(lambda: {m: WeekFigures(m) for m in mondays})
    people = defaultdict(int)
    active = Person.objects.filter(active=True)
    available = Availability(active, first, last)
    for person_id, role_id in active.values_list("pk", "role_id"):
        people[role_id] += 1
        for monday in mondays:
            figures[role_id][monday].capacity += available.hours(
                person_id, monday, monday + timedelta(days=6)
            )

    def add(role_id, hours, window_start, window_end, attr):
        for monday, share in spread_over_weeks(hours, window_start, window_end, mondays).items():
            if share:
                week = figures[role_id][monday]
                setattr(week, attr, getattr(week, attr) + share)

    for row in Assignment.objects.filter(start__lte=last, end__gte=first).values_list(
        "role_id", "hours", "start", "end"
    ):
        add(*row, "assigned")
    for row in ResourceRequest.objects.filter(
        status=ResourceRequestStatus.OPEN, start__lte=last, end__gte=first
    ).values_list("role_id", "hours", "start", "end"):
        add(*row, "requested")
    lines = (
        OpportunityLine.objects.filter(role__isnull=False, start__lte=last, end__gte=first, hours__gt=0)
        .exclude(opportunity__stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST])
        .values_list("role_id", "hours", "opportunity__probability", "start", "end")
    )
    for role_id, hours, probability, line_start, line_end in lines:
        add(role_id, hours * probability / HUNDRED, line_start, line_end, "pipeline")
    roles = {role.pk: role for role in Role.objects.filter(pk__in=figures)}
    rows = [
        RoleRow(
            role=roles[role_id],
            weeks=[figures[role_id][m].rounded() for m in mondays],
            people=people[role_id],
        )
        for role_id in sorted(figures, key=lambda pk: roles[pk].name)
    ]
    total = RoleRow(
        role=None,
        people=sum(people.values()),
        weeks=[
            WeekFigures(
                m,
                sum((figures[r][m].capacity for r in figures), ZERO),
                sum((figures[r][m].assigned for r in figures), ZERO),
                sum((figures[r][m].requested for r in figures), ZERO),
                sum((figures[r][m].pipeline for r in figures), ZERO),
            ).rounded()
            for m in mondays
        ],
    )
    return CapacityReport(mondays=mondays, rows=rows, total=total)


def assigned_hours(person_ids, mondays: list[date], *, exclude_assignment: int | None = None) -> dict:
    """{person id: {monday: hours}} of their assignments spread over the given weeks."""
    first, last = mondays[0], mondays[-1] + timedelta(days=6)
    result: dict[int, dict[date, Decimal]] = defaultdict(lambda: {m: ZERO for m in mondays})
    rows = Assignment.objects.filter(person_id__in=person_ids, start__lte=last, end__gte=first)
    if exclude_assignment:
        rows = rows.exclude(pk=exclude_assignment)
    for person_id, hours, start, end in rows.values_list("person_id", "hours", "start", "end"):
        for monday, share in spread_over_weeks(hours, start, end, mondays).items():
            result[person_id][monday] += share
    return result


@dataclass
class BenchRow:
    person: Person
    capacity: Decimal
    assigned: Decimal

    @property
    def utilization_percent(self) -> int:
        return int((self.assigned * HUNDRED / self.capacity).to_integral_value()) if self.capacity else 0


def bench(*, today: date, weeks: int = BENCH_WEEKS) -> list[BenchRow]:
    """Active people with capacity whose assignments fill less than half of their available hours over the
    next `weeks` weeks (from this week's Monday), least assigned first."""
    mondays = weeks_from(week_start(today), weeks)
    candidates = Person.objects.filter(active=True, capacity_hours_per_week__gt=0)
    people = list(candidates.select_related("role").prefetch_related("skill_levels__skill"))
    assigned = assigned_hours([p.pk for p in people], mondays)
    available = Availability(candidates, mondays[0], mondays[-1] + timedelta(days=6))
    rows = []
    for person in people:
        capacity = available.hours(person.pk, mondays[0], mondays[-1] + timedelta(days=6))
        hours = sum(assigned[person.pk].values(), ZERO) if person.pk in assigned else ZERO
        if hours < capacity * BENCH_THRESHOLD:
            rows.append(
                BenchRow(person=person, capacity=capacity.quantize(HOURS), assigned=hours.quantize(HOURS))
            )
    rows.sort(key=lambda r: (r.utilization_percent, r.person.name))
    return rows


# Staffing suggestions

SKILL_POINTS = Decimal(50)
AVAILABILITY_POINTS = Decimal(30)
COST_POINTS = Decimal(10)
ROLE_POINTS = Decimal(10)


@dataclass
class Suggestion:
    person: Person
    skill_match: Decimal
    free_hours: Decimal
    cost_rate: Decimal | None
    role_match: bool
    score: Decimal = ZERO
    reasons: list[str] = field(default_factory=list)


def staffing_suggestions(request: ResourceRequest, *, limit: int = 10) -> list[Suggestion]:
    """Active people ranked for a request, best first, each with the reasons of its score (out of 100):

    - skills, 50 points: the mean over requested skills of min(level held / level asked, 1);
    - availability, 30: free hours in the window (available hours minus other assignments, week by week)
      over the hours requested, at most 1;
    - cost, 10: the cheapest candidate's cost rate over this one's (in the project's currency);
    - role, 10: the requested role is the person's primary role.
    Ties go to the cheaper person, then by name.
    """
    project = request.project
    currency = project.currency
    wanted = [(req.skill, req.level) for req in request.skill_requirements.select_related("skill")]
    people = list(Person.objects.filter(active=True).select_related("role"))
    levels = defaultdict(dict)
    for person_id, skill_id, level in PersonSkill.objects.filter(person__in=people).values_list(
        "person_id", "skill_id", "level"
    ):
        levels[person_id][skill_id] = level
    mondays = weeks_from(week_start(request.start), (request.end - week_start(request.start)).days // 7 + 1)
    assigned = assigned_hours([p.pk for p in people], mondays, exclude_assignment=request.assignment_id)
    available = Availability(Person.objects.filter(active=True), request.start, request.end)
    book = RateBook([project], [p.pk for p in people])
    suggestions = []
    for person in people:
        reasons = []
        if wanted:
            credits = []
            for skill, level in wanted:
                held = levels[person.pk].get(skill.pk)
                if held is None:
                    credits.append(ZERO)
                    reasons.append(f"No {skill.name} (needs {level})")
                else:
                    credits.append(min(Decimal(held) / level, Decimal(1)))
                    mark = "meets" if held >= level else "below"
                    reasons.append(f"{skill.name} {held}/5, {mark} the {level} asked")
            skill_match = sum(credits, ZERO) / len(credits)
        else:
            skill_match = Decimal(1)
        free = ZERO
        for monday in mondays:
            capacity = available.hours(
                person.pk, max(request.start, monday), min(request.end, monday + timedelta(days=6))
            )
            busy = assigned[person.pk][monday] if person.pk in assigned else ZERO
            free += max(capacity - busy, ZERO)
        free = free.quantize(HOURS)
        reasons.append(
            f"Free {free.normalize():f} h from {request.start.isoformat()} to {request.end.isoformat()}, "
            f"{request.hours.normalize():f} h asked"
        )
        try:
            cost = (
                book.cost_rate(person.pk, project, request.start) if book.cost_rates.get(person.pk) else None
            )
        except MissingExchangeRate:
            cost = None
        role_match = person.role_id == request.role_id
        reasons.insert(
            0,
            f"{person.role.name}, the role asked"
            if role_match
            else f"{person.role.name} (asked: {request.role.name})",
        )
        suggestions.append(Suggestion(person, skill_match, free, cost, role_match, reasons=reasons))
    costs = [s.cost_rate for s in suggestions if s.cost_rate]
    cheapest = min(costs) if costs else None
    for s in suggestions:
        availability = min(s.free_hours / request.hours, Decimal(1)) if request.hours else Decimal(1)
        if s.cost_rate is None:
            cost_score = ZERO
            s.reasons.append("No cost rate on record")
        else:
            cost_score = Decimal(1) if not s.cost_rate or cheapest is None else cheapest / s.cost_rate
            s.reasons.append(f"Costs {s.cost_rate.quantize(Decimal('0.01'))} {currency} an hour")
        s.score = (
            SKILL_POINTS * s.skill_match
            + AVAILABILITY_POINTS * availability
            + COST_POINTS * cost_score
            + (ROLE_POINTS if s.role_match else ZERO)
        ).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    suggestions.sort(
        key=lambda s: (
            -s.score,
            s.cost_rate if s.cost_rate is not None else Decimal("Infinity"),
            s.person.name,
        )
    )
    return suggestions[:limit]
