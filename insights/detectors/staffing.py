"""Staffing: the best people for each open resource request, and the people about to be on the bench.

Free hours are available hours (`analytics.availability`: weekly capacity on weekdays, less the legal
entity's holidays and recorded time off) less the hours of the person's assignments that fall in the
window, an assignment's hours spread evenly over its working days (as the capacity page plans them).

A request's candidates are the active people in the requested role or holding a requested skill, scored
out of 100 with the capacity page's weights (`projects.reports.capacity`): skills 50 (the mean over the
requested skills of min(level held ÷ level asked, 1)), availability 30 (free hours ÷ hours asked, at
most 1), cost 10 (the cheapest candidate's cost rate ÷ this one's, in the project's currency; none on
record scores 0) and role 10 (the requested role is their primary role). The top three are reported.

The bench: active people whose assignments fill less than `BENCH_THRESHOLD` of their available hours
over the next `BENCH_WEEKS` weeks from `as_of`.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.urls import reverse

from analytics.availability import Availability
from core.roles import Role
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity
from ledger.errors import MissingExchangeRate
from ledger.selectors import exchange_rates
from projects.choices import ResourceRequestStatus
from projects.models import Assignment, CostRate, Person, PersonSkill, RequestedSkill, ResourceRequest
from projects.reports.capacity import (
    AVAILABILITY_POINTS,
    BENCH_THRESHOLD,
    BENCH_WEEKS,
    COST_POINTS,
    ROLE_POINTS,
    SKILL_POINTS,
)
from projects.weeks import working_days

ZERO = Decimal(0)
ONE = Decimal(1)
HOURS = Decimal("0.01")
POINTS = Decimal("0.1")
TOP_CANDIDATES = 3
WEEKDAYS = 5


def _hours(value: Decimal) -> str:
    return f"{value.quantize(HOURS, rounding=ROUND_HALF_UP)}"


def _points(value: Decimal) -> Decimal:
    return value.quantize(POINTS, rounding=ROUND_HALF_UP)


def share_in_window(hours: Decimal, start: date, end: date, first: date, last: date) -> Decimal:
    """The part of `hours`, spread evenly over the working days from `start` to `end`, that falls from
    `first` to `last` (over calendar days when the span has no working day)."""
    total = working_days(start, end)
    overlap_first, overlap_last = max(start, first), min(end, last)
    if overlap_last < overlap_first:
        return ZERO
    if total == 0:
        return hours * ((overlap_last - overlap_first).days + 1) / ((end - start).days + 1)
    return hours * working_days(overlap_first, overlap_last) / total


class Workload:
    """The assignments of active people over a range, summed into any window within it by arithmetic."""

    def __init__(self, first: date, last: date):
        self.assignments: dict[int, list[tuple]] = defaultdict(list)
        for pk, person_id, hours, start, end in Assignment.objects.filter(
            person__active=True, start__lte=last, end__gte=first
        ).values_list("pk", "person_id", "hours", "start", "end"):
            self.assignments[person_id].append((pk, hours, start, end))

    def hours(self, person_id: int, first: date, last: date, *, exclude: int | None = None) -> Decimal:
        return sum(
            (
                share_in_window(hours, start, end, first, last)
                for pk, hours, start, end in self.assignments.get(person_id, ())
                if pk != exclude
            ),
            ZERO,
        )


@dataclass
class Candidate:
    person_id: int
    name: str
    role_name: str
    role_match: bool
    skill_match: Decimal
    skill_notes: list[str]
    available: Decimal
    assigned: Decimal
    cost_rate: Decimal | None
    currency: str
    parts: dict[str, Decimal] = field(default_factory=dict)

    @property
    def free(self) -> Decimal:
        return max(self.available - self.assigned, ZERO)

    @property
    def score(self) -> Decimal:
        return sum(self.parts.values(), ZERO)

    def sort_key(self):
        cost = self.cost_rate if self.cost_rate is not None else Decimal("Infinity")
        return (-self.score, cost, self.name, self.person_id)


def _cost_rates(people: dict[int, dict], requests: list[ResourceRequest]) -> dict[tuple[int, int], Decimal]:
    """{(request id, person id): cost rate on the request's first day in the project's currency}."""
    valid = defaultdict(list)
    for person_id, rate, currency, valid_from, valid_to in CostRate.objects.filter(
        person_id__in=people
    ).values_list("person_id", "rate", "currency", "valid_from", "valid_to"):
        valid[person_id].append((valid_from, valid_to, rate, currency))
    wanted = {}
    for request in requests:
        for person_id, rows in valid.items():
            for valid_from, valid_to, rate, currency in rows:
                if valid_from <= request.start and (valid_to is None or request.start <= valid_to):
                    wanted[(request.pk, person_id)] = (
                        rate,
                        currency,
                        request.project.currency,
                        request.start,
                    )
    by_pair = defaultdict(set)
    for _, currency, target, day in wanted.values():
        if currency != target:
            by_pair[(currency, target)].add((currency, target, day))
    rates = {}
    for conversions in by_pair.values():
        # Without a rate the cost is unknown (scores 0), rather than the whole run failing.
        try:
            rates.update(exchange_rates(conversions))
        except MissingExchangeRate:
            continue
    costs = {}
    for key, (rate, currency, target, day) in wanted.items():
        if currency == target:
            costs[key] = rate
        elif (currency, target, day) in rates:
            costs[key] = (rate * rates[(currency, target, day)]).quantize(Decimal("0.0001"))
    return costs


def _score(candidates: list[Candidate], hours_asked: Decimal) -> list[Candidate]:
    costs = [c.cost_rate for c in candidates if c.cost_rate]
    cheapest = min(costs) if costs else None
    for c in candidates:
        if c.cost_rate is None:
            cost_share = ZERO
        elif not c.cost_rate or cheapest is None:
            cost_share = ONE
        else:
            cost_share = cheapest / c.cost_rate
        c.parts = {
            "skills": _points(SKILL_POINTS * c.skill_match),
            "availability": _points(AVAILABILITY_POINTS * min(c.free / hours_asked, ONE)),
            "cost": _points(COST_POINTS * cost_share),
            "role": _points(ROLE_POINTS if c.role_match else ZERO),
        }
    return sorted(candidates, key=Candidate.sort_key)


def ranked_candidates(as_of: date) -> list[tuple[ResourceRequest, list[Candidate]]]:
    """Each open request not yet over on `as_of` (earliest first) with its candidates, best first."""
    requests = list(
        ResourceRequest.objects.filter(status=ResourceRequestStatus.OPEN, end__gte=as_of)
        .select_related("project__manager", "role")
        .order_by("start", "pk")
    )
    if not requests:
        return []
    wanted = defaultdict(list)
    for request_id, skill_id, skill_name, level in (
        RequestedSkill.objects.filter(request__in=requests)
        .order_by("skill__name")
        .values_list("request_id", "skill_id", "skill__name", "level")
    ):
        wanted[request_id].append((skill_id, skill_name, level))
    people_qs = Person.objects.filter(active=True)
    people = {
        row["pk"]: row
        for row in people_qs.values("pk", "name", "role_id", "role__name").order_by("name", "pk")
    }
    levels = defaultdict(dict)
    for person_id, skill_id, level in PersonSkill.objects.filter(person__active=True).values_list(
        "person_id", "skill_id", "level"
    ):
        levels[person_id][skill_id] = level
    first, last = min(r.start for r in requests), max(r.end for r in requests)
    availability = Availability(people_qs, first, last)
    workload = Workload(first, last)
    costs = _cost_rates(people, requests)
    result = []
    for request in requests:
        skills = wanted[request.pk]
        candidates = []
        for person_id, person in people.items():
            held = levels[person_id]
            role_match = person["role_id"] == request.role_id
            if not role_match and not any(skill_id in held for skill_id, _, _ in skills):
                continue
            notes, credits = [], []
            for skill_id, name, level in skills:
                level_held = held.get(skill_id)
                credits.append(min(Decimal(level_held) / level, ONE) if level_held else ZERO)
                notes.append(f"{name} {level_held}/5 (asked {level})" if level_held else f"no {name}")
            candidates.append(
                Candidate(
                    person_id=person_id,
                    name=person["name"],
                    role_name=person["role__name"],
                    role_match=role_match,
                    skill_match=sum(credits, ZERO) / len(credits) if credits else ONE,
                    skill_notes=notes,
                    available=availability.hours(person_id, request.start, request.end),
                    assigned=workload.hours(
                        person_id, request.start, request.end, exclude=request.assignment_id
                    ),
                    cost_rate=costs.get((request.pk, person_id)),
                    currency=request.project.currency,
                )
            )
        result.append((request, _score(candidates, request.hours)))
    return result


def _candidate_row(rank: int, c: Candidate, hours_asked: Decimal) -> dict:
    parts = " + ".join(f"{name} {_points(value)}" for name, value in c.parts.items())
    cost = f"{c.cost_rate.quantize(HOURS)} {c.currency}/h" if c.cost_rate is not None else "no cost rate"
    skills = ", ".join(c.skill_notes) or "no skills asked"
    return {
        "factor": f"{rank}. {c.name}",
        "value": (
            f"{c.role_name}{'' if c.role_match else ' (another role)'}; {skills}; free {_hours(c.free)} h "
            f"of {_hours(hours_asked)} h asked; {cost}; {parts}"
        ),
        "effect": f"score {_points(c.score)}/100",
    }


def _candidate_figures(c: Candidate) -> dict:
    return {
        "person_id": c.person_id,
        "name": c.name,
        "score": str(_points(c.score)),
        "parts": {name: str(_points(value)) for name, value in c.parts.items()},
        "available_hours": _hours(c.available),
        "assigned_hours": _hours(c.assigned),
        "free_hours": _hours(c.free),
        "cost_rate": None if c.cost_rate is None else str(c.cost_rate.quantize(HOURS)),
    }


def request_findings(as_of: date) -> Iterable[Finding]:
    for request, candidates in ranked_candidates(as_of):
        project = request.project
        top = candidates[:TOP_CANDIDATES]
        label = f"{request.role.name} for {project.code}"
        window = f"{request.start.isoformat()} to {request.end.isoformat()}"
        asked = f"{_hours(request.hours)} h from {window}"
        if not top:
            title = f"{label:.130}: nobody in the role or with the skills asked"
            explanation = f"{label} asks for {asked}; no active person has the role or any skill asked."
            severity = InsightSeverity.WARNING
        else:
            best = top[0]
            title = f"{label:.80}: {best.name:.80} fits best ({_points(best.score)}/100)"
            explanation = (
                f"{label} asks for {asked}. Best match {best.name}: {_points(best.score)}/100, free "
                f"{_hours(best.free)} h ({_hours(best.available)} h available less {_hours(best.assigned)} h "
                f"assigned). "
                + (
                    "Next: " + "; ".join(f"{c.name} {_points(c.score)}/100" for c in top[1:]) + ". "
                    if len(top) > 1
                    else ""
                )
                + (
                    ""
                    if best.free >= request.hours
                    else f"Nobody has all {_hours(request.hours)} h free: "
                    "split the request or move its dates."
                )
            ).strip()
            severity = InsightSeverity.INFO if best.free >= request.hours else InsightSeverity.WARNING
        yield Finding(
            kind=InsightKind.STAFFING,
            rule="best_matches",
            fingerprint=f"staffing:best_matches:resource_request:{request.pk}",
            subject_type="projects.resourcerequest",
            subject_id=request.pk,
            subject_label=label,
            title=title,
            explanation=explanation,
            severity=severity,
            figures={
                "hours_asked": _hours(request.hours),
                "start": request.start.isoformat(),
                "end": request.end.isoformat(),
                "candidates": [_candidate_figures(c) for c in top],
            },
            factors=[_candidate_row(rank, c, request.hours) for rank, c in enumerate(top, start=1)],
            audience=(Role.RESOURCE_MANAGER, Role.PROJECT_MANAGER),
            owner_id=project.manager.user_id if project.manager else None,
            url=reverse("projects:request-detail", args=[request.pk]),
        )


def bench_findings(as_of: date) -> Iterable[Finding]:
    first, last = as_of, as_of + timedelta(days=7 * BENCH_WEEKS - 1)
    people_qs = Person.objects.filter(active=True, capacity_hours_per_week__gt=0)
    availability = Availability(people_qs, first, last)
    workload = Workload(first, last)
    window = f"{first.isoformat()} to {last.isoformat()}"
    for person_id, name, weekly, manager_user_id in people_qs.order_by("name", "pk").values_list(
        "pk", "name", "capacity_hours_per_week", "manager__user_id"
    ):
        available = availability.hours(person_id, first, last)
        assigned = workload.hours(person_id, first, last)
        if available <= 0 or assigned >= available * BENCH_THRESHOLD:
            continue
        capacity = weekly * working_days(first, last) / WEEKDAYS
        percent = (assigned * 100 / available).quantize(POINTS, rounding=ROUND_HALF_UP)
        yield Finding(
            kind=InsightKind.STAFFING,
            rule="bench",
            fingerprint=f"staffing:bench:person:{person_id}",
            subject_type="projects.person",
            subject_id=person_id,
            subject_label=name,
            title=f"{name:.150}: {percent}% staffed over the next {BENCH_WEEKS} weeks",
            explanation=(
                f"{name} has {_hours(assigned)} h assigned of {_hours(available)} h available from {window} "
                f"(capacity {_hours(capacity)} h less {_hours(capacity - available)} h of holidays and time "
                f"off): {percent}%, under the {int(BENCH_THRESHOLD * 100)}% bench line."
            ),
            severity=InsightSeverity.INFO,
            figures={
                "start": first.isoformat(),
                "end": last.isoformat(),
                "capacity_hours": _hours(capacity),
                "available_hours": _hours(available),
                "assigned_hours": _hours(assigned),
                "staffed_percent": str(percent),
            },
            audience=(Role.RESOURCE_MANAGER,),
            owner_id=manager_user_id,
            url=reverse("projects:capacity"),
        )


def detect(as_of: date) -> Iterable[Finding]:
    yield from request_findings(as_of)
    yield from bench_findings(as_of)
