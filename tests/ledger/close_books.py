"""March 2026 of a small firm, ready to close: 10 h of Senior time at 150.00 approved on 2 March, billed by
a run to 31 March and released that day (1,500.00 + 20% tax = 1,800.00 of AR), and recognised by the
March revenue run (1,500.00). Import the fixtures into a test module to use them."""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from billing.models import Invoice
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.roles import Role
from ledger.choices import PeriodStatus
from ledger.models import FiscalPeriod
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm
    approved_time,
    client_account,
    entity,
    finance,
    make_contract,
    people,
    roles,
    tm_line,
    vat20,
)

D = Decimal
MARCH_END = date(2026, 3, 31)


def bill(finance, entity, period_end=MARCH_END, issue_date=MARCH_END):
    """A billing run to `period_end`, its drafts released on `issue_date`."""
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    execute_billing_run(run_id=run.pk)
    return [
        release_invoice(actor=finance, invoice=i, issue_date=issue_date)
        for i in Invoice.objects.filter(run=run)
    ]


def recognise(finance, entity, period_end=MARCH_END):
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
    return execute_revenue_run(run_id=run.pk)


def period_of(entity, day: date) -> FiscalPeriod:
    return FiscalPeriod.objects.get(legal_entity=entity, start__lte=day, end__gte=day)


@pytest.fixture
def worked(entity, roles, people, make_contract):
    """March worked but neither billed nor recognised."""
    contract, project = make_contract([tm_line(roles.senior, "150.00")])
    project.allow_any_person = True
    project.save(update_fields=["allow_any_person"])
    entry = approved_time(people.sam, project, date(2026, 3, 2), "10", "150.00")
    return SimpleNamespace(
        entity=entity,
        contract=contract,
        project=project,
        entry=entry,
        people=people,
        period=period_of(entity, MARCH_END),
    )


@pytest.fixture
def march(worked, finance, make_user):
    """March billed and recognised: nothing blocks its close."""
    [invoice] = bill(finance, worked.entity)
    recognise(finance, worked.entity)
    worked.invoice = invoice
    worked.finance = finance
    worked.admin = make_user(Role.ADMIN, username="ada")
    return worked


def mark_closed(period: FiscalPeriod, actor=None) -> FiscalPeriod:
    """Close a period without its checklist: for tests of what a closed period refuses, whose books are
    not in a closable state (the close itself is tested in tests/ledger/test_close.py)."""
    FiscalPeriod.objects.filter(pk=period.pk).update(
        status=PeriodStatus.CLOSED, closed_at=timezone.now(), closed_by=actor
    )
    period.refresh_from_db()
    return period
