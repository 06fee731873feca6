"""The firm's KPIs: one definition each (name, the formula shown on hover, unit) and the arithmetic.

Figures stay exact (Decimal) until shown: a percentage is rounded half-up to 2 places, a rate or an
amount to the currency's minor unit, by `present` only. A ratio whose denominator is zero is None
("—" on the pages, null in the API), never 0.

Where the numbers come from:
- hours, standard value, cost, billed value and WIP: the daily rollups of approved time and expenses
  (`analytics.models`), in each project's currency;
- available hours: each active person's weekly capacity ÷ 5 on each weekday (Monday–Friday) of the range
  that is not a public holiday of their legal entity, less their recorded time off (its hours per day,
  at most the day's capacity; none on weekends and holidays) — `projects.selectors.availability`;
- revenue: recognised revenue from the general ledger (revenue accounts, credits − debits, functional
  currency), from the monthly GL rollup; a range counts the whole months it touches;
- deferred and unbilled revenue: the ledger balances of the contract liability / asset accounts;
- backlog: revenue recognition's remaining performance obligations; DSO: the ledger's countback and
  simple methods.

Worked example (a test): capacity 40 h; 32 h billable + 4 h non-billable; standard rate 175.00; billed
5,200.00; cost rate 80.00 → utilization 36 / 40 = 90.00%; billable utilization 32 / 40 = 80.00%;
realization 5,200 / (32 × 175 = 5,600, all of it billed) = 92.86%; effective rate 5,200 / 36 = 144.44;
cost 36 × 80 = 2,880.00; margin 5,200 − 2,880 = 2,320.00, margin % 2,320 / 5,200 = 44.62%.

Practice: every figure of a practice (hours, capacity, standard and billed value, cost, margin, WIP) is
that of the work its people did, whoever's project it was: the person's practice, not the project's. One
rule keeps utilization, realization and margin of a practice about the same hours; people without a
practice show as "No practice". GL revenue has no person dimension and is not split by practice.

"Margin" is the delivery margin on billed fees (billed value − cost of the time and expenses behind it),
not GL revenue − cost: billed fees are known per person, day and project, so margin can be cut by person
and practice, which GL revenue (no person dimension, booked by revenue runs on other dates) cannot.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core.money import quantize

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
WEEKDAYS = 5

GROUP_BY = ("practice", "client", "project", "person", "legal_entity", "month")


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    formula: str
    unit: str  # percent | money | rate | hours | days


KPIS: dict[str, Kpi] = {
    kpi.name: kpi
    for kpi in [
        Kpi(
            "utilization",
            "Utilization",
            "Hours worked ÷ available hours (weekday capacity − holidays − time off).",
            "percent",
        ),
        Kpi(
            "billable_utilization",
            "Billable utilization",
            "Billable hours ÷ available hours (weekday capacity − holidays − time off).",
            "percent",
        ),
        Kpi(
            "realization",
            "Realization",
            "Billed value ÷ standard value (billable hours × the standard rate card's rate) of the work "
            "billed or written off; below 100% is discounted or written-down work.",
            "percent",
        ),
        Kpi("effective_rate", "Effective rate", "Billed value ÷ hours worked.", "rate"),
        Kpi(
            "revenue",
            "Revenue",
            "Recognised revenue in the general ledger: revenue accounts' credits − debits (functional "
            "currency), whole months.",
            "money",
        ),
        Kpi("cost", "Cost", "Hours × each person's cost rate + approved expenses.", "money"),
        Kpi("margin", "Margin", "Billed value − cost of the time and expenses behind it.", "money"),
        Kpi("margin_percent", "Margin %", "Margin ÷ billed value.", "percent"),
        Kpi("billed_value", "Billed", "What released invoices charged for the period's time.", "money"),
        Kpi("bookings", "Bookings", "Value of contracts signed in the period.", "money"),
        Kpi(
            "pipeline_weighted",
            "Weighted pipeline",
            "Open opportunities' amount × their probability.",
            "money",
        ),
        Kpi("win_rate", "Win rate", "Opportunities won ÷ (won + lost), closed in the period.", "percent"),
        Kpi(
            "backlog",
            "Backlog",
            "Remaining performance obligations: allocated − recognised, on the period's last day.",
            "money",
        ),
        Kpi(
            "wip",
            "Unbilled WIP",
            "Approved billable time (hours × bill rate) and expenses (rebill value) no invoice has taken.",
            "money",
        ),
        Kpi(
            "deferred_revenue",
            "Deferred revenue",
            "Balance of the deferred revenue (contract liability) accounts on the period's last day.",
            "money",
        ),
        Kpi(
            "unbilled_revenue",
            "Unbilled revenue",
            "Balance of the unbilled revenue (contract asset) accounts on the period's last day.",
            "money",
        ),
        Kpi(
            "dso",
            "DSO",
            "Days sales outstanding by countback: days of the latest invoicing the open AR covers.",
            "days",
        ),
        Kpi("dso_simple", "DSO (simple)", "Open AR ÷ the last 90 days' invoicing × 90.", "days"),
        Kpi(
            "days_to_invoice",
            "Days to invoice",
            "Days from a time entry's approval to the release of the invoice that bills it (median; p90 "
            "beside it), for time approved in the period.",
            "days",
        ),
        Kpi(
            "write_off_rate",
            "Write-off rate",
            "Receivables written off in the period ÷ invoiced in the period.",
            "percent",
        ),
        Kpi(
            "overdue_ar",
            "Overdue AR",
            "Open receivables past their due date on the period's last day.",
            "money",
        ),
    ]
}


def ratio(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return part / whole


def percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    value = ratio(part, whole)
    return None if value is None else value * HUNDRED


def present(value: Decimal | None, unit: str, currency: str | None = None) -> Decimal | None:
    """Round a KPI for display: percentages, rates, days and hours half-up to 2 places; money to the
    currency's minor unit."""
    if value is None:
        return None
    if unit == "money" and currency:
        return quantize(value, currency)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def weekdays(start: date, end: date) -> int:
    """Monday–Friday days from `start` to `end`, both included."""
    if end < start:
        return 0
    days = (end - start).days + 1
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * WEEKDAYS
    first = start.weekday()
    count += sum(1 for offset in range(rest) if (first + offset) % 7 < WEEKDAYS)
    return count


def percentile(histogram: dict[int, int], share: Decimal) -> Decimal | None:
    """The nearest-rank percentile (share 0.5 = median, 0.9 = p90) of values given as {value: count};
    an even count's median is the mean of the two middle values."""
    total = sum(histogram.values())
    if not total:
        return None
    values = sorted(histogram)

    def nth(rank: int) -> int:
        seen = 0
        for value in values:
            seen += histogram[value]
            if seen >= rank:
                return value
        return values[-1]

    if share == Decimal("0.5") and total % 2 == 0:
        return Decimal(nth(total // 2) + nth(total // 2 + 1)) / 2
    rank = max(1, int((share * total).to_integral_value(rounding="ROUND_CEILING")))
    return Decimal(nth(rank))


@dataclass
class Measures:
    """The sums one group (a person, a client, a month, …) in one currency adds up to; KPIs derive from
    them. `available_hours` is None where capacity means nothing (a client, a project)."""

    currency: str | None = None
    hours: Decimal = ZERO
    billable_hours: Decimal = ZERO
    available_hours: Decimal | None = None
    standard_value: Decimal = ZERO
    billed_standard_value: Decimal | None = None
    billed_value: Decimal = ZERO
    time_cost: Decimal = ZERO
    expense_cost: Decimal = ZERO
    wip: Decimal = ZERO
    revenue: Decimal | None = None
    # A group split by currency measures utilization on all its hours: [hours, billable hours].
    group_hours: tuple[Decimal, Decimal] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def utilization(self) -> Decimal | None:
        hours = self.group_hours[0] if self.group_hours else self.hours
        return percent(hours, self.available_hours)

    @property
    def billable_utilization(self) -> Decimal | None:
        hours = self.group_hours[1] if self.group_hours else self.billable_hours
        return percent(hours, self.available_hours)

    @property
    def realization(self) -> Decimal | None:
        # Only work whose billing is settled: unbilled work is WIP, not a write-down.
        settled = self.standard_value if self.billed_standard_value is None else self.billed_standard_value
        return percent(self.billed_value, settled)

    @property
    def effective_rate(self) -> Decimal | None:
        return ratio(self.billed_value, self.hours)

    @property
    def cost(self) -> Decimal:
        return self.time_cost + self.expense_cost

    @property
    def margin(self) -> Decimal:
        return self.billed_value - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return percent(self.margin, self.billed_value)

    def add(self, other: "Measures") -> None:
        for name in (
            "hours",
            "billable_hours",
            "standard_value",
            "billed_value",
            "time_cost",
            "expense_cost",
            "wip",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.billed_standard_value is not None:
            self.billed_standard_value = (self.billed_standard_value or ZERO) + other.billed_standard_value

    def presented(self) -> dict:
        """Every KPI of this group, rounded for display (the API's and the pages' figures)."""
        money = self.currency
        return {
            "currency": money,
            "hours": present(self.hours, "hours"),
            "billable_hours": present(self.billable_hours, "hours"),
            "available_hours": present(self.available_hours, "hours"),
            "utilization": present(self.utilization, "percent"),
            "billable_utilization": present(self.billable_utilization, "percent"),
            "realization": present(self.realization, "percent"),
            "effective_rate": present(self.effective_rate, "money", money),
            "standard_value": present(self.standard_value, "money", money),
            "billed_value": present(self.billed_value, "money", money),
            "revenue": present(self.revenue, "money", money),
            "cost": present(self.cost, "money", money),
            "margin": present(self.margin, "money", money),
            "margin_percent": present(self.margin_percent, "percent"),
            "wip": present(self.wip, "money", money),
        }


def prior_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end] (the trend on the KPI cards)."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def trend(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """Change against the prior period in percent of the prior figure (None when there is none)."""
    if current is None or previous is None or not previous:
        return None
    return present((current - previous) * HUNDRED / abs(previous), "percent")
