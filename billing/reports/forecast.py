"""The billing forecast: what the next months should invoice, from the billing plans' schedules plus the
time and materials already worked and waiting to be billed."""

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from billing.choices import PlanStatus
from billing.models import PlanItem
from billing.reports.wip import unbilled_wip
from core.errors import ValidationFailed
from core.money import quantize

ZERO = Decimal(0)
MAX_MONTHS = 24


@dataclass
class ForecastMonth:
    """One calendar month; amounts per currency."""

    start: date
    end: date
    scheduled: dict[str, Decimal] = field(default_factory=dict)
    time_and_materials: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> dict[str, Decimal]:
        result: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for part in (self.scheduled, self.time_and_materials):
            for currency, amount in part.items():
                result[currency] += amount
        return dict(sorted(result.items()))


@dataclass
class Forecast:
    start: date
    months: list[ForecastMonth]
    # How the time-and-materials figure was estimated, to show beside it.
    time_and_materials_basis: str

    @property
    def totals(self) -> dict[str, Decimal]:
        result: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for month in self.months:
            for currency, amount in month.total.items():
                result[currency] += amount
        return dict(sorted(result.items()))


def _month_starts(start: date, months: int) -> list[date]:
    first = start.replace(day=1)
    return [
        date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)
        for n in range(months)
    ]


def billing_forecast(legal_entity, start: date, months: int = 3) -> Forecast:
    """Per calendar month from `start`'s month, per currency: the scheduled items of active plans not yet
    billed nor cancelled (instalments, subscription and retainer periods by their billing date, milestones
    by their due date), and in the first month the time-and-materials estimate.

    Items dated before `start` and still unbilled are due now: they count in the first month. The
    time-and-materials estimate is today's unbilled WIP (see `unbilled_wip`), all expected in the first
    month; work not yet done is not forecast. Three aggregate queries, whatever the volume.
    """
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationFailed(
            f"Forecast 1 to {MAX_MONTHS} months.", fields={"months": [f"1 to {MAX_MONTHS}."]}
        )
    starts = _month_starts(start, months)
    last = starts[-1].replace(day=calendar.monthrange(starts[-1].year, starts[-1].month)[1])
    plan = [
        ForecastMonth(
            start=first if n else start,
            end=first.replace(day=calendar.monthrange(first.year, first.month)[1]),
        )
        for n, first in enumerate(starts)
    ]
    by_month = {first: month for first, month in zip(starts, plan, strict=True)}
    rows = (
        PlanItem.objects.filter(
            plan__legal_entity=legal_entity,
            plan__status=PlanStatus.ACTIVE,
            invoice_line__isnull=True,
            cancelled=False,
            date__lte=last,
        )
        .annotate(month=TruncMonth("date"))
        .values("month", "plan__currency")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for row in rows:
        month = by_month.get(row["month"], plan[0])
        currency = row["plan__currency"]
        month.scheduled[currency] = month.scheduled.get(currency, ZERO) + quantize(row["amount"], currency)
    wip = unbilled_wip(legal_entity, start, group_by="client")
    plan[0].time_and_materials = {row.currency: row.total for row in wip.totals if row.total}
    for month in plan:
        month.scheduled = dict(sorted(month.scheduled.items()))
    return Forecast(
        start=start,
        months=plan,
        time_and_materials_basis=(
            f"Unbilled WIP on {start.isoformat()} (approved billable time and expenses not yet invoiced), "
            "all expected in the first month; work not yet done is not forecast."
        ),
    )
