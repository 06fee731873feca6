"""Capacity vs demand by role and week, the bench and staffing suggestions, on a small firm worked out by
hand. Planned hours spread evenly over the working days of their window."""

from datetime import date
from decimal import Decimal

import pytest

from crm.models import Opportunity, OpportunityLine
from projects.reports.capacity import bench, capacity_vs_demand, staffing_suggestions
from projects.services.people import create_assignment, create_resource_request
from projects.services.projects import create_project

D = Decimal
pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 18)


@pytest.fixture
def small_firm(usd_entity, client_account, roles, make_person):
    ann = make_person("Ann Ames", "consultant", cost="70", skills=[("Python", 4), ("SQL", 1)])
    bob = make_person("Bob Bell", "consultant", capacity=D(32), cost="90", skills=[("Python", 3), ("SQL", 3)])
    cid = make_person(
        "Cid Cruz", "consultant", role=roles.senior, cost="60", skills=[("Python", 5), ("SQL", 2)]
    )
    dee = make_person("Dee Dunn", "consultant", cost="50")
    project = create_project(
        actor=None,
        account=client_account,
        legal_entity=usd_entity,
        code="P",
        name="P",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        tasks=[{"name": "Work"}],
    )
    consultant, senior = roles.consultant, roles.senior
    # Ann: 60 h over Mon 16 – Fri 27 March (10 working days): 30 a week.
    create_assignment(
        actor=None, person=ann, project=project, start=date(2026, 3, 16), end=date(2026, 3, 27), hours=D(60)
    )
    # Cid, staffed as a consultant: 40 h over Wed 25 March – Fri 3 April (8 working days): 15, then 25.
    create_assignment(
        actor=None,
        person=cid,
        project=project,
        role=consultant,
        start=date(2026, 3, 25),
        end=date(2026, 4, 3),
        hours=D(40),
    )
    # Dee: 100 h over four weeks from 16 March: 25 a week.
    create_assignment(
        actor=None, person=dee, project=project, start=date(2026, 3, 16), end=date(2026, 4, 10), hours=D(100)
    )
    # An open request for a senior: 20 h in the week of 30 March.
    create_resource_request(
        actor=None, project=project, role=senior, hours=D(20), start=date(2026, 3, 30), end=date(2026, 4, 3)
    )
    # The pipeline: 80 senior hours at 50% over two weeks → 20 a week; won and lost deals do not count.
    for stage, probability in (("propose", 50), ("won", 100), ("lost", 0)):
        deal = Opportunity.objects.create(
            account=client_account,
            name=f"Deal {stage}",
            stage=stage,
            probability=probability,
            currency="USD",
            expected_close=date(2026, 3, 1),
        )
        OpportunityLine.objects.create(
            opportunity=deal,
            service="Advice",
            billing_model="time_and_materials",
            role=senior,
            hours=D(80),
            rate=D(200),
            amount=D(16000),
            start=date(2026, 3, 16),
            end=date(2026, 3, 27),
        )
    return {"ann": ann, "bob": bob, "cid": cid, "dee": dee, "project": project, "roles": roles}


def figures(row):
    return [(w.capacity, w.assigned, w.requested, w.pipeline, w.gap) for w in row.weeks]


def test_capacity_vs_demand_by_role_and_week(small_firm):
    report = capacity_vs_demand(start=TODAY, weeks=3)
    assert report.mondays == [date(2026, 3, 16), date(2026, 3, 23), date(2026, 3, 30)]
    rows = {row.name: row for row in report.rows}
    assert set(rows) == {"Consultant", "Senior consultant"}
    # Consultants: Ann, Bob and Dee (40 + 32 + 40); assigned: Ann 30/30/0, Dee 25/25/25, Cid 0/15/25.
    assert rows["Consultant"].people == 3
    assert figures(rows["Consultant"]) == [
        (D("112.00"), D("55.00"), D("0.00"), D("0.00"), D("57.00")),
        (D("112.00"), D("70.00"), D("0.00"), D("0.00"), D("42.00")),
        (D("112.00"), D("50.00"), D("0.00"), D("0.00"), D("62.00")),
    ]
    # Seniors: Cid's 40; the pipeline 20 + 20, the request 20 in the third week.
    assert figures(rows["Senior consultant"]) == [
        (D("40.00"), D("0.00"), D("0.00"), D("20.00"), D("20.00")),
        (D("40.00"), D("0.00"), D("0.00"), D("20.00"), D("20.00")),
        (D("40.00"), D("0.00"), D("20.00"), D("0.00"), D("20.00")),
    ]
    assert [(w.capacity, w.demand, w.gap) for w in report.total.weeks] == [
        (D("152.00"), D("75.00"), D("77.00")),
        (D("152.00"), D("90.00"), D("62.00")),
        (D("152.00"), D("70.00"), D("82.00")),
    ]


def test_bench_is_under_half_assigned_over_four_weeks(small_firm):
    # Four weeks from 16 March: Ann 60 of 160 (38%), Bob 0 of 128, Cid 40 of 160 (25%); Dee 100 of 160 (63%).
    rows = bench(today=TODAY)
    assert [(r.person.name, r.assigned, r.capacity, r.utilization_percent) for r in rows] == [
        ("Bob Bell", D("0"), D("128"), 0),
        ("Cid Cruz", D("40.00"), D("160"), 25),
        ("Ann Ames", D("60.00"), D("160"), 38),
    ]


def test_staffing_suggestions_rank_people_with_reasons(small_firm):
    request = create_resource_request(
        actor=None,
        project=small_firm["project"],
        role=small_firm["roles"].consultant,
        hours=D(40),
        start=date(2026, 4, 6),
        end=date(2026, 4, 10),
        skills=[("Python", 3), {"skill": "SQL", "level": 2}],
    )
    ranked = staffing_suggestions(request)
    # skills×50 + availability×30 + cheapest cost (Dee's 50) / own cost ×10 + role 10:
    # Bob 50 + 24 + 5.56 + 10; Cid 50 + 30 + 8.33; Ann 37.5 + 30 + 7.14 + 10; Dee 0 + 11.25 + 10 + 10.
    assert [(s.person.name, s.score) for s in ranked] == [
        ("Bob Bell", D("89.6")),
        ("Cid Cruz", D("88.3")),
        ("Ann Ames", D("84.6")),
        ("Dee Dunn", D("31.3")),
    ]
    bob, cid, ann, dee = ranked
    assert bob.reasons == [
        "Consultant, the role asked",
        "Python 3/5, meets the 3 asked",
        "SQL 3/5, meets the 2 asked",
        "Free 32 h from 2026-04-06 to 2026-04-10, 40 h asked",
        "Costs 90.00 USD an hour",
    ]
    assert "Senior consultant (asked: Consultant)" in cid.reasons
    assert "SQL 1/5, below the 2 asked" in ann.reasons
    assert "No Python (needs 3)" in dee.reasons
    assert "Free 15 h from 2026-04-06 to 2026-04-10, 40 h asked" in dee.reasons
