"""Capacity planning counts available hours: Friday 20 March 2026 is a holiday of the firm's entity and
Chloe is off Monday 23 and Tuesday 24 March (tests/projects/conftest.py: Priya, senior; Chloe and Dan,
consultants; 40 h a week each)."""

from datetime import date
from decimal import Decimal

import pytest

from projects.models import Holiday, TimeOff
from projects.reports.capacity import bench, capacity_vs_demand

from .conftest import MONDAY, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def leave(firm):
    Holiday.objects.create(legal_entity=firm.entity, date=date(2026, 3, 20), name="Founders' day")
    TimeOff.objects.create(person=firm.chloe, start=date(2026, 3, 23), end=date(2026, 3, 24))
    return firm


def test_capacity_by_role_less_holidays_and_time_off(leave):
    report = capacity_vs_demand(start=MONDAY, weeks=2)
    capacity = {row.name: [week.capacity for week in row.weeks] for row in report.rows}
    # Week 1: 32 h each after the holiday; week 2: Chloe 40 − 16 = 24, Dan 40.
    assert capacity["Consultant"] == [D("64.00"), D("64.00")]
    assert capacity["Senior consultant"] == [D("32.00"), D("40.00")]
    assert [week.capacity for week in report.total.weeks] == [D("96.00"), D("104.00")]


def test_the_bench_measures_against_available_hours(leave):
    dan = next(row for row in bench(today=TODAY) if row.person == leave.dan)
    # Four weeks from 16 March: 160 h less the holiday's 8.
    assert (dan.capacity, dan.assigned) == (D("152.00"), D("0.00"))
