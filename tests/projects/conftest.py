"""A small consultancy for the projects tests: a USD entity, a client, roles, a project manager, a
consultant assigned to a project with two tasks, and a standard rate card. Dates are fixed around
TODAY (a Wednesday) and passed to the services, so the tests do not depend on the calendar."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.roles import Role as UserRole
from crm.models import Account
from ledger.services.setup import create_legal_entity
from projects.models import Person, Role
from projects.services.people import create_assignment, create_person
from projects.services.projects import create_project
from projects.services.rates import create_rate_card, set_cost_rate

D = Decimal
FULL_TIME = D(40)
TODAY = date(2026, 3, 18)
MONDAY = date(2026, 3, 16)


@pytest.fixture
def usd_entity(db):
    return create_legal_entity(
        actor=None,
        name="Acme Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="AC-",
        today=date(2026, 1, 15),
    )


@pytest.fixture
def client_account(usd_entity):
    return Account.objects.create(name="Globex Corp", legal_entity=usd_entity, currency="USD")


@pytest.fixture
def roles(db):
    return SimpleNamespace(
        consultant=Role.objects.create(name="Consultant"),
        senior=Role.objects.create(name="Senior consultant"),
        analyst=Role.objects.create(name="Analyst"),
    )


@pytest.fixture
def make_person(make_user, usd_entity, roles):
    """make_person("Chloe Novak", UserRole.CONSULTANT, role=roles.senior) → a Person with a user."""

    def make(name, *user_roles, role=None, capacity=FULL_TIME, cost=None, user=True, skills=(), **kwargs):
        first, _, last = name.partition(" ")
        account = make_user(*user_roles, first_name=first, last_name=last) if user else None
        person = create_person(
            actor=None,
            name=name,
            role=role or roles.consultant,
            legal_entity=usd_entity,
            user=account,
            capacity_hours_per_week=capacity,
            skills=skills,
            **kwargs,
        )
        if cost is not None:
            set_cost_rate(actor=None, person=person, rate=D(cost), valid_from=date(2025, 1, 1))
        return person

    return make


@pytest.fixture
def firm(usd_entity, client_account, roles, make_person):
    """The cast: Priya (PM), Chloe (consultant, assigned), Dan (consultant, not assigned), one project."""
    pm = make_person("Priya Mendes", UserRole.PROJECT_MANAGER, role=roles.senior, cost="90")
    chloe = make_person("Chloe Novak", UserRole.CONSULTANT, cost="60")
    dan = make_person("Dan Brook", UserRole.CONSULTANT, cost="55")
    project = create_project(
        actor=None,
        account=client_account,
        legal_entity=usd_entity,
        code="GLX-1",
        name="Globex ERP rollout",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        manager=pm,
        budget_hours=D("1000"),
        budget_amount=D("150000.00"),
        target_margin_percent=D("40"),
        tasks=[
            {
                "name": "Discovery",
                "billable": True,
                "children": [{"name": "Workshops"}, {"name": "Travel", "billable": False}],
            },
            {"name": "Internal", "billable": False},
        ],
    )
    tasks = {t.name: t for t in project.tasks.all()}
    create_assignment(
        actor=None,
        person=chloe,
        project=project,
        start=date(2026, 1, 1),
        end=date(2026, 6, 30),
        hours=D("800"),
    )
    card = create_rate_card(
        actor=None,
        name="Standard USD",
        currency="USD",
        rates=[
            {"role": roles.consultant, "rate": D("150"), "valid_from": date(2025, 1, 1)},
            {"role": roles.senior, "rate": D("200"), "valid_from": date(2025, 1, 1)},
        ],
    )
    return SimpleNamespace(
        entity=usd_entity,
        client=client_account,
        roles=roles,
        pm=pm,
        chloe=chloe,
        dan=dan,
        project=project,
        tasks=tasks,
        workshops=tasks["Workshops"],
        travel=tasks["Travel"],
        internal=tasks["Internal"],
        standard_card=card,
    )


def person_user(person: Person):
    return person.user
