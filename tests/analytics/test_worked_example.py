"""The issue's worked example, first on the KPI arithmetic alone, then end to end: approved time, a billing
run, a released invoice, the rollups, and the `kpis/` figures for the person and week."""

from datetime import date
from decimal import Decimal

import pytest

from analytics.kpis import Measures, present
from analytics.selectors import kpi_report
from analytics.services import refresh_rollups
from tests.analytics.conftest import bill, work
from tests.billing.conftest import tm_line

D = Decimal


def test_the_worked_example_arithmetic():
    # Capacity 40 h; 32 h billable + 4 h non-billable; standard rate 175.00; billed 5,200.00; cost 80.00/h.
    week = Measures(
        currency="USD",
        hours=D("36"),
        billable_hours=D("32"),
        available_hours=D("40"),
        standard_value=D("32") * D("175.00"),
        billed_value=D("5200.00"),
        time_cost=D("36") * D("80.00"),
    )
    shown = week.presented()
    assert shown["utilization"] == D("90.00")
    assert shown["billable_utilization"] == D("80.00")
    assert shown["realization"] == D("92.86")  # 5,200 / 5,600 = 0.928571…
    assert shown["effective_rate"] == D("144.44")  # 5,200 / 36 = 144.444…
    assert shown["cost"] == D("2880.00")
    assert shown["margin"] == D("2320.00")
    assert shown["margin_percent"] == D("44.62")  # 2,320 / 5,200 = 0.446153…


def test_percentages_round_half_up_only_when_shown():
    assert present(D("44.615"), "percent") == D("44.62")
    assert present(D("-0.005"), "percent") == D("-0.01")
    assert present(None, "percent") is None


@pytest.mark.django_db
def test_the_worked_example_end_to_end(finance, entity, roles, people, make_contract, standard_card):
    # Sam bills 162.50 an hour on this contract: 32 h = 5,200.00, against 175.00 on the standard card.
    _, project = make_contract([tm_line(roles.senior, "162.50")])
    for day in range(2, 6):  # Monday 2 to Thursday 5 March 2026, 8 h billable a day
        work(people.sam, project, date(2026, 3, day), "8", rate="162.50", cost="80")
    work(people.sam, project, date(2026, 3, 6), "4", rate="0", cost="80", billable=False)
    bill(finance, entity, date(2026, 3, 31), date(2026, 4, 1))
    refresh_rollups(actor=finance)

    report = kpi_report(start=date(2026, 3, 2), end=date(2026, 3, 6), group_by="person")
    sam = next(row for row in report["rows"] if row["key"] == people.sam.pk)
    assert (sam["hours"], sam["billable_hours"], sam["available_hours"]) == (
        D("36.00"),
        D("32.00"),
        D("40.00"),
    )
    assert sam["utilization"] == D("90.00")
    assert sam["billable_utilization"] == D("80.00")
    assert sam["standard_value"] == D("5600.00")
    assert sam["billed_value"] == D("5200.00")
    assert sam["realization"] == D("92.86")
    assert sam["effective_rate"] == D("144.44")
    assert sam["cost"] == D("2880.00")
    assert sam["margin"] == D("2320.00")
    assert sam["margin_percent"] == D("44.62")
    # Ana logged nothing: she is there at 0%, not missing.
    ana = next(row for row in report["rows"] if row["key"] == people.ana.pk)
    assert (ana["utilization"], ana["available_hours"], ana["realization"]) == (D("0.00"), D("40.00"), None)
