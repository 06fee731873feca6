"""Budget burn per project: hours, cost and billable value to date against the budget, and the estimate
at completion (actual to date + what assignments still plan from tomorrow, at today's rates)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from core.money import quantize
from ledger.errors import MissingExchangeRate
from projects.choices import EntryStatus
from projects.models import Assignment, Expense, Project, TimeEntry
from projects.selectors.rates import RateBook
from projects.weeks import working_days

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def _percent(part: Decimal, whole: Decimal | None) -> int | None:
    if not whole:
        return None
    return int((part * HUNDRED / whole).to_integral_value())


@dataclass
class Burn:
    project: Project
    hours: Decimal = ZERO
    billable_hours: Decimal = ZERO
    cost: Decimal = ZERO
    value: Decimal = ZERO
    expenses: Decimal = ZERO
    remaining_hours: Decimal = ZERO
    remaining_cost: Decimal = ZERO
    remaining_value: Decimal = ZERO

    @property
    def currency(self) -> str:
        return self.project.currency

    @property
    def eac_hours(self) -> Decimal:
        return self.hours + self.remaining_hours

    @property
    def eac_cost(self) -> Decimal:
        return self.cost + self.remaining_cost

    @property
    def eac_value(self) -> Decimal:
        return self.value + self.remaining_value

    @property
    def cost_budget(self) -> Decimal | None:
        """The cost the budget allows at the target margin (the whole budget without one)."""
        budget = self.project.budget_amount
        if budget is None:
            return None
        margin = self.project.target_margin_percent or ZERO
        return quantize(budget * (HUNDRED - margin) / HUNDRED, self.currency)

    @property
    def hours_percent(self) -> int | None:
        return _percent(self.hours, self.project.budget_hours)

    @property
    def eac_hours_percent(self) -> int | None:
        return _percent(self.eac_hours, self.project.budget_hours)

    @property
    def value_percent(self) -> int | None:
        return _percent(self.value, self.project.budget_amount)

    @property
    def eac_value_percent(self) -> int | None:
        return _percent(self.eac_value, self.project.budget_amount)

    @property
    def cost_percent(self) -> int | None:
        return _percent(self.cost, self.cost_budget)

    @property
    def eac_cost_percent(self) -> int | None:
        return _percent(self.eac_cost, self.cost_budget)

    @property
    def margin_percent(self) -> Decimal | None:
        if not self.eac_value:
            return None
        return ((self.eac_value - self.eac_cost) * HUNDRED / self.eac_value).quantize(Decimal("0.1"))

    @property
    def over_budget(self) -> bool:
        checks = [self.eac_hours_percent, self.eac_value_percent, self.eac_cost_percent]
        return any(p is not None and p > 100 for p in checks)

    def bars(self) -> list[dict]:
        """The bars a page draws: actual and estimate at completion against each budget."""
        rows = []
        project = self.project
        if project.budget_hours:
            rows.append(
                {
                    "label": "Hours",
                    "actual": self.hours,
                    "eac": self.eac_hours,
                    "budget": project.budget_hours,
                    "percent": self.hours_percent,
                    "eac_percent": self.eac_hours_percent,
                    "money": False,
                }
            )
        if project.budget_amount:
            rows.append(
                {
                    "label": "Billable value",
                    "actual": self.value,
                    "eac": self.eac_value,
                    "budget": project.budget_amount,
                    "percent": self.value_percent,
                    "eac_percent": self.eac_value_percent,
                    "money": True,
                }
            )
            rows.append(
                {
                    "label": "Cost",
                    "actual": self.cost,
                    "eac": self.eac_cost,
                    "budget": self.cost_budget,
                    "percent": self.cost_percent,
                    "eac_percent": self.eac_cost_percent,
                    "money": True,
                }
            )
        for row in rows:
            row["width"] = min(row["percent"] or 0, 100)
            row["eac_width"] = max(min((row["eac_percent"] or 0), 100) - row["width"], 0)
        return rows


def remaining_share(hours: Decimal, start: date, end: date, after: date) -> Decimal:
    """The part of `hours` (spread over start..end's working days) planned after the day `after`."""
    first = max(start, after + timedelta(days=1))
    if first > end:
        return ZERO
    total = working_days(start, end)
    if total == 0:
        return hours if first == start else ZERO
    return hours * working_days(first, end) / total


def project_burn(projects: list[Project], *, today: date) -> dict[int, Burn]:
    """Burn of several projects in a few queries (sums per distinct rate, priced in Python, exact)."""
    burns = {project.pk: Burn(project) for project in projects}
    if not burns:
        return burns
    groups = (
        TimeEntry.objects.filter(project_id__in=burns)
        .exclude(status=EntryStatus.REJECTED)
        .values("project_id", "status", "billable", "bill_rate", "cost_rate")
        .annotate(total=Sum("hours"))
        .order_by()
    )
    for row in groups:
        burn = burns[row["project_id"]]
        hours = Decimal(row["total"])
        burn.hours += hours
        burn.cost += hours * row["cost_rate"]
        if row["billable"] and row["status"] != EntryStatus.WRITTEN_OFF:
            burn.billable_hours += hours
            burn.value += hours * row["bill_rate"]
    for project_id, total in (
        Expense.objects.filter(project_id__in=burns)
        .exclude(status=EntryStatus.REJECTED)
        .values("project_id")
        .annotate(total=Sum("converted_amount"))
        .values_list("project_id", "total")
    ):
        burns[project_id].expenses = total
    assignments = list(
        Assignment.objects.filter(project_id__in=burns, end__gt=today).values(
            "person_id", "project_id", "role_id", "start", "end", "hours"
        )
    )
    if assignments:
        book = RateBook(projects, {a["person_id"] for a in assignments})
        for a in assignments:
            burn = burns[a["project_id"]]
            left = remaining_share(a["hours"], a["start"], a["end"], today)
            if not left:
                continue
            day = max(today, a["start"])
            rate, _ = book.bill_rate(a["person_id"], burn.project, a["role_id"], day)
            try:
                cost = book.cost_rate(a["person_id"], burn.project, day)
            except MissingExchangeRate:  # the estimate goes without that cost rather than fail the page
                cost = ZERO
            burn.remaining_hours += left
            burn.remaining_cost += left * cost
            burn.remaining_value += left * rate
    for burn in burns.values():
        currency = burn.currency
        burn.hours = burn.hours.quantize(Decimal("0.01"))
        burn.billable_hours = burn.billable_hours.quantize(Decimal("0.01"))
        burn.remaining_hours = burn.remaining_hours.quantize(Decimal("0.01"))
        burn.cost = quantize(burn.cost, currency)
        burn.value = quantize(burn.value, currency)
        burn.remaining_cost = quantize(burn.remaining_cost, currency)
        burn.remaining_value = quantize(burn.remaining_value, currency)
    return burns
