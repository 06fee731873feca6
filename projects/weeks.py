"""Calendar arithmetic of timesheets and planning: Monday-start weeks, working days, spreading hours."""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

WEEK = timedelta(days=7)


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def week_days(monday: date) -> list[date]:
    return [monday + timedelta(days=offset) for offset in range(7)]


def weeks_from(monday: date, count: int) -> list[date]:
    return [monday + WEEK * n for n in range(count)]


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from `start` to `end`, both included (0 when end < start)."""
    if end < start:
        return 0
    days = (end - start).days + 1
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    first = start.weekday()
    count += sum(1 for offset in range(rest) if (first + offset) % 7 < 5)
    return count


def spread_over_weeks(hours: Decimal, start: date, end: date, mondays: Iterable[date]) -> dict[date, Decimal]:
    """The share of `hours`, planned evenly over the working days from `start` to `end`, that falls in each
    week of `mondays` (exact fractions, not rounded; weeks outside the window get 0).

    A window without working days (a weekend) spreads over its calendar days instead.
    """
    total_days = working_days(start, end)
    count = working_days
    if total_days == 0:
        total_days = (end - start).days + 1

        def count(a, b):
            return max((b - a).days + 1, 0)

    shares = {}
    for monday in mondays:
        overlap_start = max(start, monday)
        overlap_end = min(end, monday + timedelta(days=6))
        days = count(overlap_start, overlap_end)
        shares[monday] = hours * days / total_days if days > 0 else Decimal(0)
    return shares
