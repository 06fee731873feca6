"""The revenue demo: estimates at completion for the percent-complete obligations of the demo contracts, then
a revenue run per legal entity for each month the billing demo billed, all through the real services; the
revenue they recognised is the revenue in the ledger, and loading it twice adds nothing.

As in tests/billing/test_demo.py, the firm comes from the core, ledger, CRM and billing loaders at a fixed
date (the months run cross a year end), with a few hundred approved entries on the won deals' projects
instead of the delivery demo's 10,000."""

import random
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import demo as billing_demo
from core import demo as core_demo
from core.management.commands.load_demo import DemoContext
from core.models import AuditEvent
from crm import demo as crm_demo
from ledger import demo as ledger_demo
from ledger.choices import AccountRole
from ledger.models import JournalEntry, JournalLine
from projects.models import TimeEntry
from revrec import demo as revrec_demo
from revrec.choices import LineStatus, ObligationStatus, RevenueMethod, RunStatus
from revrec.models import Allocation, PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.reports.deferred import deferred_revenue_rollforward
from tests.billing.test_demo import TODAY, _approved_time

D = Decimal
REVENUE_ROLES = (
    AccountRole.REVENUE_TM,
    AccountRole.REVENUE_FIXED,
    AccountRole.REVENUE_SUBSCRIPTION,
    AccountRole.REVENUE_EXPENSE,
)


class _Output:
    def __init__(self):
        self.lines = []

    def write(self, text="", *args, **kwargs):
        self.lines.append(text)


def _load(stdout=None) -> float:
    """Load the small firm and the revenue demo; the seconds the revenue demo took."""
    ctx = DemoContext(today=TODAY, rng=random.Random(2026), stdout=stdout or _Output())
    for module in (core_demo, ledger_demo, crm_demo, billing_demo):
        if module is billing_demo and not TimeEntry.objects.exists():
            _approved_time()
        module.load(ctx)
    started = time.monotonic()
    revrec_demo.load(ctx)
    return time.monotonic() - started


def _counts() -> tuple:
    return (
        RevenueRun.objects.count(),
        RevenueScheduleLine.objects.count(),
        Allocation.objects.count(),
        JournalEntry.objects.count(),
        AuditEvent.objects.filter(action__startswith="obligation.").count(),
        AuditEvent.objects.filter(action__startswith="revenue_run.").count(),
        tuple(PerformanceObligation.objects.order_by("pk").values_list("estimated_total_cost", flat=True)),
    )


@pytest.mark.django_db
def test_the_demo_firms_revenue():
    output = _Output()
    _load(output)

    runs = list(RevenueRun.objects.select_related("legal_entity").order_by("period_end", "legal_entity_id"))
    assert [(run.period_end, run.legal_entity.invoice_prefix) for run in runs] == [
        (day, prefix)
        for day in (date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31))
        for prefix in ("US-", "EU-")
    ]
    assert {run.status for run in runs} == {RunStatus.COMPLETED}
    assert {run.created_by.username for run in runs} == {"finance"}
    assert all(run.done_contracts == run.total_contracts > 0 for run in runs)

    # Every percent-complete obligation of a demo contract measures against an estimate set with a reason.
    percent = PerformanceObligation.objects.filter(
        method=RevenueMethod.PERCENT_COMPLETE, status=ObligationStatus.ACTIVE
    )
    assert percent.exists()
    for obligation in percent:
        assert obligation.estimated_total_cost > 0, obligation
        event = AuditEvent.objects.get(action="obligation.estimate_changed", object_id=str(obligation.pk))
        assert event.actor.username == "finance" and event.reason

    # The revenue the runs recognised is the revenue in the ledger, per currency, to the cent.
    recognised = defaultdict(lambda: D(0))
    for currency, total in (
        RevenueScheduleLine.objects.filter(status=LineStatus.RECOGNIZED)
        .values_list("obligation__currency")
        .annotate(total=Sum("amount"))
    ):
        recognised[currency] += total
    in_gl = defaultdict(lambda: D(0))
    deferred_debited = defaultdict(lambda: D(0))
    for line in JournalLine.objects.filter(entry__source_type="revrec.run").select_related("account"):
        if line.account.role in REVENUE_ROLES:
            in_gl[line.currency] += line.credit - line.debit
        else:
            assert line.account.role == AccountRole.DEFERRED_REVENUE
            deferred_debited[line.currency] += line.debit - line.credit
    assert {"USD", "EUR"} <= set(recognised)
    assert all(amount > 0 for amount in recognised.values())
    assert dict(in_gl) == dict(recognised) == dict(deferred_debited)
    # …and what each run reports recognising is what its lines add up to.
    for run in runs:
        lines = dict(
            RevenueScheduleLine.objects.filter(run=run)
            .values_list("obligation__currency")
            .annotate(total=Sum("amount"))
        )
        assert {currency: D(amount) for currency, amount in run.totals.items()} == lines, run
    assert RevenueScheduleLine.objects.filter(
        status=LineStatus.RECOGNIZED, obligation__method=RevenueMethod.PERCENT_COMPLETE
    ).exists()
    assert any("revenue runs recognising" in line for line in output.lines)

    # Every demo month's deferred revenue rolls forward: opening + billed − recognised + reclassified
    # = closing, with nothing else posted to it.
    for run in runs:
        start = date(run.period_end.year, run.period_end.month, 1)
        rows = deferred_revenue_rollforward(run.legal_entity, start, run.period_end)["rows"]
        assert rows and all(row["identity_holds"] and row["other"] == 0 for row in rows), run

    before = _counts()
    _load()
    assert _counts() == before
