"""Margin risk on a fixed-fee project: burn ahead of milestones, projected overrun, margin under target,
each with its arithmetic in words; and a project on track raises nothing.

The case: a 20,000.00 fixed fee over four 5,000.00 milestones, one completed (25.00% complete); budget
100 h, target margin 40%. Sam logs time at a 200.00 bill rate and an 80.00 cost rate."""

from datetime import date
from decimal import Decimal

import pytest

from insights.detectors import margin
from projects.choices import MilestoneStatus, ProjectStatus
from projects.models import Milestone, Project
from tests.analytics.conftest import work
from tests.billing import conftest as billing

D = Decimal
AS_OF = date(2026, 4, 30)
finance, entity, vat20, client_account, roles, people, make_contract = (
    billing.finance, billing.entity, billing.vat20, billing.client_account, billing.roles, billing.people,
    billing.make_contract,
)  # fmt: skip


@pytest.fixture
def fixed_fee(make_contract, people):
    contract, project = make_contract(
        [
            {
                "description": "ERP rollout, fixed fee",
                "billing_model": "fixed_fee",
                "amount": D("20000.00"),
                "instalments": 4,
                "start": date(2026, 1, 1),
                "end": date(2026, 12, 31),
            }
        ],
        code="GLX-FF",
    )
    manager = people.sam
    Project.objects.filter(pk=project.pk).update(
        name="ERP rollout",
        status=ProjectStatus.ACTIVE,
        budget_hours=D("100"),
        budget_amount=D("20000.00"),
        target_margin_percent=D("40"),
        manager=manager,
    )
    for number in range(1, 5):
        Milestone.objects.create(
            project=project,
            name=f"Phase {number}",
            amount=D("5000.00"),
            due=date(2026, 3 * number, 28),
            status=MilestoneStatus.COMPLETED if number == 1 else MilestoneStatus.PLANNED,
        )
    project.refresh_from_db()
    return project


def log(project, person, day: date, hours):
    work(person, project, day, hours, rate="200", cost="80")


def test_burn_ahead_overrun_and_margin_below_target(fixed_fee, people):
    # 50 h: 10,000.00 at bill rates, 4,000.00 at cost.
    for day in range(2, 12):
        log(fixed_fee, people.ana, date(2026, 3, day), "5")

    found = {finding.rule: finding for finding in margin.detect(AS_OF)}

    assert set(found) == {"burn_ahead", "overrun_at_completion", "margin_below_target"}
    burn = found["burn_ahead"]
    assert burn.title == "GLX-FF: 50.00% of the budget burnt at 25.00% complete"
    assert burn.explanation == (
        "GLX-FF ERP rollout has used 50.00 h of 100.00 h budgeted (50.00%) but is 25.00% complete "
        "(milestones worth $5,000.00 of $20,000.00 completed): burn runs 25.00 points ahead (flagged "
        "beyond 10)."
    )
    assert burn.owner_id is None  # Sam has no user
    assert burn.audience == ("project_manager", "executive", "finance")
    overrun = found["overrun_at_completion"]
    assert overrun.severity == "critical"
    assert overrun.explanation == (
        "GLX-FF ERP rollout has delivered $10,000.00 of work at bill rates and is 25.00% complete "
        "(milestones worth $5,000.00 of $20,000.00 completed). At this pace the estimate at completion is "
        "$10,000.00 ÷ 25.00% = $40,000.00, $20,000.00 (100.00%) over the $20,000.00 budget."
    )
    assert overrun.figures["estimate_at_completion"] == "40000.00"
    below = found["margin_below_target"]
    assert below.explanation == (
        "GLX-FF ERP rollout has cost $4,000.00 in time at cost rates at 25.00% complete (milestones "
        "worth $5,000.00 of $20,000.00 completed), so $16,000.00 at completion against a $20,000.00 "
        "budget: a margin of 20.00%, below the target of 40.00%."
    )
    assert below.figures["margin_percent"] == "20.00"


def test_a_project_on_track_raises_nothing(fixed_fee, people):
    # 20 h at 25% complete: burn 20%, 16,000.00 at completion, margin 68%.
    for day in range(2, 6):
        log(fixed_fee, people.ana, date(2026, 3, day), "5")

    assert list(margin.detect(AS_OF)) == []


def test_time_and_materials_projects_are_not_looked_at(make_contract, people):
    contract, project = make_contract([billing.tm_line(people.sam.role, "150")], code="GLX-TM")
    Project.objects.filter(pk=project.pk).update(status=ProjectStatus.ACTIVE, budget_hours=D("10"))
    for day in range(2, 7):
        log(project, people.sam, date(2026, 3, day), "10")

    assert list(margin.detect(AS_OF)) == []
