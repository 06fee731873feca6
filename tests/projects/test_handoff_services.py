"""The services the CRM's win → delivery handoff calls, with the names and arguments it relies on."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role as UserRole
from crm.models import Contract
from projects.choices import ProjectStatus, ResourceRequestStatus
from projects.models import Project, RateCard
from projects.services.people import create_resource_request
from projects.services.projects import create_milestone, create_project
from projects.services.rates import create_rate_card

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(usd_entity, client_account):
    return Contract.objects.create(
        account=client_account,
        legal_entity=usd_entity,
        number="US-C-00042",
        currency="USD",
        start=date(2026, 4, 1),
        end=date(2026, 9, 30),
        total_amount=D("120000"),
    )


def test_the_handoff_creates_a_project_with_its_task_tree(
    usd_entity, client_account, contract, roles, make_user
):
    seller = make_user(UserRole.PROJECT_MANAGER)
    project = create_project(
        actor=seller,
        account=client_account,
        legal_entity=usd_entity,
        code="us-c-00042",
        name="ERP rollout",
        currency="USD",
        start=date(2026, 4, 1),
        end=date(2026, 9, 30),
        contract=contract,
        budget_hours=D("960.00"),
        budget_amount=D("120000.0000"),
        tasks=[
            {
                "name": "Delivery",
                "billable": True,
                "children": [{"name": "Senior consultant", "billable": True}, {"name": "Analyst"}],
            },
            {"name": "Travel", "billable": False},
        ],
    )
    assert (project.code, project.status, project.contract, project.manager) == (
        "US-C-00042",
        ProjectStatus.ACTIVE,
        contract,
        None,
    )
    tree = [(t.name, t.parent.name if t.parent else None, t.billable) for t in project.tasks.order_by("id")]
    assert tree == [
        ("Delivery", None, True),
        ("Senior consultant", "Delivery", True),
        ("Analyst", "Delivery", True),
        ("Travel", None, False),
    ]
    assert Event.objects.filter(type="project.created", subject_id=str(project.pk)).count() == 1
    assert AuditEvent.objects.filter(action="project.created", actor=seller).count() == 1

    card = create_rate_card(
        actor=seller,
        name="Client · US-C-00042",
        currency="USD",
        account=client_account,
        contract=contract,
        rates=[
            {
                "role": roles.senior,
                "rate": D("185"),
                "valid_from": date(2026, 4, 1),
                "valid_to": date(2026, 9, 30),
            },
            {
                "role": roles.analyst,
                "rate": D("110"),
                "valid_from": date(2026, 4, 1),
                "valid_to": date(2026, 9, 30),
            },
        ],
    )
    assert (card.scope, card.contract, card.rates.count()) == ("contract", contract, 2)
    request = create_resource_request(
        actor=seller,
        project=project,
        role=roles.senior,
        hours=D("320.00"),
        start=date(2026, 4, 1),
        end=date(2026, 9, 30),
        skills=["SAP FI", {"name": "Change management", "level": 3}],
    )
    assert request.status == ResourceRequestStatus.OPEN
    assert sorted((s.skill.name, s.level) for s in request.skill_requirements.all()) == [
        ("Change management", 3),
        ("SAP FI", 1),
    ]
    milestone = create_milestone(
        actor=seller, project=project, name="Go-live", amount=D("40000"), due=date(2026, 9, 1)
    )
    assert (milestone.status, milestone.amount) == ("planned", D("40000"))


def test_the_handoff_services_refuse_what_does_not_fit(
    usd_entity, client_account, contract, roles, make_user
):
    seller = make_user(UserRole.PROJECT_MANAGER)
    base = dict(
        actor=seller,
        account=client_account,
        legal_entity=usd_entity,
        name="X",
        start=date(2026, 4, 1),
        end=date(2026, 9, 30),
    )
    with pytest.raises(ValidationFailed, match="is in USD; the project must be too"):
        create_project(code="A", currency="EUR", contract=contract, **base)
    with pytest.raises(ValidationFailed, match="before the start"):
        create_project(code="B", currency="USD", **{**base, "end": date(2026, 1, 1)})
    create_project(code="C", currency="USD", **base)
    with pytest.raises(ValidationFailed, match="A project with code C exists"):
        create_project(code="c", currency="USD", **base)
    with pytest.raises(PermissionDenied):
        create_project(code="D", currency="USD", **{**base, "actor": make_user(UserRole.CONSULTANT)})
    with pytest.raises(ValidationFailed, match="its rate card must be too"):
        create_rate_card(actor=seller, name="Y", currency="EUR", contract=contract, rates=[])
    assert list(Project.objects.values_list("code", flat=True)) == ["C"]
    assert not RateCard.objects.exists()
