"""The dashboards in real Chromium: empty states on a new firm; with the analytics fixture firm, the
executive's KPI cards (formula on hover) and charts drawn by Chart.js with data (the six months' forecast
against capacity among them), the explorer's drill-down to the time behind a figure, a project's
burn-down, and a consultant's own utilization and time off."""

import re

import pytest
from playwright.sync_api import expect

from analytics.services import refresh_rollups
from core.roles import Role
from projects.models import Project
from tests.analytics.conftest import firm, standard_card  # noqa: F401 - the analytics fixture firm
from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm
    client_account,
    entity,
    finance,
    make_contract,
    people,
    roles,
    vat20,
)
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WEEK = "start=2026-03-02&end=2026-03-06"


def sign_in(page, user) -> None:
    # The dashboards read a few reports per page; on a busy shared machine 5 s is not always enough.
    page.set_default_timeout(20000)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def chart_points(page, name: str) -> int:
    """How many data points Chart.js drew on the canvas, over all its datasets."""
    return page.evaluate(
        """(name) => {
            const chart = Chart.getChart(document.querySelector(`canvas[data-chart="${name}"]`));
            return chart ? chart.data.datasets.reduce((n, set) => n + set.data.length, 0) : -1;
        }""",
        name,
    )


def test_empty_dashboards_say_why(page, make_user):
    sign_in(page, make_user(Role.EXECUTIVE))
    expect(page).to_have_url(re.compile(r"/dashboards/$"))
    expect(page.get_by_role("heading", name="Executive dashboard", level=1)).to_be_visible()
    expect(page.locator("[data-empty]")).to_contain_text("No legal entity and no approved time yet")
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name="Finance").click()
    for empty in ("Nothing to invoice ahead", "No unbilled work: every"):
        expect(page.locator("[data-empty]", has_text=empty)).to_be_visible()
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name="Project health").click()
    expect(page.locator("[data-empty]")).to_contain_text("No active project yet")


def test_executive_cards_charts_and_drill_down(page, make_user, firm):  # noqa: F811
    refresh_rollups(actor=None)
    sign_in(page, make_user(Role.EXECUTIVE))
    page.goto(f"/dashboards/?{WEEK}")
    card = page.locator('[data-kpi="utilization"]')
    expect(card).to_contain_text("60.00%")
    expect(card).to_have_attribute(
        "title", "Hours worked ÷ available hours (weekday capacity − holidays − time off)."
    )
    expect(page.locator('[data-kpi="wip"]')).to_contain_text("$1,800.00")
    charts = ("chart_revenue", "chart_bookings", "chart_practice", "chart_aging", "chart_forecast_revenue")
    for name in (*charts, "chart_forecast_capacity"):
        expect(page.locator(f'canvas[data-chart="{name}"]')).to_be_visible()
        assert chart_points(page, name) > 0, name

    # Sam and Ana, 40 h a week each, nothing assigned ahead: both roles under-committed, said in words.
    verdicts = page.locator("[data-verdicts]")
    expect(verdicts).to_contain_text("Senior: under-committed in")
    expect(verdicts).to_contain_text("Analyst: under-committed in")
    expect(page.locator('[data-table="capacity"] tbody tr')).to_have_count(2)

    page.get_by_role("link", name=re.compile("All KPIs per client")).click()
    table = page.locator('[data-table="kpis"]')
    expect(table).to_contain_text("Globex Corp")
    table.get_by_role("link", name="Initech").click()
    expect(page.get_by_role("heading", name="Time behind the figures", level=1)).to_be_visible()
    expect(page.locator('[data-table="rows"] tbody tr')).to_have_count(2)
    expect(page.locator('[data-table="rows"]')).to_contain_text("Ana Analyst")


def test_finance_and_a_consultants_own_page(page, make_user, firm, people):  # noqa: F811
    refresh_rollups(actor=None)
    sign_in(page, make_user(Role.FINANCE))
    page.goto("/dashboards/finance/?end=2026-03-31")
    expect(page.locator('[data-table="wip"]')).to_contain_text("Initech")
    expect(page.locator('[data-table="wip"]')).to_contain_text("$1,800.00")
    assert chart_points(page, "chart_dso") > 0
    assert chart_points(page, "chart_deferred") > 0

    ana = make_user(Role.CONSULTANT)
    people.ana.user = ana
    people.ana.save(update_fields=["user"])
    page.context.clear_cookies()
    sign_in(page, ana)
    page.goto("/dashboards/me/")
    expect(page.get_by_role("heading", name="My utilization", level=1)).to_be_visible()
    assert chart_points(page, "chart_me") == 24  # twelve weeks, utilization and billable
    expect(page.get_by_role("heading", name="Missing time")).to_be_visible()


def test_finance_forecast_rollforward_and_close_status(page, make_user, firm):  # noqa: F811
    """The three finance panels drawn: the forecast (Initech's 1,800.00 WIP billable now: one part over
    three months), the deferred revenue roll-forward's chart (three series over six months), and the close
    status leading to the open period's checklist; the flow pages share the tab bar."""
    refresh_rollups(actor=None)
    sign_in(page, make_user(Role.FINANCE))
    page.goto("/dashboards/finance/?start=2026-03-01&end=2026-03-31")
    forecast = page.locator('[data-panel="billing-forecast"]')
    expect(forecast.locator('[data-part="wip"]')).to_contain_text("$1,800.00")
    assert chart_points(page, "chart_billing_forecast_0") == 3
    expect(page.locator('[data-panel="rollforward"] [data-row="period"]').first).to_be_visible()
    assert chart_points(page, "chart_rollforward_0") == 18
    close = page.locator('[data-table="close-status"]')
    expect(close.locator("[data-item]")).to_have_count(6)
    close.get_by_role("link", name="Jan 2026").click()
    expect(page.get_by_role("heading", name=re.compile("^Month-end close 2026-01"), level=1)).to_be_visible()
    page.goto("/dashboards/finance/")
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name="Flow health").click()
    expect(page.get_by_role("heading", name="Flow health", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name="Finance").click()
    expect(page.get_by_role("heading", name="Finance dashboard", level=1)).to_be_visible()


def test_a_projects_health_and_burn_down(page, make_user, firm):  # noqa: F811
    Project.objects.filter(pk=firm.p1.pk).update(budget_hours=100, budget_amount=10000)
    refresh_rollups(actor=None)
    sign_in(page, make_user(Role.EXECUTIVE))
    page.goto("/dashboards/projects/")
    page.locator('[data-table="health"]').get_by_role("link", name="P1").click()
    expect(page.get_by_role("heading", name=re.compile("^P1 "), level=1)).to_be_visible()
    for name in ("chart_burn_hours", "chart_burn_fees"):
        expect(page.locator(f'canvas[data-chart="{name}"]')).to_be_visible()
        assert chart_points(page, name) > 0, name
    Project.objects.filter(pk=firm.p1.pk).update(budget_hours=None, budget_amount=None)
    page.reload()
    expect(page.locator("[data-empty]").first).to_contain_text("The project has no budget hours.")


def test_a_consultant_records_time_off(page, make_user, firm, people):  # noqa: F811
    ana = make_user(Role.CONSULTANT)
    people.ana.user = ana
    people.ana.save(update_fields=["user"])
    sign_in(page, ana)
    page.goto("/projects/time-off/")
    expect(page.locator("[data-empty]")).to_contain_text("You have no time off recorded.")
    form = page.locator('[data-form="time-off"]')
    form.get_by_label("Kind").select_option("training")
    form.get_by_label("Start").fill("2027-01-11")
    form.get_by_label("End").fill("2027-01-12")
    form.get_by_label("Hours off a day").fill("4")
    form.get_by_role("button", name="Record").click()
    expect(page.locator(".alert-success, [role=alert]").first).to_contain_text("Time off recorded")
    expect(page.locator('[data-table="time-off"]')).to_contain_text("2027-01-11")
    # The same days again overlap: refused on the form, nothing added.
    form.get_by_label("Start").fill("2027-01-12")
    form.get_by_label("End").fill("2027-01-13")
    form.get_by_role("button", name="Record").click()
    expect(page.locator('[data-form="time-off"]')).to_contain_text(
        "Overlaps training from 2027-01-11 to 2027-01-12."
    )
    expect(page.locator('[data-table="time-off"] tbody tr')).to_have_count(1)
