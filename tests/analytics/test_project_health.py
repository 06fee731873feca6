"""Project health: overdue milestones among the reasons, and the burn-down series worked by hand on the
fixture firm (tests/analytics/conftest.py `firm`): P1 carries Sam's 28 h of the week of 2 March 2026,
24 of them billed for 3,600.00."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from analytics.health import burn_down, project_health
from analytics.services import refresh_rollups
from core.roles import Role
from projects.choices import MilestoneStatus
from projects.models import Milestone, Project

D = Decimal
pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 18)


@pytest.fixture
def p1(firm):
    # Four weeks, Monday 2 to Sunday 29 March: 100 h and 10,000.00 of fees budgeted.
    Project.objects.filter(pk=firm.p1.pk).update(
        start=date(2026, 3, 2), end=date(2026, 3, 29), budget_hours=D("100"), budget_amount=D("10000")
    )
    refresh_rollups(actor=None)
    return Project.objects.get(pk=firm.p1.pk)


def milestone(project, name, due, status=MilestoneStatus.PLANNED):
    return Milestone.objects.create(project=project, name=name, amount=D("1000"), due=due, status=status)


def health_of(project):
    rows = project_health(start=project.start, end=TODAY, manager=None, today=TODAY)
    return next(row for row in rows if row["project"].pk == project.pk)


def test_an_overdue_milestone_is_amber_then_red(p1):
    milestone(p1, "Design sign-off", date(2026, 3, 10))
    milestone(p1, "Done early", date(2026, 3, 1), MilestoneStatus.COMPLETED)
    milestone(p1, "Accepted", date(2026, 3, 2), MilestoneStatus.ACCEPTED)
    milestone(p1, "Due today", TODAY)
    row = health_of(p1)
    assert (row["status"], row["reasons"], row["overdue_milestones"]) == (
        "amber",
        ["Milestone “Design sign-off” due 2026-03-10, 8 days ago, not completed"],
        1,
    )
    milestone(p1, "Go-live", date(2026, 2, 1))
    row = health_of(p1)
    assert (row["status"], row["reasons"]) == (
        "red",
        ["2 milestones overdue, the oldest “Go-live” due 2026-02-01, 45 days ago, not completed"],
    )


def test_burn_down_against_the_ideal_line(p1):
    burn = burn_down(p1, today=TODAY)
    assert burn["labels"] == ["2026-03-08", "2026-03-15", "2026-03-22", "2026-03-29"]
    # 28 h in the first week, none since; nothing plotted for the week after today's.
    assert burn["hours"] == ["72.00", "72.00", "72.00", None]
    assert burn["hours_ideal"] == ["75.00", "50.00", "25.00", "0.00"]
    # Fees earned: 3,600.00 billed + no WIP.
    assert burn["fees"] == ["6400.00", "6400.00", "6400.00", None]
    assert burn["fees_ideal"] == ["7500.00", "5000.00", "2500.00", "0.00"]


def test_no_budget_no_series(p1):
    Project.objects.filter(pk=p1.pk).update(budget_hours=None, budget_amount=None)
    burn = burn_down(Project.objects.get(pk=p1.pk), today=TODAY)
    assert (burn["has_hours"], burn["has_fees"], burn["hours"], burn["fees"]) == (False, False, [], [])


def test_the_project_page(p1, make_user, people):
    def signed_in(*roles):
        client = Client()
        client.force_login(make_user(*roles))
        return client

    page = signed_in(Role.EXECUTIVE).get(f"/dashboards/projects/{p1.pk}/").content.decode()
    for chart in ("chart_burn_hours", "chart_burn_fees"):
        assert f'data-chart="{chart}"' in page and f'id="{chart}"' in page
    # A project manager opens only the projects they manage; a consultant none.
    assert signed_in(Role.PROJECT_MANAGER).get(f"/dashboards/projects/{p1.pk}/").status_code == 404
    assert signed_in(Role.CONSULTANT).get(f"/dashboards/projects/{p1.pk}/").status_code == 403
    manager = make_user(Role.PROJECT_MANAGER)
    people.sam.user = manager
    people.sam.save(update_fields=["user"])
    Project.objects.filter(pk=p1.pk).update(manager=people.sam)
    client = Client()
    client.force_login(manager)
    assert client.get(f"/dashboards/projects/{p1.pk}/").status_code == 200
