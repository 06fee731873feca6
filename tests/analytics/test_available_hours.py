"""Available hours less the legal entity's holidays and recorded time off, worked by hand on the fixture firm
(tests/analytics/conftest.py `firm`: the week of Monday 2 March 2026, Sam 28 h (24 billable), Ana 20 h).

Acme's holidays: Wednesday 4 March (a weekday: nobody works) and Saturday 7 March (a weekend: nothing to
take). Sam (40 h, 8 a day) is off Thursday 5 – Monday 9 March at 4 h a day; Ana is off Tuesday 3 and
Wednesday 4 March at 10 h a day.
- Sam: 5 weekdays − the holiday = 4 days × 8 = 32 h, less 4 h on Thursday and Friday = 24 h.
- Ana: 32 h, less Tuesday's 10 h capped at the day's 8 h, and nothing on the holiday = 24 h.
"""

from datetime import date
from decimal import Decimal

import pytest

from analytics.dashboards import consultant
from analytics.selectors import kpi_report
from analytics.services import refresh_rollups
from projects.models import Holiday, Person, Practice, TimeOff
from projects.selectors.availability import availability

D = Decimal
pytestmark = pytest.mark.django_db
WEEK = {"start": date(2026, 3, 2), "end": date(2026, 3, 6)}


@pytest.fixture
def leave(firm, entity, people):
    Holiday.objects.create(legal_entity=entity, date=date(2026, 3, 4), name="Founders' day")
    Holiday.objects.create(legal_entity=entity, date=date(2026, 3, 7), name="A Saturday holiday")
    TimeOff.objects.create(
        person=people.sam, start=date(2026, 3, 5), end=date(2026, 3, 9), hours_per_day=D("4")
    )
    TimeOff.objects.create(
        person=people.ana, start=date(2026, 3, 3), end=date(2026, 3, 4), hours_per_day=D("10")
    )
    refresh_rollups(actor=None)
    return firm


def figures(row, *names):
    return tuple(row[name] for name in names)


def test_by_person(leave, people):
    rows = {row["name"]: row for row in kpi_report(group_by="person", **WEEK)["rows"]}
    names = ("available_hours", "utilization", "billable_utilization")
    # Sam 28 / 24 = 116.67%, 24 / 24 = 100.00%; Ana 20 / 24 = 83.33%.
    assert figures(rows["Sam Senior"], *names) == (D("24.00"), D("116.67"), D("100.00"))
    assert figures(rows["Ana Analyst"], *names) == (D("24.00"), D("83.33"), D("83.33"))


def test_by_month_and_the_totals(leave):
    # The firm: 48 h (44 billable) of 48 available.
    (march,) = kpi_report(group_by="month", **WEEK)["rows"]
    assert figures(march, "available_hours", "utilization", "billable_utilization") == (
        D("48.00"),
        D("100.00"),
        D("91.67"),
    )
    (usd,) = kpi_report(group_by="client", **WEEK)["totals"]
    assert figures(usd, "available_hours", "utilization") == (D("48.00"), D("100.00"))


def test_a_range_splits_time_off_and_holidays_by_month(leave, people):
    # 23 Feb – 13 Mar: February's 5 weekdays × 8 = 40 h each; in March Sam has 10 weekdays − 1 holiday =
    # 9 × 8 = 72 h less 4 h on 5, 6 and 9 March = 60 h, Ana 72 h less 8 h on the 3rd = 64 h.
    available = availability(date(2026, 2, 23), date(2026, 3, 13))
    assert available.hours(people.sam.pk, date(2026, 2, 23), date(2026, 2, 28)) == D(40)
    assert available.hours(people.sam.pk, date(2026, 3, 1), date(2026, 3, 13)) == D(60)
    assert available.hours(people.ana.pk, date(2026, 3, 1), date(2026, 3, 13)) == D(64)
    rows = kpi_report(group_by="month", start=date(2026, 2, 23), end=date(2026, 3, 13))["rows"]
    assert [(row["name"], row["available_hours"]) for row in rows] == [("Mar 2026", D("124.00"))]


def test_part_time_capacity_caps_the_day_off(leave, people):
    # 30 h a week = 6 h a day: a 4 h day off takes 4, a 10 h one only the day's 6.
    Person.objects.filter(pk=people.ana.pk).update(capacity_hours_per_week=D("30"))
    available = availability(**WEEK)
    # 4 working days × 6 = 24, less 6 on Tuesday = 18.
    assert available.hours(people.ana.pk, *WEEK.values()) == D(18)


def test_by_practice_is_the_persons_practice(leave, people):
    Person.objects.filter(pk=people.sam.pk).update(practice=Practice.objects.create(name="ERP"))
    rows = {row["name"]: row for row in kpi_report(group_by="practice", **WEEK)["rows"]}
    assert set(rows) == {"ERP", "No practice"}
    assert figures(rows["ERP"], "hours", "available_hours", "utilization", "billed_value") == (
        D("28.00"),
        D("24.00"),
        D("116.67"),
        D("3600.00"),
    )
    assert figures(rows["No practice"], "hours", "available_hours", "utilization", "wip") == (
        D("20.00"),
        D("24.00"),
        D("83.33"),
        D("1800.00"),
    )


def test_the_consultants_page_counts_holidays_and_time_off(leave, people):
    # Friday 6 March: the week's 24 h available to Sam; March so far (2–6) the same 24 h.
    data = consultant(people.sam, date(2026, 3, 6))
    assert (data["week_capacity"], data["month_capacity"]) == (D(24), D("24.00"))
    this_week = data["trend"][-1]
    assert (this_week["utilization"], this_week["billable_utilization"]) == (D("116.67"), D("100.00"))
