"""Timesheet anomalies: each rule fires on a constructed week with its figures and words, and stays quiet on
a clean one. The projects tests' firm: Chloe (consultant) assigned to GLX-1, Priya its manager."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from insights.detectors import timesheets
from projects.choices import EntryStatus
from projects.models import Holiday, TimeEntry
from projects.services.projects import create_project
from tests.analytics.conftest import work
from tests.projects import conftest as projects

# The projects tests' firm and what it is built from.
usd_entity, client_account, roles, make_person, firm = (
    projects.usd_entity, projects.client_account, projects.roles, projects.make_person, projects.firm,
)  # fmt: skip

D = Decimal
AS_OF = date(2026, 3, 27)  # a Friday


def log(person, project, day: date, hours, status=EntryStatus.APPROVED):
    entry = work(person, project, day, hours, rate="150", cost="60")
    if status != EntryStatus.APPROVED:
        TimeEntry.objects.filter(pk=entry.pk).update(status=status)
    return entry


def weekdays(first: date, last: date):
    day = first
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def findings(rule: str) -> list:
    return [finding for finding in timesheets.detect(AS_OF) if finding.rule == rule]


def test_a_day_far_above_the_persons_norm_is_flagged_with_its_robust_z_score(firm):
    # Twelve 7.50 h days (median 7.50, MAD 0.00, floored at 0.50), then 14.00 h on Thursday 26 March.
    for day in list(weekdays(date(2026, 3, 9), date(2026, 3, 25)))[:12]:
        log(firm.chloe, firm.project, day, "7.5")
    log(firm.chloe, firm.project, date(2026, 3, 26), "14")

    [found] = findings("day_above_norm")

    assert found.fingerprint == f"timesheet_anomaly:day_above_norm:person:{firm.chloe.pk}:2026-03-26"
    assert found.subject_type == "projects.person"
    assert found.owner_id == firm.chloe.user_id
    assert found.audience == ("project_manager", "resource_manager")
    assert found.explanation == (
        "Chloe Novak logged 14.00 h on Thu 26 Mar 2026. Over their 13 days worked in the 90 days to "
        "Fri 27 Mar 2026 the median day is 7.50 h and the median absolute deviation 0.00 h, floored at "
        "0.50 h: a robust z-score of (14.00 − 7.50) ÷ (1.4826 × 0.50) = 8.77, above the 3.5 threshold."
    )
    assert found.figures["z_score"] == "8.77"
    assert found.figures["days_in_history"] == 13


def test_a_long_day_within_the_persons_spread_is_not_flagged(firm):
    # Days of 6 to 9 h (median 7.50, MAD 1.00): 10.00 h is z = 2.5 / 1.4826 = 1.69.
    for index, day in enumerate(list(weekdays(date(2026, 3, 2), date(2026, 3, 25)))[:12]):
        log(firm.chloe, firm.project, day, ("6", "7", "8", "9")[index % 4])
    log(firm.chloe, firm.project, date(2026, 3, 26), "10")
    # Too short a history gives no norm at all.
    for day in weekdays(date(2026, 3, 23), date(2026, 3, 25)):
        log(firm.dan, firm.project, day, "2")
    log(firm.dan, firm.project, date(2026, 3, 26), "14")

    assert findings("day_above_norm") == []


def test_weekend_and_holiday_work(firm):
    Holiday.objects.create(legal_entity=firm.entity, date=date(2026, 3, 17), name="St Patrick's Day")
    log(firm.chloe, firm.project, date(2026, 3, 17), "6")
    log(firm.chloe, firm.project, date(2026, 3, 21), "3")
    log(firm.chloe, firm.project, date(2026, 3, 22), "2.5")
    log(firm.chloe, firm.project, date(2026, 3, 23), "8")
    # Draft time does not count yet.
    log(firm.chloe, firm.project, date(2026, 3, 15), "4", status=EntryStatus.DRAFT)

    [holiday] = findings("holiday_work")
    [weekend] = findings("weekend_work")

    assert holiday.explanation == (
        "Chloe Novak logged 6.00 h on Tue 17 Mar 2026, St Patrick's Day, a public holiday of their legal "
        "entity."
    )
    assert weekend.fingerprint == f"timesheet_anomaly:weekend_work:person:{firm.chloe.pk}:2026-03-16"
    assert weekend.explanation == (
        "Chloe Novak logged 3.00 h on Sat 21 Mar 2026 and 2.50 h on Sun 22 Mar 2026: 5.50 h at the weekend."
    )
    assert weekend.figures["hours"] == "5.50"


def test_identical_weeks_for_four_weeks_on_a_project(firm):
    # Mon–Thu 8 h and Friday 6 h on GLX-1 for the four complete weeks 23 Feb – 22 Mar.
    for day in weekdays(date(2026, 2, 23), date(2026, 3, 20)):
        log(firm.chloe, firm.project, day, "6" if day.weekday() == 4 else "8")
    # Dan's weeks differ in their third week.
    for day in weekdays(date(2026, 2, 23), date(2026, 3, 20)):
        log(firm.dan, firm.project, day, "7" if day == date(2026, 3, 11) else "8")

    [found] = findings("identical_weeks")

    assert found.subject_id == firm.chloe.pk
    assert found.fingerprint == (
        f"timesheet_anomaly:identical_weeks:person:{firm.chloe.pk}:project:{firm.project.pk}:2026-02-23"
    )
    assert found.explanation == (
        "Chloe Novak logged exactly the same hours on GLX-1 Globex ERP rollout in each of 4 consecutive "
        "weeks, from the week of Mon 23 Feb 2026 to the week of Mon 16 Mar 2026: Mon 8.00, Tue 8.00, "
        "Wed 8.00, Thu 8.00, Fri 6.00 (38.00 h a week). Time copied forward rather than recorded looks "
        "like this."
    )
    assert found.url == f"/projects/portfolio/{firm.project.pk}/"
    assert found.subject_label == "Chloe Novak on GLX-1"


def test_time_after_the_project_end_date(firm):
    ended = create_project(
        actor=None,
        account=firm.client,
        legal_entity=firm.entity,
        code="GLX-0",
        name="Globex discovery",
        currency="USD",
        start=date(2026, 1, 5),
        end=date(2026, 3, 13),
        manager=firm.pm,
        allow_any_person=True,
        tasks=[{"name": "Discovery"}],
    )
    log(firm.chloe, ended, date(2026, 3, 13), "8")
    log(firm.chloe, ended, date(2026, 3, 16), "4")
    log(firm.chloe, ended, date(2026, 3, 18), "2.25")

    [found] = findings("after_project_end")

    assert found.subject_type == "projects.project"
    assert found.owner_id == firm.pm.user_id
    assert found.explanation == (
        "Chloe Novak logged 6.25 h on 2 day(s) from Mon 16 Mar 2026 to Wed 18 Mar 2026 on GLX-0 Globex "
        "discovery, which ended on Fri 13 Mar 2026."
    )


def test_round_number_streak_of_ten_days(firm):
    for day in list(weekdays(date(2026, 3, 12), date(2026, 3, 26)))[:10]:
        log(firm.chloe, firm.project, day, "8")
    # Dan's ninth day is 8.25 h: no streak of ten.
    for index, day in enumerate(list(weekdays(date(2026, 3, 12), date(2026, 3, 26)))[:10]):
        log(firm.dan, firm.project, day, "8.25" if index == 8 else "8")

    [found] = findings("round_number_streak")

    assert found.subject_id == firm.chloe.pk
    assert found.explanation == (
        "Each of Chloe Novak's 10 consecutive days worked from Thu 12 Mar 2026 to Wed 25 Mar 2026 totals "
        "exactly 8.00 h. Recorded time rarely comes out this round for 10 days or more; it may be estimated."
    )


@pytest.mark.django_db
def test_no_time_no_findings():
    assert list(timesheets.detect(AS_OF)) == []
