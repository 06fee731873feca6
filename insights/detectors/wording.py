"""How the detectors write numbers and dates into explanations and figures, one way for all of them."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

TWO_PLACES = Decimal("0.01")


def two(value: Decimal) -> Decimal:
    """`value` rounded half-up to two places, for showing (never for money posted anywhere)."""
    return Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def hours(value: Decimal) -> str:
    return f"{two(value)} h"


def day(value: date) -> str:
    """'Tue 3 Mar 2026'."""
    return f"{value:%a} {value.day} {value:%b %Y}"


def percent(value: Decimal) -> str:
    return f"{two(value)}%"
