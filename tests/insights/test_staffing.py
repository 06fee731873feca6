"""Staffing: candidates for an open request ranked with hand-computed free hours, and the bench.

The firm works 40 h weeks (8 h a day). 10 July 2026 (a Friday) is a company holiday. On 1 July 2026:

Request: Developer, 80 h, 6–17 July (10 weekdays, 9 working days: 72 h available for anyone full time),
Python ≥ 4 and SQL ≥ 3.
  Ada   Developer  Python 5, SQL 3  cost 90  2 days off (13–14 July)    72 − 16 = 56 h available, 0 assigned
  Ben   Developer  Python 4, SQL 4  cost 60  40 h assigned 6–17 July    72 h available, 40 assigned: 32 free
  Cleo  Analyst    SQL 5            cost 50  100 h over 1–28 July: 10 of its 20 weekdays here = 50 h: 22 free
  Dev   Analyst    no skills: not a candidate
  Eve   Developer, inactive: not a candidate
Scores (skills 50, availability 30, cost 10 vs Cleo's 50.00, role 10):
  Ada   50 + 30 × 56/80 = 21.0 + 10 × 50/90 = 5.6 + 10 = 86.6
  Ben   50 + 30 × 32/80 = 12.0 + 10 × 50/60 = 8.3 + 10 = 80.3
  Cleo  50 × (0 + 1)/2 = 25.0 + 30 × 22/80 = 8.3 (8.25) + 10 + 0 = 43.3

Bench, 1–28 July (20 weekdays, 19 working days: 152 h for full time):
  Dev has nothing assigned: 0.0 % — on the bench. Ada: 70 h on 20–28 July of 136 h (51.5 %). Ben: 40 h +
  56 h (7 of A2's 10 weekdays) = 96 of 152 h. Cleo 100 of 152 h. Priya 120 of 152. Fay (20 h a week, 76 h
  available) has exactly 38 h: at the 50 % line, not under it.
"""

from datetime import date
from decimal import Decimal

import pytest

from core.roles import Role as UserRole
from crm.models import Account
from insights.detectors import staffing
from ledger.services.setup import create_legal_entity
from projects.models import Role
from projects.services.capacity import create_holiday, record_time_off
from projects.services.people import create_assignment, create_person, create_resource_request
from projects.services.projects import create_project
from projects.services.rates import set_cost_rate

AS_OF = date(2026, 7, 1)
D = Decimal
FULL_TIME = D(40)


@pytest.fixture
def firm(db, make_user):
    entity = create_legal_entity(
        actor=None, name="Acme Consulting Inc.", functional_currency="USD", invoice_prefix="AC-",
        today=date(2026, 1, 15),
    )  # fmt: skip
    client = Account.objects.create(name="Globex Corp", legal_entity=entity, currency="USD")
    developer, analyst, manager = (Role.objects.create(name=n) for n in ("Developer", "Analyst", "Manager"))

    def person(name, role, *, cost=None, skills=(), capacity=FULL_TIME, active=True, user=None):
        someone = create_person(
            actor=None, name=name, role=role, legal_entity=entity, skills=skills,
            capacity_hours_per_week=capacity, user=user,
        )  # fmt: skip
        if cost:
            set_cost_rate(actor=None, person=someone, rate=D(cost), valid_from=date(2025, 1, 1))
        if not active:
            someone.active = False
            someone.save(update_fields=["active"])
        return someone

    priya_user = make_user(UserRole.PROJECT_MANAGER)
    priya = person("Priya Mendes", manager, cost="100", user=priya_user)
    people = {
        "ada": person("Ada Byron", developer, cost="90", skills=[("Python", 5), ("SQL", 3)]),
        "ben": person("Ben Okafor", developer, cost="60", skills=[("Python", 4), ("SQL", 4)]),
        "cleo": person("Cleo Park", analyst, cost="50", skills=[("SQL", 5)]),
        "dev": person("Dev Patel", analyst),
        "eve": person("Eve Stone", developer, skills=[("Python", 5)], active=False),
        "fay": person("Fay Lind", analyst, capacity=D(20)),
    }
    project = create_project(
        actor=None, account=client, legal_entity=entity, code="GLX-1", name="Globex rollout", currency="USD",
        start=date(2026, 1, 1), end=date(2026, 12, 31), manager=priya,
    )  # fmt: skip
    create_holiday(actor=None, legal_entity=entity, date=date(2026, 7, 10), name="Company day")
    record_time_off(actor=None, person=people["ada"], start=date(2026, 7, 13), end=date(2026, 7, 14))
    for who, start, end, hours in [
        (people["ada"], date(2026, 7, 20), date(2026, 7, 28), "70"),
        (people["ben"], date(2026, 7, 6), date(2026, 7, 17), "40"),
        (people["ben"], date(2026, 7, 20), date(2026, 7, 31), "80"),
        (people["cleo"], date(2026, 7, 1), date(2026, 7, 28), "100"),
        (people["fay"], date(2026, 7, 1), date(2026, 7, 28), "38"),
        (priya, date(2026, 7, 1), date(2026, 7, 28), "120"),
    ]:
        create_assignment(actor=None, person=who, project=project, start=start, end=end, hours=D(hours))
    request = create_resource_request(
        actor=None, project=project, role=developer, hours=D("80"), start=date(2026, 7, 6),
        end=date(2026, 7, 17), skills=[("Python", 4), ("SQL", 3)],
    )  # fmt: skip
    architect = Role.objects.create(name="Architect")
    unmatched = create_resource_request(
        actor=None, project=project, role=architect, hours=D("40"), start=date(2026, 8, 3),
        end=date(2026, 8, 7), skills=[("Rust", 3)],
    )  # fmt: skip
    # Ended before 1 July: no longer worth a finding.
    create_resource_request(
        actor=None,
        project=project,
        role=developer,
        hours=D("10"),
        start=date(2026, 6, 1),
        end=date(2026, 6, 30),
    )
    return {"people": people, "priya_user": priya_user, "request": request, "unmatched": unmatched}


def test_candidates_ranked_with_free_hours_net_of_holidays_time_off_and_assignments(firm):
    ((request, candidates), (unmatched, nobody)) = staffing.ranked_candidates(AS_OF)

    assert (request, unmatched) == (firm["request"], firm["unmatched"])
    assert nobody == []
    people = firm["people"]
    assert [c.person_id for c in candidates] == [people["ada"].pk, people["ben"].pk, people["cleo"].pk]
    figures = [(c.available, c.assigned, c.free, c.score) for c in candidates]
    assert figures == [
        (D("56"), D("0"), D("56"), D("86.6")),
        (D("72"), D("40"), D("32"), D("80.3")),
        (D("72"), D("50"), D("22"), D("43.3")),
    ]
    assert candidates[0].parts == {
        "skills": D("50.0"),
        "availability": D("21.0"),
        "cost": D("5.6"),
        "role": 10,
    }


def test_request_finding_lists_the_top_three_with_their_parts(firm):
    findings = [f for f in staffing.detect(AS_OF) if f.rule == "best_matches"]

    assert [f.subject_id for f in findings] == [firm["request"].pk, firm["unmatched"].pk]
    best, unmatched = findings
    assert best.fingerprint == f"staffing:best_matches:resource_request:{firm['request'].pk}"
    assert best.title == "Developer for GLX-1: Ada Byron fits best (86.6/100)"
    # Nobody has all 80 h free: a warning, with what to do about it.
    assert best.severity == "warning"
    assert best.explanation == (
        "Developer for GLX-1 asks for 80.00 h from 2026-07-06 to 2026-07-17. Best match Ada Byron: "
        "86.6/100, free 56.00 h (56.00 h available less 0.00 h assigned). Next: Ben Okafor 80.3/100; "
        "Cleo Park 43.3/100. Nobody has all 80.00 h free: split the request or move its dates."
    )
    assert best.factors[0] == {
        "factor": "1. Ada Byron",
        "value": "Developer; Python 5/5 (asked 4), SQL 3/5 (asked 3); free 56.00 h of 80.00 h asked; "
        "90.00 USD/h; skills 50.0 + availability 21.0 + cost 5.6 + role 10.0",
        "effect": "score 86.6/100",
    }
    assert best.factors[2]["value"].startswith(
        "Analyst (another role); no Python, SQL 5/5 (asked 3); free 22.00 h"
    )
    assert [c["free_hours"] for c in best.figures["candidates"]] == ["56.00", "32.00", "22.00"]
    assert best.audience == ("resource_manager", "project_manager")
    assert best.owner_id == firm["priya_user"].pk
    assert best.url == f"/projects/capacity/requests/{firm['request'].pk}/"
    assert unmatched.title == "Architect for GLX-1: nobody in the role or with the skills asked"
    assert (unmatched.severity, unmatched.factors) == ("warning", [])


def test_bench_finds_the_idle_person_only(firm):
    bench = [f for f in staffing.detect(AS_OF) if f.rule == "bench"]

    dev = firm["people"]["dev"]
    assert [f.subject_id for f in bench] == [dev.pk]
    (finding,) = bench
    assert finding.fingerprint == f"staffing:bench:person:{dev.pk}"
    assert finding.title == "Dev Patel: 0.0% staffed over the next 4 weeks"
    assert finding.figures == {
        "start": "2026-07-01",
        "end": "2026-07-28",
        "capacity_hours": "160.00",
        "available_hours": "152.00",
        "assigned_hours": "0.00",
        "staffed_percent": "0.0",
    }
    assert finding.explanation == (
        "Dev Patel has 0.00 h assigned of 152.00 h available from 2026-07-01 to 2026-07-28 "
        "(capacity 160.00 h less 8.00 h of holidays and time off): 0.0%, under the 50% bench line."
    )


def test_nothing_to_report_without_open_requests_or_idle_people(db):
    assert list(staffing.detect(AS_OF)) == []


def test_queries_do_not_grow_with_requests_or_people(firm, django_assert_max_num_queries):
    # Requests: requests, skills asked, people, skills held, capacities, holidays, time off, assignments,
    # cost rates (9). Bench: people, capacities, holidays, time off, assignments (5). Eight people, two
    # requests: a query per row would pass 14.
    with django_assert_max_num_queries(14):
        list(staffing.detect(AS_OF))
