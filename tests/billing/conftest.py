"""A small firm for the billing tests: a USD entity with a 20% tax code, a client, roles, people, and
`make_contract` / `approved_time` / `approved_expense` helpers that put approved work in place directly
(the projects tests cover how work gets approved; these cover what billing does with it)."""

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from billing.services.tax import create_tax_code
from core.roles import Role as UserRole
from crm.models import Account
from crm.services.contracts import create_contract
from crm.services.terms import normalise_line
from ledger.choices import AccountRole
from ledger.selectors import account_by_role
from ledger.services.setup import create_legal_entity
from projects.choices import EntryStatus
from projects.models import Expense, Person, Role, TimeEntry, Timesheet
from projects.services.projects import create_project
from projects.weeks import week_start

D = Decimal


@pytest.fixture
def finance(make_user):
    return make_user(UserRole.FINANCE, username="fiona")


@pytest.fixture
def entity(db):
    return create_legal_entity(
        actor=None,
        name="Acme Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=date(2026, 1, 15),
    )


@pytest.fixture
def vat20(entity, finance):
    return create_tax_code(
        actor=finance,
        legal_entity=entity,
        code="VAT20",
        name="VAT 20%",
        rate_percent=D("20"),
        account=account_by_role(entity, AccountRole.TAX_PAYABLE),
    )


@pytest.fixture
def client_account(entity, vat20):
    return Account.objects.create(
        name="Globex Corp",
        legal_entity=entity,
        currency="USD",
        tax_code="VAT20",
        billing_email="ap@globex.example",
        payment_terms_days=30,
    )


@pytest.fixture
def roles(db):
    return SimpleNamespace(
        senior=Role.objects.create(name="Senior"),
        analyst=Role.objects.create(name="Analyst"),
    )


@pytest.fixture
def people(entity, roles):
    def person(name, role):
        return Person.objects.create(name=name, role=role, legal_entity=entity, capacity_hours_per_week=D(40))

    return SimpleNamespace(sam=person("Sam Senior", roles.senior), ana=person("Ana Analyst", roles.analyst))


@pytest.fixture
def make_contract(client_account, finance):
    """make_contract([line spec, ...]) → (contract, project) with the project linked to the contract."""

    def make(lines, account=None, code=None):
        account = account or client_account
        contract = create_contract(
            actor=finance,
            account=account,
            currency=account.currency,
            lines=[normalise_line(spec, account.currency) for spec in lines],
        )
        project = create_project(
            actor=None,
            account=account,
            legal_entity=account.legal_entity,
            code=code or contract.number,
            name=f"Project of {contract.number}",
            currency=account.currency,
            start=contract.start,
            end=contract.end,
            contract=contract,
            tasks=[{"name": "Delivery", "billable": True}],
        )
        return contract, project

    return make


def tm_line(role, rate, *, hours="500", cap=None, start=date(2026, 1, 1), end=date(2026, 12, 31), name=None):
    spec = {
        "description": name or f"{role.name} time",
        "billing_model": "time_and_materials",
        "role": role.pk,
        "rate": D(rate),
        "hours": D(hours),
        "start": start,
        "end": end,
    }
    if cap is not None:
        spec["cap_amount"] = D(cap)
    return spec


def approved_time(person, project, day: date, hours, rate, *, role=None, notes=""):
    """An approved billable time entry at a snapshot bill rate (what approval leaves behind)."""
    sheet, _ = Timesheet.objects.get_or_create(person=person, week_start=week_start(day))
    task = project.tasks.first()
    return TimeEntry.objects.create(
        person=person,
        project=project,
        task=task,
        timesheet=sheet,
        role=role or person.role,
        date=day,
        hours=D(hours),
        billable=True,
        notes=notes,
        status=EntryStatus.APPROVED,
        currency=project.currency,
        bill_rate=D(rate),
        cost_rate=D("50"),
        rated_at=timezone.make_aware(datetime(2026, 1, 1)),
    )


def approved_expense(person, project, day: date, amount, *, markup="0", category="lodging"):
    return Expense.objects.create(
        person=person,
        project=project,
        date=day,
        category=category,
        amount=D(amount),
        currency=project.currency,
        billable=True,
        markup_percent=D(markup),
        project_currency=project.currency,
        exchange_rate=D(1),
        converted_amount=D(amount),
        status=EntryStatus.APPROVED,
    )
