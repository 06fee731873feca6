"""The revenue waterfall: revenue recognised in each of the 12 months up to a date, and revenue scheduled
for those months and the 12 after, per client or per service line, one row per currency."""

from datetime import date
from decimal import Decimal

from django.db.models import DateField, Sum
from django.db.models.functions import TruncMonth

from core.errors import ValidationFailed
from core.money import quantize
from crm.services.terms import add_months
from ledger.choices import AccountRole
from revrec.choices import LineStatus
from revrec.models import RevenueScheduleLine
from revrec.reports.common import month_end, month_start, months_between, recognized_lines

ZERO = Decimal(0)
MONTHS_BACK = 12
MONTHS_FORWARD = 12
# group_by → the obligation column a row is keyed by, and the column naming it.
GROUPS = {
    "client": ("obligation__account_id", "obligation__account__name"),
    "service": ("obligation__revenue_role", None),
}


def _service_name(role: str) -> str:
    return AccountRole(role).label if role in AccountRole.values else role


def _cells(months: list[date]) -> dict[date, dict]:
    return {month: {"month": month, "recognized": ZERO, "scheduled": ZERO} for month in months}


def _finish(cells: dict[date, dict], currency: str) -> tuple[list[dict], Decimal, Decimal]:
    rows = [
        {
            **cell,
            "recognized": quantize(cell["recognized"], currency),
            "scheduled": quantize(cell["scheduled"], currency),
        }
        for cell in cells.values()
    ]
    recognized = sum((cell["recognized"] for cell in rows), ZERO)
    scheduled = sum((cell["scheduled"] for cell in rows), ZERO)
    return rows, recognized, scheduled


def revenue_waterfall(legal_entity, as_of: date, group_by: str = "client") -> dict:
    """Per client (or service line: the revenue account the obligation recognises into) and currency, by
    month from 11 months before `as_of`'s month to 12 months after it: `recognized` revenue (booked in
    the month: the run's period end) and `scheduled` revenue (planned schedule lines of the month).

    Months before `as_of`'s may still show scheduled revenue: planned lines no run has recognised yet.
    Percent-complete and as-delivered obligations have no schedule; they show recognised revenue only.
    Two aggregate queries, however many lines.
    """
    if group_by not in GROUPS:
        raise ValidationFailed(
            f"Group the waterfall by one of {', '.join(GROUPS)}.",
            fields={"group_by": [f"Not one of {', '.join(GROUPS)}."]},
        )
    months = months_between(add_months(month_start(as_of), 1 - MONTHS_BACK), MONTHS_BACK + MONTHS_FORWARD)
    last = month_end(months[-1])
    key, name = GROUPS[group_by]
    columns = [key, "obligation__currency", *([name] if name else [])]
    found = []
    recognized = (
        recognized_lines(obligation__legal_entity=legal_entity)
        .filter(booked_on__range=(months[0], last))
        .annotate(month=TruncMonth("booked_on", output_field=DateField()))
        .order_by()
        .values(*columns, "month")
        .annotate(total=Sum("amount"))
    )
    found += [("recognized", row) for row in recognized]
    scheduled = (
        RevenueScheduleLine.objects.filter(
            obligation__legal_entity=legal_entity,
            status=LineStatus.PLANNED,
            period_start__range=(months[0], last),
        )
        .annotate(month=TruncMonth("period_start", output_field=DateField()))
        .order_by()
        .values(*columns, "month")
        .annotate(total=Sum("amount"))
    )
    found += [("scheduled", row) for row in scheduled]

    groups: dict[tuple, dict] = {}
    totals: dict[str, dict] = {}
    for kind, row in found:
        currency = row["obligation__currency"]
        group_key = (row[key], currency)
        if group_key not in groups:
            groups[group_key] = {
                "client": row[key] if group_by == "client" else None,
                "service": row[key] if group_by == "service" else None,
                "name": row[name] if name else _service_name(row[key]),
                "currency": currency,
                "cells": _cells(months),
            }
        month = row["month"]
        groups[group_key]["cells"][month][kind] += row["total"] or ZERO
        totals.setdefault(currency, _cells(months))[month][kind] += row["total"] or ZERO

    rows = []
    for group in sorted(groups.values(), key=lambda g: (str(g["name"]).lower(), g["currency"])):
        cells, recognized_total, scheduled_total = _finish(group.pop("cells"), group["currency"])
        rows.append({**group, "months": cells, "recognized": recognized_total, "scheduled": scheduled_total})
    total_rows = []
    for currency in sorted(totals):
        cells, recognized_total, scheduled_total = _finish(totals[currency], currency)
        total_rows.append(
            {
                "currency": currency,
                "months": cells,
                "recognized": recognized_total,
                "scheduled": scheduled_total,
            }
        )
    return {
        "legal_entity_id": legal_entity.pk,
        "as_of": as_of,
        "group_by": group_by,
        "months": months,
        "rows": rows,
        "totals": total_rows,
    }
