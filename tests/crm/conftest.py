from datetime import date
from decimal import Decimal

import pytest

from core.roles import Role
from crm.models import Account
from crm.services.pipeline import create_opportunity
from ledger.services.setup import create_legal_entity
from projects.models import Role as DeliveryRole

START = date(2026, 1, 5)


@pytest.fixture
def usd_entity(db):
    return create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=date(2026, 1, 15),
    )


@pytest.fixture
def pm(make_user):
    return make_user(Role.PROJECT_MANAGER, first_name="Priya", last_name="Mendes")


@pytest.fixture
def roles(db):
    return {
        "senior": DeliveryRole.objects.create(name="Senior consultant"),
        "analyst": DeliveryRole.objects.create(name="Analyst"),
        "support": DeliveryRole.objects.create(name="Support engineer"),
    }


@pytest.fixture
def client_account(usd_entity, pm):
    return Account.objects.create(
        name="Northwind Health",
        normalized_name="northwind health",
        legal_entity=usd_entity,
        currency="USD",
        payment_terms_days=30,
        tax_code="US-EXEMPT",
        billing_email="ap@northwind.example.com",
        owner=pm,
        domain="northwind.example.com",
    )


def mixed_deal_lines(roles) -> list[dict]:
    """The issue's mixed deal: fixed-fee discovery, T&M implementation with two roles at different rates,
    a monthly support retainer for 12 months, and two milestones."""
    return [
        {
            "service": "Discovery",
            "phase": "Discovery",
            "billing_model": "fixed_fee",
            "amount": Decimal("50000.00"),
            "instalments": 3,
            "start": date(2026, 1, 5),
            "end": date(2026, 2, 27),
        },
        {
            "service": "Implementation: senior consultant",
            "phase": "Implementation",
            "billing_model": "time_and_materials",
            "role": roles["senior"].pk,
            "hours": Decimal("400"),
            "rate": Decimal("180.00"),
            "cap_amount": Decimal("75000.00"),
            "start": date(2026, 3, 2),
            "end": date(2026, 8, 28),
        },
        {
            "service": "Implementation: analyst",
            "phase": "Implementation",
            "billing_model": "time_and_materials",
            "role": roles["analyst"].pk,
            "hours": Decimal("600"),
            "rate": Decimal("110.00"),
            "start": date(2026, 3, 2),
            "end": date(2026, 8, 28),
        },
        {
            "service": "Support retainer",
            "phase": "Support",
            "billing_model": "retainer",
            "role": roles["support"].pk,
            "billing_period": "monthly",
            "period_amount": Decimal("8000.00"),
            "period_hours": Decimal("40"),
            "overage_rate": Decimal("150.00"),
            "unused_hours": "forfeit",
            "start": date(2026, 9, 1),
            "end": date(2027, 8, 31),
        },
        {
            "service": "Delivery milestones",
            "phase": "Implementation",
            "billing_model": "milestone",
            "start": date(2026, 3, 2),
            "end": date(2026, 8, 28),
            "milestones": [
                {"name": "Design signed off", "due": "2026-04-30", "amount": "12000.00"},
                {"name": "Go-live", "due": "2026-08-28", "amount": "18000.00"},
            ],
        },
    ]


@pytest.fixture
def mixed_deal(client_account, pm, roles):
    return create_opportunity(
        actor=pm,
        account=client_account,
        name="Northwind EHR rollout",
        expected_close=date(2026, 1, 2),
        stage="negotiate",
        lines=mixed_deal_lines(roles),
    )


@pytest.fixture
def pm_person(pm, usd_entity, roles):
    """The account manager's person record: the handoff makes them the project's manager."""
    from projects.services.people import create_person

    return create_person(
        actor=None, name="Priya Mendes", role=roles["senior"], legal_entity=usd_entity, user=pm
    )


@pytest.fixture
def cost_rates(usd_entity, roles):
    """People with cost rates: senior consultants cost 90.00 and 110.00 (average 100.00), analysts 60.00."""
    from projects.services.people import create_person
    from projects.services.rates import set_cost_rate

    def person(name, role, rate):
        someone = create_person(actor=None, name=name, role=roles[role], legal_entity=usd_entity)
        set_cost_rate(actor=None, person=someone, rate=Decimal(rate), valid_from=date(2025, 1, 1))

    person("Sam Senior", "senior", "90.00")
    person("Sasha Senior", "senior", "110.00")
    person("Ana Analyst", "analyst", "60.00")
