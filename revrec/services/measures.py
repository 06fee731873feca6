"""The arithmetic of recognition: allocation by relative standalone price, ratable by day, percent
complete. Rounding happens once per piece, half-up; the last piece takes the remainder."""

import calendar
from datetime import date, timedelta
from decimal import Context, Decimal

from core.errors import ValidationFailed
from core.money import quantize, split_by_weights

ZERO = Decimal(0)
EXACT = Context(prec=60)


def allocate(price: Decimal, standalone_prices: list[Decimal], currency: str) -> list[Decimal]:
    """Split the transaction price by relative SSP: 90,000.00 over 40,000 / 35,000 / 25,000 →
    36,000.00 / 31,500.00 / 22,500.00 (each share half-up, the last one the remainder)."""
    if not standalone_prices:
        return []
    if sum(standalone_prices, ZERO) <= 0:
        raise ValidationFailed(
            "The standalone selling prices add up to zero; set at least one to allocate the price.",
            code="ssp_zero",
            fields={"standalone_price": ["The prices sum to zero."]},
        )
    return split_by_weights(quantize(price, currency), standalone_prices, currency)


def months(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar-month slices of [start, end], dates inclusive."""
    result, first = [], start
    while first <= end:
        last = min(date(first.year, first.month, calendar.monthrange(first.year, first.month)[1]), end)
        result.append((first, last))
        first = last + timedelta(days=1)
    return result


def ratable(amount: Decimal, start: date, end: date, currency: str) -> list[tuple[date, date, Decimal]]:
    """Straight-line by day per month: 9,000.00 over 2026-01-16..2026-04-15 (16 + 28 + 31 + 15 = 90 days)
    → 1,600.00 / 2,800.00 / 3,100.00 / 1,500.00."""
    slices = months(start, end)
    pieces = split_by_weights(
        quantize(amount, currency), [(last - first).days + 1 for first, last in slices], currency
    )
    return [(first, last, piece) for (first, last), piece in zip(slices, pieces, strict=True)]


def ratable_to_date(amount: Decimal, start: date, end: date, as_of: date, currency: str) -> Decimal:
    return sum((piece for _, last, piece in ratable(amount, start, end, currency) if last <= as_of), ZERO)


def percent_complete_to_date(price: Decimal, done: Decimal, estimate: Decimal, currency: str) -> Decimal:
    """price × done ÷ estimate with no rounding of the ratio, then half-up; never above the price."""
    if estimate is None or estimate <= 0:
        raise ValidationFailed(
            "Percent complete needs an estimate above zero.",
            code="estimate_zero",
            fields={"estimate": ["Must be more than zero."]},
        )
    value = EXACT.divide(EXACT.multiply(price, done), estimate)
    return min(quantize(value, currency), quantize(price, currency))
