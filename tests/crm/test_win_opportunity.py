"""The handoff: a mixed deal won end to end carries exactly the commercial terms sold."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import InvalidTransition, ValidationFailed
from core.models import AuditEvent, Event
from crm.models import Contract, ContractLine, Opportunity, StageChange
from crm.services.handoff import delivery_plan, projects_services, win_opportunity
from crm.services.pipeline import lose_opportunity

pytestmark = pytest.mark.django_db


def test_mixed_deal_contract_lines_carry_the_terms_sold(
    mixed_deal, pm, roles, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        contract = win_opportunity(actor=pm, opportunity=mixed_deal)

    assert contract.number == "US-C-00001"
    assert (contract.currency, contract.start, contract.end) == ("USD", date(2026, 1, 5), date(2027, 8, 31))
    assert contract.total_amount == Decimal("314000.00")
    assert (contract.payment_terms_days, contract.tax_code) == (30, "US-EXEMPT")
    lines = {line.description: line for line in ContractLine.objects.filter(contract=contract)}
    assert len(lines) == 5

    discovery = lines["Discovery"]
    assert (discovery.billing_model, discovery.amount, discovery.revenue_method_or_default()) == (
        "fixed_fee",
        Decimal("50000.00"),
        "percent_complete",
    )
    assert discovery.schedule == {
        "instalments": [
            {"date": "2026-01-22", "amount": "16666.67"},
            {"date": "2026-02-09", "amount": "16666.67"},
            {"date": "2026-02-27", "amount": "16666.66"},
        ]
    }

    senior = lines["Implementation: senior consultant"]
    analyst = lines["Implementation: analyst"]
    assert (senior.role, senior.hours, senior.rate, senior.amount, senior.cap_amount) == (
        roles["senior"],
        Decimal("400.00"),
        Decimal("180.0000"),
        Decimal("72000.00"),
        Decimal("75000.00"),
    )
    assert (analyst.role, analyst.hours, analyst.rate, analyst.amount, analyst.cap_amount) == (
        roles["analyst"],
        Decimal("600.00"),
        Decimal("110.0000"),
        Decimal("66000.00"),
        None,
    )
    assert senior.schedule == {
        "frequency": "monthly",
        "role_id": roles["senior"].pk,
        "rate": "180.00",
        "hours": "400.00",
        "cap_amount": "75000.00",
    }
    assert senior.revenue_method_or_default() == "as_delivered"

    retainer = lines["Support retainer"]
    assert retainer.amount == Decimal("96000.00")
    assert retainer.schedule["period"] == "monthly"
    assert retainer.schedule["period_amount"] == "8000.00"
    assert (retainer.schedule["period_hours"], retainer.schedule["overage_rate"]) == ("40.00", "150.00")
    assert retainer.schedule["unused_hours"] == "forfeit"
    assert len(retainer.schedule["periods"]) == 12
    assert retainer.schedule["periods"][0] == {
        "start": "2026-09-01",
        "end": "2026-09-30",
        "amount": "8000.00",
    }
    assert retainer.schedule["periods"][-1] == {
        "start": "2027-08-01",
        "end": "2027-08-31",
        "amount": "8000.00",
    }
    assert retainer.revenue_method_or_default() == "ratable"

    milestones = lines["Delivery milestones"]
    assert milestones.schedule == {
        "milestones": [
            {"name": "Design signed off", "due": "2026-04-30", "amount": "12000.00"},
            {"name": "Go-live", "due": "2026-08-28", "amount": "18000.00"},
        ]
    }

    mixed_deal.refresh_from_db()
    assert (mixed_deal.stage, mixed_deal.probability, mixed_deal.amount) == ("won", 100, Decimal("314000.00"))
    assert list(StageChange.objects.filter(opportunity=mixed_deal).values_list("from_stage", "to_stage")) == [
        ("", "negotiate"),
        ("negotiate", "won"),
    ]
    types = set(Event.objects.values_list("type", flat=True))
    assert {"opportunity.won", "contract.created"} <= types


def test_delivery_plan_carries_budgets_rate_card_requests_and_milestones(mixed_deal, pm, pm_person, roles):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    plan = delivery_plan(contract)

    assert plan.project["code"] == "US-C-00001"
    assert plan.project["name"] == "Northwind EHR rollout"
    assert plan.project["manager"] == pm_person
    assert plan.project["contract"] == contract
    assert (plan.project["start"], plan.project["end"]) == (date(2026, 1, 5), date(2027, 8, 31))
    # 400 + 600 T&M hours and 12 × 40 retainer hours; the money budget is the contract's total.
    assert plan.project["budget_hours"] == Decimal("1480.00")
    assert plan.project["budget_amount"] == Decimal("314000.00")
    assert plan.tasks == [
        {"name": "Discovery", "billable": True, "children": []},
        {
            "name": "Implementation",
            "billable": True,
            "children": [
                {"name": "Implementation: senior consultant", "billable": True},
                {"name": "Implementation: analyst", "billable": True},
                {"name": "Delivery milestones", "billable": True},
            ],
        },
        {"name": "Support", "billable": True, "children": [{"name": "Support retainer", "billable": True}]},
    ]
    assert plan.rate_card == {
        "name": "Northwind Health · US-C-00001",
        "currency": "USD",
        "rates": [
            {
                "role": roles["senior"],
                "rate": Decimal("180.0000"),
                "valid_from": date(2026, 3, 2),
                "valid_to": date(2026, 8, 28),
            },
            {
                "role": roles["analyst"],
                "rate": Decimal("110.0000"),
                "valid_from": date(2026, 3, 2),
                "valid_to": date(2026, 8, 28),
            },
        ],
    }
    assert plan.resource_requests == [
        {
            "role": roles["senior"],
            "hours": Decimal("400.00"),
            "start": date(2026, 3, 2),
            "end": date(2026, 8, 28),
        },
        {
            "role": roles["analyst"],
            "hours": Decimal("600.00"),
            "start": date(2026, 3, 2),
            "end": date(2026, 8, 28),
        },
        {
            "role": roles["support"],
            "hours": Decimal("480.00"),
            "start": date(2026, 9, 1),
            "end": date(2027, 8, 31),
        },
    ]
    assert plan.milestones == [
        {"name": "Design signed off", "amount": Decimal("12000.00"), "due": date(2026, 4, 30)},
        {"name": "Go-live", "amount": Decimal("18000.00"), "due": date(2026, 8, 28)},
    ]


def test_handoff_creates_the_project_rate_card_requests_and_milestones(mixed_deal, pm, pm_person, roles):
    from projects.models import Milestone, Project, RateCard, ResourceRequest

    contract = win_opportunity(actor=pm, opportunity=mixed_deal)

    project = Project.objects.get(contract=contract)
    assert (project.code, project.name, project.currency) == ("US-C-00001", "Northwind EHR rollout", "USD")
    assert (project.start, project.end, project.manager) == (date(2026, 1, 5), date(2027, 8, 31), pm_person)
    assert (project.budget_hours, project.budget_amount) == (Decimal("1480.00"), Decimal("314000.00"))
    assert [
        (task.name, task.parent.name if task.parent else None) for task in project.tasks.order_by("id")
    ] == [
        ("Discovery", None),
        ("Implementation", None),
        ("Implementation: senior consultant", "Implementation"),
        ("Implementation: analyst", "Implementation"),
        ("Delivery milestones", "Implementation"),
        ("Support", None),
        ("Support retainer", "Support"),
    ]
    card = RateCard.objects.get(pk=contract.rate_card_id)
    assert (card.account, card.contract, card.currency) == (mixed_deal.account, contract, "USD")
    assert sorted(card.rates.values_list("role__name", "rate", "valid_from", "valid_to")) == [
        ("Analyst", Decimal("110.00"), date(2026, 3, 2), date(2026, 8, 28)),
        ("Senior consultant", Decimal("180.00"), date(2026, 3, 2), date(2026, 8, 28)),
    ]
    assert set(contract.all_lines.exclude(rate_card_id=None).values_list("billing_model", flat=True)) == {
        "time_and_materials"
    }
    assert sorted(
        ResourceRequest.objects.filter(project=project).values_list("role__name", "hours", "start", "end")
    ) == [
        ("Analyst", Decimal("600.00"), date(2026, 3, 2), date(2026, 8, 28)),
        ("Senior consultant", Decimal("400.00"), date(2026, 3, 2), date(2026, 8, 28)),
        ("Support engineer", Decimal("480.00"), date(2026, 9, 1), date(2027, 8, 31)),
    ]
    assert list(Milestone.objects.filter(project=project).values_list("name", "amount", "due")) == [
        ("Design signed off", Decimal("12000.00"), date(2026, 4, 30)),
        ("Go-live", Decimal("18000.00"), date(2026, 8, 28)),
    ]
    assert Event.objects.filter(type="project.created", subject_id=str(project.pk)).count() == 1
    assert projects_services() is not None


def test_win_lists_every_problem_at_once_and_creates_nothing(client_account, pm, roles):
    from crm.services.pipeline import create_opportunity

    client_account.tax_code = ""
    client_account.billing_email = ""
    client_account.save()
    deal = create_opportunity(
        actor=pm,
        account=client_account,
        name="Half-baked",
        expected_close=date(2026, 2, 1),
        currency="EUR",
        lines=[
            {
                "service": "Build",
                "billing_model": "time_and_materials",
                "role": roles["senior"].pk,
                "hours": Decimal("10"),
                "start": date(2026, 3, 1),
                "end": date(2026, 4, 1),
            },
            {
                "service": "Phases",
                "billing_model": "milestone",
                "amount": Decimal("10000.00"),
                "start": date(2026, 3, 1),
                "end": date(2026, 4, 1),
                "milestones": [
                    {"name": "One", "due": "2026-03-15", "amount": "4000.00"},
                    {"name": "Two", "due": "2026-03-31", "amount": "5000.00"},
                ],
            },
        ],
    )
    with pytest.raises(ValidationFailed) as refused:
        win_opportunity(actor=pm, opportunity=deal)

    assert refused.value.code == "handoff_invalid"
    assert set(refused.value.fields) == {
        "currency",
        "account.tax_code",
        "account.billing_email",
        "lines.0.rate",
        "lines.1.milestones",
    }
    assert refused.value.fields["lines.1.milestones"] == [
        "Phases: the milestones add up to 9000.00 EUR, not the line's 10000.00 EUR."
    ]
    assert not Contract.objects.exists()
    deal.refresh_from_db()
    assert deal.stage == "qualify"
    # The refusal outlives the rollback, so flow health can count refused handoffs.
    (refusal,) = AuditEvent.objects.filter(action="opportunity.handoff_refused", object_id=str(deal.pk))
    assert refusal.actor == pm
    assert refusal.changes["problems"]["lines.1.milestones"] == refused.value.fields["lines.1.milestones"]


def test_winning_twice_returns_the_same_contract(mixed_deal, pm):
    first = win_opportunity(actor=pm, opportunity=mixed_deal)
    again = win_opportunity(actor=pm, opportunity=Opportunity.objects.get(pk=mixed_deal.pk))
    assert again.pk == first.pk
    assert Contract.objects.count() == 1
    assert Event.objects.filter(type="opportunity.won").count() == 1


def test_a_lost_deal_cannot_be_won(mixed_deal, pm):
    lose_opportunity(actor=pm, opportunity=mixed_deal, reason="Budget frozen")
    with pytest.raises(InvalidTransition):
        win_opportunity(actor=pm, opportunity=mixed_deal)
