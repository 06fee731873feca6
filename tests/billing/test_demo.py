"""The billing demo: tax codes per legal entity and on every client, three months of billing runs (the
two older months released, paid, part-paid and credited; the newest in draft for review, one client over
its credit limit), all through the real services; loading it twice adds nothing.

The whole `load_demo` runs (twice, at today's date) in tests/core/test_platform.py. Here the firm comes from
the core, ledger and CRM loaders at a fixed date, so the months billed cross a year end; instead of the
delivery demo's 10,000 entries, a few hundred approved ones on the won deals' projects give the runs time
to bill."""

import random
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import demo as billing_demo
from billing.choices import CreditNoteStatus, InvoiceStatus, RunStatus, TaxKind
from billing.models import BillingRun, CreditNote, Invoice, InvoiceLine, TaxCode, TimeEntryBilling
from billing.selectors import invoices
from core import demo as core_demo
from core.management.commands.load_demo import DemoContext
from core.money import quantize
from crm import demo as crm_demo
from crm.models import Account
from ledger import demo as ledger_demo
from ledger.choices import AccountRole
from ledger.models import Allocation, ArItem, JournalEntry, Payment
from projects.choices import EntryStatus
from projects.models import Person, Project, Role, TimeEntry, Timesheet
from projects.weeks import week_start

D = Decimal
TODAY = date(2026, 2, 11)
LOADERS = (core_demo, ledger_demo, crm_demo, billing_demo)
# Who works on every won deal's project, two days a week: role, hours a day, hourly rate.
CREW = [("Senior consultant", D("7.5"), D("185")), ("Analyst", D("8"), D("110"))]


class _Quiet:
    def write(self, *args, **kwargs):
        pass


def _load():
    ctx = DemoContext(today=TODAY, rng=random.Random(2026), stdout=_Quiet())
    for module in LOADERS:
        if module is billing_demo and not TimeEntry.objects.exists():
            _approved_time()
        module.load(ctx)


def _approved_time():
    """Approved billable time, as timesheet approval leaves it, on Tuesdays and Thursdays of the last
    four months on each project the CRM handoff made (first and last task)."""
    rated = timezone.make_aware(datetime(2025, 9, 1))
    roles = {role.name: role for role in Role.objects.filter(name__in=[name for name, _, _ in CREW])}
    entries = []
    for project in Project.objects.filter(contract__isnull=False).order_by("pk"):
        tasks = list(project.tasks.filter(billable=True).order_by("pk"))
        day = max(project.start, TODAY - timedelta(days=120))
        while day < min(project.end, TODAY):
            if day.weekday() in (1, 3):
                for role_name, hours, rate in CREW:
                    role = roles[role_name]
                    person, _ = Person.objects.get_or_create(
                        name=f"{role_name} of {project.legal_entity.invoice_prefix}",
                        defaults={"role": role, "legal_entity": project.legal_entity},
                    )
                    sheet, _ = Timesheet.objects.get_or_create(person=person, week_start=week_start(day))
                    entries.append(
                        TimeEntry(
                            person=person,
                            project=project,
                            # Tuesdays on the first phase, Thursdays on the last: each line has work.
                            task=tasks[0] if day.weekday() == 1 else tasks[-1],
                            timesheet=sheet,
                            role=role,
                            date=day,
                            hours=hours,
                            billable=True,
                            status=EntryStatus.APPROVED,
                            currency=project.currency,
                            bill_rate=rate,
                            cost_rate=D("60"),
                            rated_at=rated,
                        )
                    )
            day += timedelta(days=1)
    TimeEntry.objects.bulk_create(entries)


def _counts() -> tuple:
    return tuple(
        model.objects.count()
        for model in (
            TaxCode,
            BillingRun,
            Invoice,
            InvoiceLine,
            TimeEntryBilling,
            CreditNote,
            Payment,
            Allocation,
            ArItem,
            JournalEntry,
        )
    )


def test_the_months_and_working_days_it_bills():
    assert billing_demo.completed_months(TODAY, 3) == [
        (date(2025, 11, 1), date(2025, 11, 30)),
        (date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 1, 31)),
    ]
    assert billing_demo.next_working_day(date(2026, 1, 31)) == date(2026, 2, 2)  # a Saturday → Monday
    assert billing_demo.next_working_day(date(2025, 12, 31)) == date(2026, 1, 1)


@pytest.mark.django_db
def test_the_demo_firms_billing():
    _load()

    codes = {(t.legal_entity.invoice_prefix, t.code): t for t in TaxCode.objects.select_related("account")}
    assert set(codes) == {("US-", "US-EXEMPT"), ("EU-", "DE19"), ("EU-", "EU-RC")}
    assert (codes["US-", "US-EXEMPT"].kind, codes["US-", "US-EXEMPT"].rate_percent) == (TaxKind.EXEMPT, 0)
    assert (codes["EU-", "EU-RC"].kind, codes["EU-", "EU-RC"].rate_percent) == (TaxKind.ZERO_RATED, 0)
    de19 = codes["EU-", "DE19"]
    assert (de19.kind, de19.rate_percent, de19.account.role) == (
        TaxKind.STANDARD,
        D("19"),
        AccountRole.TAX_PAYABLE,
    )
    for account in Account.objects.select_related("legal_entity"):
        assert (account.legal_entity.invoice_prefix, account.tax_code) in codes, account.name
    assert Account.objects.get(name="Initech Software GmbH").tax_code == "DE19"
    assert Account.objects.get(name="Margie's Travel BV").tax_code == "EU-RC"

    runs = list(BillingRun.objects.order_by("period_end", "legal_entity_id"))
    assert [(run.period_end, run.legal_entity.invoice_prefix) for run in runs] == [
        (day, prefix)
        for day in (date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31))
        for prefix in ("US-", "EU-")
    ]
    assert {run.status for run in runs} == {RunStatus.COMPLETED}

    rows = list(invoices().select_related("run"))
    statuses = Counter(invoice.effective_status for invoice in rows)
    assert statuses[InvoiceStatus.DRAFT] > 0
    assert statuses[InvoiceStatus.RELEASED] > 0
    assert statuses[InvoiceStatus.PAID] > 0
    assert statuses[InvoiceStatus.PARTIALLY_PAID] > 0
    newest = [invoice for invoice in rows if invoice.run.period_end == date(2026, 1, 31)]
    assert newest and {invoice.status for invoice in newest} == {InvoiceStatus.DRAFT}
    older = [invoice for invoice in rows if invoice.run.period_end < date(2026, 1, 31)]
    issued = [invoice for invoice in older if invoice.status != InvoiceStatus.DRAFT]
    assert len(issued) > 0.8 * len(older)
    issue_dates = {invoice.run.period_end: invoice.issue_date for invoice in issued}
    assert issue_dates == {date(2025, 11, 30): date(2025, 12, 1), date(2025, 12, 31): date(2026, 1, 1)}
    numbers = [i.number for i in sorted(issued, key=lambda i: i.pk) if i.number.startswith("US-")]
    assert numbers[0] == "US-2025-000001"
    assert "US-2026-000001" in numbers
    for invoice in issued:
        assert invoice.ar_item.amount == invoice.total_amount
        assert invoice.tax_amount == (
            quantize(invoice.subtotal_amount * D("0.19"), invoice.currency)
            if invoice.account.tax_code == "DE19"
            else 0
        )
    assert any(invoice.tax_amount > 0 for invoice in issued)

    note = CreditNote.objects.get()
    assert note.status == CreditNoteStatus.RELEASED
    assert note.invoice.issue_date < note.issue_date < TODAY
    assert Allocation.objects.filter(credit_item=note.ar_item, debit_item=note.invoice.ar_item).exists()
    payments = list(Payment.objects.filter(reference__startswith="DEMO-REMIT-").select_related("ar_item"))
    assert payments
    for payment in payments:
        assert payment.date < TODAY
        assert payment.ar_item.open_amount == 0  # every remittance is applied to its invoice

    flagged = [invoice for invoice in newest if any(flag["code"] == "credit_limit" for flag in invoice.flags)]
    assert len({invoice.account_id for invoice in flagged}) == 1
    assert Account.objects.filter(credit_limit__isnull=False).count() >= 2

    before = _counts()
    _load()
    assert _counts() == before
