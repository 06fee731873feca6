"""The dashboards as pages: who may open which, figures from the fixture firm, empty states, CSV."""

from datetime import date

import pytest
from django.test import Client

from analytics.services import refresh_rollups
from core.roles import Role
from projects.models import Project

pytestmark = pytest.mark.django_db
WEEK = {"start": "2026-03-02", "end": "2026-03-06"}


@pytest.fixture
def browser(make_user):
    def sign_in(*roles):
        client = Client()
        user = make_user(*roles)
        client.force_login(user)
        client.user = user
        return client

    return sign_in


@pytest.mark.parametrize(
    ("url", "allowed", "refused"),
    [
        ("/dashboards/", Role.EXECUTIVE, Role.CONSULTANT),
        ("/dashboards/finance/", Role.FINANCE, Role.PROJECT_MANAGER),
        ("/dashboards/projects/", Role.PROJECT_MANAGER, Role.CONSULTANT),
        ("/dashboards/explore/", Role.FINANCE, Role.CONSULTANT),
        ("/dashboards/explore/rows/", Role.EXECUTIVE, Role.PROJECT_MANAGER),
        ("/dashboards/me/", Role.CONSULTANT, None),
    ],
)
def test_roles(db, browser, url, allowed, refused):
    assert browser(allowed).get(url).status_code == 200
    if refused:
        assert browser(refused).get(url).status_code == 403
    assert Client().get(url).status_code == 302


def test_empty_states(db, browser):
    executive = browser(Role.EXECUTIVE)
    assert b"No legal entity and no approved time yet" in executive.get("/dashboards/").content
    assert b"No unbilled work" in executive.get("/dashboards/finance/").content
    assert b"No active project yet" in executive.get("/dashboards/projects/").content
    assert b"have not been built yet" in executive.get("/dashboards/").content
    assert b"has no person record" in browser(Role.CONSULTANT).get("/dashboards/me/").content


def test_executive_figures_and_charts(firm, browser):
    refresh_rollups(actor=None)
    page = browser(Role.EXECUTIVE).get("/dashboards/", WEEK).content.decode()
    assert 'data-kpi="utilization"' in page and "60.00%" in page  # 48 h of 80
    assert 'title="Hours worked ÷ available hours (weekday capacity − holidays − time off)."' in page
    for chart in ("chart_revenue", "chart_bookings", "chart_practice", "chart_aging"):
        assert f'data-chart="{chart}"' in page and f'id="{chart}"' in page


def test_explorer_drills_down_to_rows_and_downloads(firm, browser):
    refresh_rollups(actor=None)
    finance = browser(Role.FINANCE)
    page = finance.get("/dashboards/explore/", {**WEEK, "group_by": "client"}).content.decode()
    assert f"client={firm.initech.pk}" in page and "Initech" in page
    rows = finance.get("/dashboards/explore/rows/", {**WEEK, "client": firm.initech.pk}).content.decode()
    assert rows.count("Ana Analyst") == 2  # her two days on P2
    csv = finance.get("/dashboards/explore/", {**WEEK, "group_by": "person", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert "Sam Senior,USD,28.00" in csv.content.decode()


def test_bad_period_shows_the_error(db, browser):
    page = browser(Role.FINANCE).get("/dashboards/explore/", {"start": "2026-03-06", "end": "2026-03-01"})
    assert b"The period ends before it starts." in page.content


def test_project_health_reasons(firm, browser, people):
    Project.objects.filter(pk=firm.p2.pk).update(status="active", budget_hours=20, start=date(2026, 1, 1))
    refresh_rollups(actor=None)
    page = browser(Role.EXECUTIVE).get("/dashboards/projects/", {"end": "2026-06-30"}).content.decode()
    # 1,800.00 of Ana's March work still unbilled on 30 June: the oldest (2 March) 120 days old.
    assert "$1,800.00 unbilled, the oldest 120 days old" in page
