"""A small firm for the analytics tests, on the billing tests' one (a USD entity, Globex, Sam Senior and
Ana Analyst at 40 h a week): a standard rate card (Senior 175.00, Analyst 100.00), `work` to put approved
time in place at a bill and cost rate, and `bill` to run billing and release what it drafted."""

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from billing.models import Invoice
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from crm.models import Account
from projects.choices import EntryStatus
from projects.models import RateCard, RateCardRate, TimeEntry, Timesheet
from projects.weeks import week_start
from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm
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


@pytest.fixture
def standard_card(roles):  # noqa: F811 - the imported fixture
    card = RateCard.objects.create(name="Standard 2026", currency="USD")
    RateCardRate.objects.create(rate_card=card, role=roles.senior, rate=D("175"), valid_from=date(2026, 1, 1))
    RateCardRate.objects.create(
        rate_card=card, role=roles.analyst, rate=D("100"), valid_from=date(2026, 1, 1)
    )
    return card


def work(person, project, day: date, hours, *, rate, cost, billable=True, approved_on: date | None = None):
    """An approved time entry (what approval leaves behind), approved on `approved_on` (default: the day)."""
    sheet, _ = Timesheet.objects.get_or_create(person=person, week_start=week_start(day))
    approved = timezone.make_aware(datetime.combine(approved_on or day, datetime.min.time().replace(hour=12)))
    return TimeEntry.objects.create(
        person=person,
        project=project,
        task=project.tasks.first(),
        timesheet=sheet,
        role=person.role,
        date=day,
        hours=D(hours),
        billable=billable,
        status=EntryStatus.APPROVED,
        currency=project.currency,
        bill_rate=D(rate) if billable else D(0),
        cost_rate=D(cost),
        rated_at=approved,
        approved_at=approved,
    )


def bill(finance, entity, period_end: date, issue_date: date) -> list[Invoice]:  # noqa: F811
    """Run billing to `period_end` and release every draft it made on `issue_date`."""
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end)
    execute_billing_run(run_id=run.pk)
    return [
        release_invoice(actor=finance, invoice=invoice, issue_date=issue_date)
        for invoice in Invoice.objects.filter(run=run).order_by("pk")
    ]


@pytest.fixture
def firm(finance, entity, vat20, roles, people, make_contract, standard_card):  # noqa: F811
    """The week of Monday 2 March 2026 (5 weekdays: 40 h available each):
    - Sam (Senior, cost 80.00) on Globex's P1 at 150.00: 8 h billable on Mon–Wed, 4 h non-billable on
      Thursday; billed by a run to 31 March, released 1 April;
    - Ana (Analyst, cost 40.00) on Initech's P2 at 90.00: 10 h billable on Mon and Tue, left unbilled."""
    _, p1 = make_contract([tm_line(roles.senior, "150.00")], code="P1")
    for day in (2, 3, 4):
        work(people.sam, p1, date(2026, 3, day), "8", rate="150", cost="80")
    work(people.sam, p1, date(2026, 3, 5), "4", rate="0", cost="80", billable=False)
    invoices = bill(finance, entity, date(2026, 3, 31), date(2026, 4, 1))
    initech = Account.objects.create(
        name="Initech", legal_entity=entity, currency="USD", tax_code="VAT20", payment_terms_days=30
    )
    _, p2 = make_contract([tm_line(roles.analyst, "90.00")], account=initech, code="P2")
    for day in (2, 3):
        work(people.ana, p2, date(2026, 3, day), "10", rate="90", cost="40")
    return SimpleNamespace(p1=p1, p2=p2, globex=p1.account, initech=initech, invoices=invoices)
