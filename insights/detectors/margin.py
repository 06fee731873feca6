"""Margin risk on active fixed-fee or capped projects (their contract's current terms hold a fixed-fee or
milestone line, or a not-to-exceed cap), read from time at its snapshot rates (submitted or later):

Percent complete comes from the project's milestones (amount completed or accepted ÷ total amount; by count
when they carry no amounts), else from the contract's percent-complete revenue obligations (hours, or time
cost, to date ÷ their estimate at completion) when the contract has this one project.

- `burn_ahead`: budget burn (hours ÷ budget hours; without an hours budget, value at bill rates ÷ budget)
  runs more than 10 points ahead of percent complete.
- `overrun_at_completion`: the estimate at completion, value at bill rates to date ÷ percent complete, is
  more than the budget (the project's budget amount, else the contract's fixed fees or caps).
- `margin_below_target`: the projected margin, (budget − time cost to date ÷ percent complete) ÷ budget,
  is below the project's target margin.
Audience: project managers, executives and finance; the owner is the project manager.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.urls import reverse

from core.money import format_money
from core.roles import Role
from crm.choices import BillingModel, RevenueMethod
from crm.models import ContractLine
from insights.detectors.wording import hours, percent, two
from insights.findings import Finding
from insights.models import InsightKind, InsightSeverity
from projects.choices import EntryStatus, MilestoneStatus, ProjectStatus
from projects.models import Milestone, Project, TimeEntry
from revrec.choices import Measure, ObligationStatus
from revrec.models import PerformanceObligation

KIND = InsightKind.MARGIN_RISK
ZERO = Decimal(0)
HUNDRED = Decimal(100)
BURN_GAP_POINTS = Decimal(10)
COUNTED = (EntryStatus.SUBMITTED, EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)
AUDIENCE = (Role.PROJECT_MANAGER, Role.EXECUTIVE, Role.FINANCE)
FIXED = (BillingModel.FIXED_FEE, BillingModel.MILESTONE)
MONEY = DecimalField(max_digits=30, decimal_places=6)


def _current_lines():
    return ContractLine.objects.filter(contract_version__number=F("contract__version"))


def _projects() -> list[Project]:
    fixed_or_capped = _current_lines().filter(
        Q(billing_model__in=FIXED) | Q(cap_amount__isnull=False), contract_id=OuterRef("contract_id")
    )
    return list(
        Project.objects.filter(
            status__in=[ProjectStatus.ACTIVE, ProjectStatus.ON_HOLD], contract__isnull=False
        )
        .filter(Exists(fixed_or_capped))
        .select_related("manager")
        .order_by("pk")
    )


def _fees(contract_ids) -> dict[int, Decimal]:
    """Per contract, its fixed fees plus its caps (the most the client pays)."""
    rows = (
        _current_lines()
        .filter(contract_id__in=contract_ids)
        .values("contract_id")
        .annotate(
            fixed=Sum("amount", filter=Q(billing_model__in=FIXED)),
            capped=Sum("cap_amount", filter=~Q(billing_model__in=FIXED)),
        )
    )
    return {row["contract_id"]: (row["fixed"] or ZERO) + (row["capped"] or ZERO) for row in rows}


def _actuals(project_ids, as_of: date) -> dict[int, dict]:
    rows = (
        TimeEntry.objects.filter(project_id__in=project_ids, status__in=COUNTED, date__lte=as_of)
        .values("project_id")
        .annotate(
            total_hours=Sum("hours"),
            total_cost=Sum(ExpressionWrapper(F("hours") * F("cost_rate"), output_field=MONEY)),
            total_value=Sum(
                ExpressionWrapper(F("hours") * F("bill_rate"), output_field=MONEY), filter=Q(billable=True)
            ),
        )
        .order_by()
    )
    return {
        row["project_id"]: {
            "hours": row["total_hours"] or ZERO,
            "cost": row["total_cost"] or ZERO,
            "value": row["total_value"] or ZERO,
        }
        for row in rows
    }


def _milestone_progress(currencies: dict[int, str]) -> dict[int, tuple[Decimal, str]]:
    """Per project id (keys of `currencies`, its currency), percent complete by milestones and in words."""
    done = Q(status__in=[MilestoneStatus.COMPLETED, MilestoneStatus.ACCEPTED])
    rows = (
        Milestone.objects.filter(project_id__in=list(currencies))
        .values("project_id")
        .annotate(
            total=Sum("amount"),
            done_amount=Sum("amount", filter=done),
            count=Count("id"),
            done=Count("id", filter=done),
        )
    )
    progress = {}
    for row in rows:
        if row["total"]:
            ratio = (row["done_amount"] or ZERO) / row["total"]
            money = currencies[row["project_id"]]
            done_amount = format_money(row["done_amount"] or ZERO, money)
            basis = f"milestones worth {done_amount} of {format_money(row['total'], money)} completed"
        else:
            ratio = Decimal(row["done"]) / row["count"]
            basis = f"{row['done']} of {row['count']} milestones completed"
        progress[row["project_id"]] = (ratio * HUNDRED, basis)
    return progress


def _obligation_estimates(contract_ids) -> dict[int, dict]:
    estimates = defaultdict(lambda: {"hours": ZERO, "cost": ZERO})
    for row in PerformanceObligation.objects.filter(
        contract_id__in=contract_ids,
        method=RevenueMethod.PERCENT_COMPLETE,
        status=ObligationStatus.ACTIVE,
        excluded=False,
    ).values("contract_id", "measure", "estimated_total_hours", "estimated_total_cost"):
        if row["measure"] == Measure.HOURS and row["estimated_total_hours"]:
            estimates[row["contract_id"]]["hours"] += row["estimated_total_hours"]
        elif row["measure"] == Measure.COST and row["estimated_total_cost"]:
            estimates[row["contract_id"]]["cost"] += row["estimated_total_cost"]
    return estimates


def _percent_complete(project, actual, milestones, estimates, single) -> tuple[Decimal, str] | None:
    if project.pk in milestones:
        return milestones[project.pk]
    estimate = estimates.get(project.contract_id) if single else None
    if not estimate:
        return None
    if estimate["hours"]:
        return (
            actual["hours"] / estimate["hours"] * HUNDRED,
            f"{hours(actual['hours'])} of an estimated {hours(estimate['hours'])} at completion",
        )
    if estimate["cost"]:
        return (
            actual["cost"] / estimate["cost"] * HUNDRED,
            f"cost {two(actual['cost'])} of an estimated {two(estimate['cost'])} at completion",
        )
    return None


def _finding(project: Project, rule: str, **fields) -> Finding:
    return Finding(
        kind=KIND,
        rule=rule,
        fingerprint=f"{KIND}:{rule}:project:{project.pk}",
        subject_type="projects.project",
        subject_id=project.pk,
        subject_label=f"{project.code} {project.name}",
        audience=AUDIENCE,
        owner_id=project.manager.user_id if project.manager_id else None,
        url=reverse("projects:detail", args=[project.pk]),
        **fields,
    )


@dataclass(frozen=True)
class _State:
    """One project's figures as the rules read them."""

    project: Project
    name: str
    money: str
    hours: Decimal
    cost: Decimal
    value: Decimal
    budget: Decimal
    done: Decimal  # percent complete
    basis: str  # where percent complete comes from, in words


def _burn_ahead(state: _State):
    project, money = state.project, state.money
    if project.budget_hours:
        burn = state.hours / project.budget_hours * HUNDRED
        used = f"{hours(state.hours)} of {hours(project.budget_hours)} budgeted"
    elif state.budget:
        burn = state.value / state.budget * HUNDRED
        budget = format_money(state.budget, money)
        used = f"{format_money(state.value, money)} at bill rates of a {budget} budget"
    else:
        return
    gap = burn - state.done
    if gap <= BURN_GAP_POINTS:
        return
    yield _finding(
        project,
        "burn_ahead",
        title=f"{project.code}: {percent(burn)} of the budget burnt at {percent(state.done)} complete",
        explanation=(
            f"{state.name} has used {used} ({percent(burn)}) but is {percent(state.done)} complete "
            f"({state.basis}): burn runs {two(gap)} points ahead (flagged beyond {BURN_GAP_POINTS})."
        ),
        figures={
            "burn_percent": str(two(burn)),
            "percent_complete": str(two(state.done)),
            "gap_points": str(two(gap)),
            "hours": str(two(state.hours)),
            "budget_hours": str(two(project.budget_hours)) if project.budget_hours else None,
        },
        factors=[
            {"factor": "Budget burnt", "value": percent(burn), "effect": "raises"},
            {"factor": "Percent complete", "value": percent(state.done), "effect": "lowers"},
        ],
    )


def _overrun_at_completion(state: _State):
    money, budget = state.money, state.budget
    estimate = state.value / state.done * HUNDRED
    if estimate <= budget:
        return
    overrun = estimate - budget
    value, at_completion = format_money(state.value, money), format_money(estimate, money)
    yield _finding(
        state.project,
        "overrun_at_completion",
        title=f"{state.project.code}: projected {format_money(overrun, money)} over budget at completion",
        explanation=(
            f"{state.name} has delivered {value} of work at bill rates and is {percent(state.done)} complete "
            f"({state.basis}). At this pace the estimate at completion is {value} ÷ {percent(state.done)} = "
            f"{at_completion}, {format_money(overrun, money)} ({percent(overrun / budget * HUNDRED)}) over "
            f"the {format_money(budget, money)} budget."
        ),
        severity=InsightSeverity.CRITICAL if overrun > budget / 5 else InsightSeverity.WARNING,
        figures={
            "currency": money,
            "value_to_date": str(two(state.value)),
            "percent_complete": str(two(state.done)),
            "estimate_at_completion": str(two(estimate)),
            "budget": str(two(budget)),
            "overrun": str(two(overrun)),
        },
    )


def _margin_below_target(state: _State):
    project, money, budget = state.project, state.money, state.budget
    target = project.target_margin_percent
    if target is None:
        return
    cost_at_completion = state.cost / state.done * HUNDRED
    margin = (budget - cost_at_completion) / budget * HUNDRED
    if margin >= target:
        return
    yield _finding(
        project,
        "margin_below_target",
        title=f"{project.code}: projected margin {percent(margin)}, below the {percent(target)} target",
        explanation=(
            f"{state.name} has cost {format_money(state.cost, money)} in time at cost rates at "
            f"{percent(state.done)} complete ({state.basis}), so {format_money(cost_at_completion, money)} "
            f"at completion against a {format_money(budget, money)} budget: a margin of {percent(margin)}, "
            f"below the target of {percent(target)}."
        ),
        figures={
            "currency": money,
            "cost_to_date": str(two(state.cost)),
            "percent_complete": str(two(state.done)),
            "cost_at_completion": str(two(cost_at_completion)),
            "budget": str(two(budget)),
            "margin_percent": str(two(margin)),
            "target_margin_percent": str(two(target)),
        },
    )


def detect(as_of: date):
    projects = _projects()
    if not projects:
        return
    project_ids = [project.pk for project in projects]
    contract_ids = {project.contract_id for project in projects}
    fees = _fees(contract_ids)
    actuals = _actuals(project_ids, as_of)
    milestones = _milestone_progress({project.pk: project.currency for project in projects})
    estimates = _obligation_estimates(contract_ids)
    per_contract = Counter(project.contract_id for project in projects)
    for project in projects:
        actual = actuals.get(project.pk)
        if not actual or not actual["hours"]:
            continue
        single = per_contract[project.contract_id] == 1
        progress = _percent_complete(project, actual, milestones, estimates, single)
        if progress is None:
            continue
        state = _State(
            project=project,
            name=f"{project.code} {project.name}",
            money=project.currency,
            **actual,
            budget=project.budget_amount or fees.get(project.contract_id) or ZERO,
            done=progress[0],
            basis=progress[1],
        )
        yield from _burn_ahead(state)
        if state.done and state.budget:
            yield from _overrun_at_completion(state)
            yield from _margin_below_target(state)
