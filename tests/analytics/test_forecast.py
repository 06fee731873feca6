"""The six months from March 2026 (today: 18 March), worked by hand.

Revenue (USD): a ratable 8,900.00 support line over 1 February – 30 April 2026 (89 days, 100.00 a day):
February's 2,800.00 is not recognised yet, so it counts now, with March's 3,100.00 → 5,900.00; April
3,000.00. Pipeline: a 50% deal with a 10,000.00 line over July → 5,000.00 in July; a 25% deal of
8,000.00 without lines closing 20 May → 2,000.00 in May. Won and lost deals count for nothing.

Hours: weekdays Mar 22, Apr 22, May 21, Jun 22, Jul 23, Aug 21; Good Friday (3 April) is Acme's
holiday; Ana is off 4–8 May. Sam (Senior, 8 h a day) has 176, 168, 168, 176, 184, 168 h; Ana (Analyst)
the same but May 168 − 40 = 128 h.
- Senior demand: 50 h assigned over 30 March – 3 April (5 weekdays: 20 h in March, 30 in April) and 200 h
  over 6–17 April → March 20, April 230 (over by 62 h).
- Analyst demand: an open request of 176 h over June (balanced: exactly what is available) and the 50%
  deal's line of 100 h over July → 50 h.
"""

from datetime import date
from decimal import Decimal

import pytest

from analytics.forecast import capacity_forecast, revenue_forecast
from crm.models import Opportunity, OpportunityLine
from projects.models import Assignment, Holiday, ResourceRequest, TimeOff

D = Decimal
pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 18)


@pytest.fixture
def plans(entity, client_account, roles, people, make_contract):
    _, project = make_contract(
        [
            {
                "description": "Support",
                "billing_model": "fixed_fee",
                "amount": D("8900.00"),
                "revenue_method": "ratable",
                "start": date(2026, 2, 1),
                "end": date(2026, 4, 30),
            }
        ]
    )
    Holiday.objects.create(legal_entity=entity, date=date(2026, 4, 3), name="Good Friday")
    TimeOff.objects.create(person=people.ana, start=date(2026, 5, 4), end=date(2026, 5, 8))
    for start, end, hours in (
        (date(2026, 3, 30), date(2026, 4, 3), 50),
        (date(2026, 4, 6), date(2026, 4, 17), 200),
    ):
        Assignment.objects.create(
            person=people.sam, project=project, role=roles.senior, start=start, end=end, hours=D(hours)
        )
    ResourceRequest.objects.create(
        project=project, role=roles.analyst, hours=D(176), start=date(2026, 6, 1), end=date(2026, 6, 30)
    )

    def deal(stage, probability, amount, **line):
        opportunity = Opportunity.objects.create(
            account=client_account,
            name=f"{stage} deal",
            stage=stage,
            probability=probability,
            amount=D(amount),
            currency="USD",
            expected_close=date(2026, 5, 20),
        )
        if line:
            OpportunityLine.objects.create(
                opportunity=opportunity,
                service="Analytics",
                billing_model="time_and_materials",
                role=roles.analyst,
                amount=D(amount),
                **line,
            )

    july = {"hours": D(100), "rate": D(100), "start": date(2026, 7, 1), "end": date(2026, 7, 31)}
    deal(Opportunity.Stage.PROPOSE, 50, "10000", **july)
    deal(Opportunity.Stage.PROPOSE, 25, "8000")
    deal(Opportunity.Stage.WON, 100, "10000", **july)
    deal(Opportunity.Stage.LOST, 0, "8000")
    return project


def test_revenue_ahead(plans):
    ahead = revenue_forecast(today=TODAY, currency="USD")
    assert ahead["months"] == [date(2026, month, 1) for month in range(3, 9)]
    assert ahead["scheduled"] == [D("5900.00"), D("3000.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")]
    assert ahead["pipeline"] == [D("0.00"), D("0.00"), D("2000.00"), D("0.00"), D("5000.00"), D("0.00")]
    assert ahead["total"] == [D("5900.00"), D("3000.00"), D("2000.00"), D("0.00"), D("5000.00"), D("0.00")]
    assert revenue_forecast(today=TODAY, currency="EUR")["total"] == [D("0.00")] * 6


def test_hours_demanded_against_available_by_role(plans):
    hours = capacity_forecast(today=TODAY)
    roles = {row["name"]: row for row in hours["roles"]}
    assert set(roles) == {"Senior", "Analyst"}

    def column(role, name):
        return [month[name] for month in roles[role]["months"]]

    assert column("Senior", "available") == [
        D(v) for v in ("176.00", "168.00", "168.00", "176.00", "184.00", "168.00")
    ]
    assert column("Senior", "demand") == [D(v) for v in ("20.00", "230.00", "0.00", "0.00", "0.00", "0.00")]
    assert column("Senior", "state") == ["under", "over", "under", "under", "under", "under"]
    assert column("Analyst", "available")[2] == D("128.00")
    assert column("Analyst", "requested")[3] == D("176.00")
    assert column("Analyst", "pipeline")[4] == D("50.00")
    assert column("Analyst", "state") == ["under", "under", "under", "balanced", "under", "under"]
    assert roles["Senior"]["verdict"] == (
        "Senior: over-committed in Apr 2026 by 62.00 h; under-committed in Mar 2026, May 2026, Jun 2026, "
        "Jul 2026, Aug 2026 (852.00 h free)."
    )
    assert roles["Analyst"]["verdict"] == (
        "Analyst: under-committed in Mar 2026, Apr 2026, May 2026, Jul 2026, Aug 2026 (774.00 h free)."
    )
    april = hours["total"]["months"][1]
    assert (april["available"], april["demand"], april["gap"], april["state"]) == (
        D("336.00"),
        D("230.00"),
        D("106.00"),
        "under",
    )


def test_no_people_no_demand(db):
    hours = capacity_forecast(today=TODAY)
    assert hours["roles"] == []
    assert hours["total"]["verdict"] == "All roles: demand matches the hours available in every month."
