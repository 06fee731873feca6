"""The issue's worked examples for allocation, ratable and percent complete, to the cent."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from revrec.services.measures import allocate, percent_complete_to_date, ratable

D = Decimal


def test_allocation_by_relative_standalone_price():
    assert allocate(D("90000.00"), [D("40000"), D("35000"), D("25000")], "USD") == [
        D("36000.00"),
        D("31500.00"),
        D("22500.00"),
    ]
    # Shares that do not divide evenly still sum to the price; the last takes the remainder.
    shares = allocate(D("100000.00"), [D("1"), D("1"), D("1")], "USD")
    assert shares == [D("33333.33"), D("33333.33"), D("33333.34")]
    with pytest.raises(ValidationFailed) as zero:
        allocate(D("100.00"), [D("0"), D("0")], "USD")
    assert zero.value.code == "ssp_zero"


def test_ratable_by_day_over_months():
    assert ratable(D("9000.00"), date(2026, 1, 16), date(2026, 4, 15), "USD") == [
        (date(2026, 1, 16), date(2026, 1, 31), D("1600.00")),
        (date(2026, 2, 1), date(2026, 2, 28), D("2800.00")),
        (date(2026, 3, 1), date(2026, 3, 31), D("3100.00")),
        (date(2026, 4, 1), date(2026, 4, 15), D("1500.00")),
    ]


def test_percent_complete_to_date_with_revised_estimates_and_price():
    # Month 1: 100,000 of 400,000 → 125,000.00 of 500,000.00.
    assert percent_complete_to_date(D("500000.00"), D("100000"), D("400000"), "USD") == D("125000.00")
    # Month 2: 220,000 of a revised 440,000 → 250,000.00 to date.
    assert percent_complete_to_date(D("500000.00"), D("220000"), D("440000"), "USD") == D("250000.00")
    # Month 3: price 560,000.00, 330,000 of 440,000 → 420,000.00 to date.
    assert percent_complete_to_date(D("560000.00"), D("330000"), D("440000"), "USD") == D("420000.00")
    # No rounding of the ratio: 1/3 done of 100.00 is 33.33, not 33.00 from a rounded 33%.
    assert percent_complete_to_date(D("100.00"), D("1"), D("3"), "USD") == D("33.33")
    with pytest.raises(ValidationFailed) as zero:
        percent_complete_to_date(D("100.00"), D("1"), D("0"), "USD")
    assert zero.value.code == "estimate_zero"
