"""KPI values on the fixture firm (tests/analytics/conftest.py `firm`), worked by hand for each group_by.

Sam: 28 h (24 billable) of 40 → 70.00% / 60.00%; standard 24 × 175 = 4,200.00; billed 24 × 150 = 3,600.00;
realization 85.71%; effective rate 3,600 / 28 = 128.57; cost 28 × 80 = 2,240.00; margin 1,360.00 = 37.78%.
Ana: 20 h billable of 40 → 50.00%; standard 20 × 100 = 2,000.00; nothing billed yet (no realization: her
work is WIP, not a write-down);
cost 20 × 40 = 800.00; margin −800.00 (no margin % without billing); WIP 20 × 90 = 1,800.00.
"""

from datetime import date
from decimal import Decimal

import pytest

from analytics.selectors import kpi_report
from analytics.services import refresh_rollups
from projects.models import Person, Practice, Project

D = Decimal
pytestmark = pytest.mark.django_db
WEEK = {"start": date(2026, 3, 2), "end": date(2026, 3, 6)}

SAM = {
    "hours": D("28.00"), "billable_hours": D("24.00"), "utilization": D("70.00"),
    "billable_utilization": D("60.00"), "standard_value": D("4200.00"), "billed_value": D("3600.00"),
    "realization": D("85.71"), "effective_rate": D("128.57"), "cost": D("2240.00"), "margin": D("1360.00"),
    "margin_percent": D("37.78"), "wip": D("0.00"),
}  # fmt: skip
ANA = {
    "hours": D("20.00"), "billable_hours": D("20.00"), "utilization": D("50.00"),
    "billable_utilization": D("50.00"), "standard_value": D("2000.00"), "billed_value": D("0.00"),
    "realization": None, "effective_rate": D("0.00"), "cost": D("800.00"), "margin": D("-800.00"),
    "margin_percent": None, "wip": D("1800.00"),
}  # fmt: skip
NO_CAPACITY = {"utilization": None, "billable_utilization": None, "available_hours": None}
# Both together: 48 h (44 billable) of 80; standard 6,200.00, of it billed 4,200.00 (Sam's) for 3,600.00
# (realization 85.71%); cost 3,040.00.
FIRM = {
    "hours": D("48.00"), "billable_hours": D("44.00"), "available_hours": D("80.00"),
    "utilization": D("60.00"), "billable_utilization": D("55.00"), "standard_value": D("6200.00"),
    "billed_value": D("3600.00"),
    "realization": D("85.71"), "effective_rate": D("75.00"), "cost": D("3040.00"), "margin": D("560.00"),
    "margin_percent": D("15.56"), "wip": D("1800.00"),
}  # fmt: skip


def rows_by_name(group_by: str) -> dict:
    report = kpi_report(group_by=group_by, **WEEK)
    return {row["name"]: row for row in report["rows"]}


def assert_figures(row: dict, expected: dict) -> None:
    assert {name: row[name] for name in expected} == expected


@pytest.fixture
def rolled_up(firm):
    refresh_rollups(actor=None)
    return firm


def test_by_person(rolled_up):
    rows = rows_by_name("person")
    assert set(rows) == {"Sam Senior", "Ana Analyst"}
    assert_figures(rows["Sam Senior"], SAM | {"available_hours": D("40.00"), "currency": "USD"})
    assert_figures(rows["Ana Analyst"], ANA | {"available_hours": D("40.00")})


def test_by_practice_is_the_persons_practice(rolled_up, people):
    # Sam's work on P1 counts for his ERP practice even though P1 is a Data project.
    Project.objects.filter(pk=rolled_up.p1.pk).update(practice=Practice.objects.create(name="Data"))
    Person.objects.filter(pk=people.sam.pk).update(practice=Practice.objects.create(name="ERP"))
    rows = rows_by_name("practice")
    assert set(rows) == {"ERP", "No practice"}
    assert_figures(rows["ERP"], SAM | {"available_hours": D("40.00")})
    assert_figures(rows["No practice"], ANA | {"available_hours": D("40.00")})


def test_by_client_and_project_have_no_capacity(rolled_up):
    clients = rows_by_name("client")
    assert_figures(clients["Globex Corp"], {**SAM, **NO_CAPACITY})
    assert_figures(clients["Initech"], {**ANA, **NO_CAPACITY})
    projects = rows_by_name("project")
    assert set(projects) == {
        "P1 Project of " + rolled_up.p1.contract.number,
        "P2 Project of " + rolled_up.p2.contract.number,
    }
    p2 = next(row for name, row in projects.items() if name.startswith("P2"))
    assert_figures(p2, {**ANA, **NO_CAPACITY})


def test_by_month_and_legal_entity(rolled_up):
    (march,) = kpi_report(group_by="month", **WEEK)["rows"]
    assert (march["key"], march["name"]) == ("2026-03-01", "Mar 2026")
    assert_figures(march, FIRM)
    (acme,) = kpi_report(group_by="legal_entity", **WEEK)["rows"]
    assert acme["name"] == "Acme Consulting Inc."
    assert_figures(acme, FIRM)


def test_totals_and_a_consultants_own_view(rolled_up, people):
    (usd,) = kpi_report(group_by="client", **WEEK)["totals"]
    assert_figures(usd, FIRM | {"currency": "USD"})
    own = kpi_report(group_by="client", person=people.ana, **WEEK)
    assert [row["name"] for row in own["rows"]] == ["Initech"]
    (total,) = own["totals"]
    assert (total["utilization"], total["wip"], total["deferred_revenue"], total["dso"]) == (
        D("50.00"),
        D("1800.00"),
        None,
        None,
    )
    assert own["win_rate"] is None


def test_days_to_invoice(rolled_up):
    # Sam's entries were approved on their own days (2, 3, 4 March) and invoiced on 1 April: 30, 29 and 28
    # days; the non-billable entry is never invoiced. Median 29, p90 30.
    (usd,) = kpi_report(group_by="month", **WEEK)["totals"]
    assert (usd["days_to_invoice"], usd["days_to_invoice_p90"]) == (D("29.00"), D("30.00"))
    # The firm's figure reads the per-day histogram the refresh keeps.
    from analytics.models import InvoiceLagRollup

    assert set(InvoiceLagRollup.objects.values_list("approved_on", "days_to_invoice", "entries")) == {
        (date(2026, 3, 2), 30, 1),
        (date(2026, 3, 3), 29, 1),
        (date(2026, 3, 4), 28, 1),
    }


def test_an_empty_range_has_no_rows_but_people_with_capacity(db, people):
    report = kpi_report(group_by="person", start=date(2026, 3, 2), end=date(2026, 3, 6))
    assert {row["name"]: row["utilization"] for row in report["rows"]} == {
        "Ana Analyst": D("0.00"),
        "Sam Senior": D("0.00"),
    }
    assert kpi_report(group_by="client", start=date(2026, 3, 2), end=date(2026, 3, 6))["rows"] == []


WORK = ("hours", "billable_hours", "standard_value", "billed_value", "cost", "wip")


@pytest.mark.parametrize(
    "start,end",
    [
        (date(2026, 3, 1), date(2026, 3, 31)),  # a whole month: the monthly rollup alone
        (date(2026, 2, 15), date(2026, 4, 10)),  # daily cells for the edges, March whole
        (date(2026, 3, 2), date(2026, 4, 30)),  # starts mid-March: March from days, April whole
    ],
)
def test_whole_months_read_the_monthly_rollup_and_agree_with_the_days(rolled_up, start, end):
    from analytics.models import DailyRollup, MonthlyRollup

    by_person = {row["name"]: row for row in kpi_report(group_by="person", start=start, end=end)["rows"]}
    assert {name: by_person["Sam Senior"][name] for name in WORK} == {name: SAM[name] for name in WORK}
    assert {name: by_person["Ana Analyst"][name] for name in WORK} == {name: ANA[name] for name in WORK}
    assert MonthlyRollup.objects.filter(month=date(2026, 3, 1)).count() == 2
    # Without the daily cells only what the monthly rollup holds is left: all of it for a whole March.
    DailyRollup.objects.all().delete()
    (usd,) = kpi_report(group_by="month", start=start, end=end)["totals"]
    whole_march = start.day == 1 or start < date(2026, 3, 1)
    assert usd["hours"] == (FIRM["hours"] if whole_march else D("0.00"))
