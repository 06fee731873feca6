"""The KPIs that are ledger or revenue figures equal what the ledger, billing and revenue recognition say for
the same date: revenue (per month and client), deferred and unbilled revenue, WIP, backlog."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Q, Sum

from analytics.selectors import kpi_report
from analytics.services import refresh_rollups
from billing.reports.wip import unbilled_wip
from ledger.choices import AccountRole, AccountType
from ledger.models import JournalLine
from ledger.reports.financial import profit_and_loss
from ledger.selectors import accounts_by_role
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from projects.models import Project
from revrec.reports import rpo_disclosure
from revrec.services.runs import execute_revenue_run, start_revenue_run

D = Decimal
pytestmark = pytest.mark.django_db
APRIL = {"start": date(2026, 4, 1), "end": date(2026, 4, 30)}


def balance(entity, role, as_of, sign) -> Decimal:
    lines = JournalLine.objects.filter(legal_entity=entity, account__role=role, date__lte=as_of)
    totals = lines.aggregate(d=Sum("functional_debit"), c=Sum("functional_credit"))
    return sign * ((totals["d"] or D(0)) - (totals["c"] or D(0)))


@pytest.fixture
def recognised(firm, finance, entity):
    """Revenue runs for March and April, and revenue booked by hand from deferred revenue: Globex's P1
    1,000.00 in March and 1,500.00 in April, less a 200.00 correction in April; Initech 700.00 in April."""
    for period_end in (date(2026, 3, 31), date(2026, 4, 30)):
        run = start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
        execute_revenue_run(run_id=run.pk)
    accounts = accounts_by_role(entity)
    deferred, revenue = accounts[AccountRole.DEFERRED_REVENUE], accounts[AccountRole.REVENUE_TM]
    for day, client, project, amount in (
        (date(2026, 3, 20), firm.globex, firm.p1, D("1000.00")),
        (date(2026, 4, 10), firm.globex, firm.p1, D("1500.00")),
        (date(2026, 4, 12), firm.globex, firm.p1, D("-200.00")),
        (date(2026, 4, 15), firm.initech, firm.p2, D("700.00")),
    ):
        dims = {"currency": "USD", "client_id": client.pk, "project_id": project.pk}
        debit, credit = (deferred, revenue) if amount > 0 else (revenue, deferred)
        post_manual_entry(
            actor=finance,
            legal_entity=entity,
            date=day,
            memo="Revenue recognised",
            lines=[
                LineSpec(account=debit, debit=abs(amount), **dims),
                LineSpec(account=credit, credit=abs(amount), **dims),
            ],
        )
    refresh_rollups(actor=None)
    return firm


def test_balances_equal_the_ledger_and_the_modules(recognised, entity):
    (usd,) = kpi_report(group_by="client", **APRIL)["totals"]
    pnl = profit_and_loss(legal_entity=entity, start=APRIL["start"], end=APRIL["end"])
    assert usd["revenue"] == pnl["totals"]["revenue"] == D("2000.00")  # 1,500 − 200 + 700
    assert usd["deferred_revenue"] == balance(entity, AccountRole.DEFERRED_REVENUE, APRIL["end"], -1)
    assert usd["unbilled_revenue"] == balance(entity, AccountRole.UNBILLED_REVENUE, APRIL["end"], 1)
    assert usd["wip"] == unbilled_wip(entity, APRIL["end"]).total_of("USD") == D("1800.00")
    backlog = {row["currency"]: row["total"] for row in rpo_disclosure(entity, APRIL["end"])["totals"]}
    assert usd["backlog"] == backlog.get("USD", D("0.00"))


def test_revenue_by_month_and_client_equals_the_journal(recognised, entity):
    rows = kpi_report(group_by="client", start=date(2026, 3, 1), end=date(2026, 4, 30))["rows"]
    revenue = JournalLine.objects.filter(account__type=AccountType.REVENUE)
    for row in rows:
        # Revenue runs post without the client but with the project: the project's client counts it.
        projects = Project.objects.filter(account_id=row["key"]).values("pk")
        of_client = Q(client_id=row["key"]) | Q(client__isnull=True, project_id__in=projects)
        lines = revenue.filter(of_client).aggregate(c=Sum("functional_credit"), d=Sum("functional_debit"))
        assert row["revenue"] == (lines["c"] or D(0)) - (lines["d"] or D(0))
    months = kpi_report(group_by="month", start=date(2026, 3, 1), end=date(2026, 4, 30))["rows"]
    for row in months:
        day = date.fromisoformat(row["key"])
        end = date(2026, day.month + 1, 1)
        lines = revenue.filter(date__gte=day, date__lt=end).aggregate(
            c=Sum("functional_credit"), d=Sum("functional_debit")
        )
        assert row["revenue"] == (lines["c"] or D(0)) - (lines["d"] or D(0))
    # The March run recognises March's time as delivered: Sam 24 h × 150.00 = 3,600.00 for Globex, Ana
    # 20 h × 90.00 = 1,800.00 for Initech; by hand Globex 1,000.00 + 1,500.00 − 200.00, Initech 700.00.
    assert {row["name"]: row["revenue"] for row in rows} == {
        "Globex Corp": D("5900.00"),
        "Initech": D("2500.00"),
    }
    assert [row["revenue"] for row in months] == [D("6400.00"), D("2000.00")]
