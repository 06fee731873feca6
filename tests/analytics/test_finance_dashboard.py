"""The finance dashboard's billing forecast, contract balance roll-forward and close status, by hand."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analytics.dashboards import billing_forecast, close_status, revenue_rollforward
from analytics.services import refresh_rollups
from billing.models import BillingPlan, InvoiceLine, PlanItem
from core.roles import Role
from ledger.choices import AccountRole, PeriodStatus
from ledger.models import FiscalPeriod, GLAccount
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec

pytestmark = pytest.mark.django_db
D = Decimal
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def browser(make_user):
    def sign_in(*roles):
        client = Client()
        client.force_login(make_user(*roles))
        return client

    return sign_in


@pytest.fixture
def scheduled(firm):
    """Items on Globex's plan, seen from 15 April 2026 (April, May and June ahead): an instalment of
    1,000.00 overdue since 20 March and one of 500.00 on 10 May, a 2,500.00 milestone due 30 June; left
    out: a subscription period in July (past the horizon), a cancelled retainer fee and an invoiced one."""
    plan = BillingPlan.objects.get(contract=firm.p1.contract)
    line = InvoiceLine.objects.filter(invoice=firm.invoices[0]).first()
    for key, kind, day, amount, extra in (
        ("i1", "instalment", date(2026, 3, 20), "1000.00", {}),
        ("i2", "instalment", date(2026, 5, 10), "500.00", {}),
        ("m1", "milestone", date(2026, 6, 30), "2500.00", {}),
        ("s1", "subscription", date(2026, 7, 1), "300.00", {}),
        ("r1", "retainer_fee", date(2026, 4, 1), "999.00", {"cancelled": True}),
        ("i0", "instalment", date(2026, 4, 5), "777.00", {"invoice_line": line}),
    ):
        PlanItem.objects.create(
            plan=plan, kind=kind, key=key, description=key, date=day, amount=D(amount), **extra
        )
    refresh_rollups(actor=None)
    return firm


def test_billing_forecast_by_part_and_month(scheduled):
    """WIP: Ana's 20 h × 90.00 on Initech, unbilled = 1,800.00, billable now (April)."""
    forecast = billing_forecast(date(2026, 4, 15))
    assert forecast["months"] == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
    (usd,) = forecast["currencies"]
    assert usd["currency"] == "USD"
    assert {part["key"]: part["values"] for part in usd["parts"]} == {
        "wip": [D("1800.00"), D("0.00"), D("0.00")],
        "instalment": [D("1000.00"), D("500.00"), D("0.00")],
        "milestone": [D("0.00"), D("0.00"), D("2500.00")],
    }
    assert [part["key"] for part in usd["parts"]] == ["wip", "instalment", "milestone"]
    assert usd["totals"] == [D("2800.00"), D("500.00"), D("2500.00")]
    assert usd["total"] == D("5800.00")
    assert usd["parts"][0]["url"] == "/billing/reports/unbilled-wip/"


def test_billing_forecast_empty(db):
    assert billing_forecast(date(2026, 4, 15))["currencies"] == []


def _post(finance, entity, day, debit_role, credit_role, amount):
    accounts = {a.role: a for a in GLAccount.objects.filter(legal_entity=entity)}
    post_manual_entry(
        actor=finance,
        legal_entity=entity,
        date=day,
        memo=f"{debit_role} / {credit_role}",
        lines=[
            LineSpec(account=accounts[debit_role], currency="USD", debit=D(amount)),
            LineSpec(account=accounts[credit_role], currency="USD", credit=D(amount)),
        ],
    )


@pytest.fixture
def contract_balances(finance, entity):
    """Deferred: 1,200.00 invoiced ahead on 20 Jan, 400.00 recognised 10 Feb, 250.50 invoiced 5 Mar,
    333.33 recognised 31 Mar, 100.00 recognised 2 Apr (after March). Unbilled: 80.25 recognised 15 Mar,
    50.00 billed 20 Mar."""
    deferred, unbilled = AccountRole.DEFERRED_REVENUE, AccountRole.UNBILLED_REVENUE
    revenue, cash = AccountRole.REVENUE_FIXED, AccountRole.CASH
    _post(finance, entity, date(2026, 1, 20), cash, deferred, "1200.00")
    _post(finance, entity, date(2026, 2, 10), deferred, revenue, "400.00")
    _post(finance, entity, date(2026, 3, 5), cash, deferred, "250.50")
    _post(finance, entity, date(2026, 3, 31), deferred, revenue, "333.33")
    _post(finance, entity, date(2026, 4, 2), deferred, revenue, "100.00")
    _post(finance, entity, date(2026, 3, 15), unbilled, revenue, "80.25")
    _post(finance, entity, date(2026, 3, 20), cash, unbilled, "50.00")
    return entity


def test_rollforward_equation_to_the_cent(contract_balances):
    blocks = {block["role"]: block for block in revenue_rollforward(date(2026, 3, 1), date(2026, 3, 31))}
    deferred = blocks[AccountRole.DEFERRED_REVENUE]
    # March: 800.00 (1,200.00 − 400.00) + 250.50 − 333.33 = 717.17, and the ledger says so too.
    period = deferred["period"]
    assert (period["opening"], period["increase"], period["release"], period["closing"]) == (
        D("800.00"), D("250.50"), D("333.33"), D("717.17"),
    )  # fmt: skip
    assert period["ledger_closing"] == D("717.17") and period["balanced"]
    assert [row["label"] for row in deferred["months"]] == [
        "Oct 2025", "Nov 2025", "Dec 2025", "Jan 2026", "Feb 2026", "Mar 2026",
    ]  # fmt: skip
    assert [(r["opening"], r["increase"], r["release"], r["closing"]) for r in deferred["months"][3:]] == [
        (D("0.00"), D("1200.00"), D("0.00"), D("1200.00")),
        (D("1200.00"), D("0.00"), D("400.00"), D("800.00")),
        (D("800.00"), D("250.50"), D("333.33"), D("717.17")),
    ]
    assert all(row["closing"] == D("0.00") for row in deferred["months"][:3])
    unbilled = blocks[AccountRole.UNBILLED_REVENUE]["period"]
    assert (unbilled["opening"], unbilled["increase"], unbilled["release"], unbilled["closing"]) == (
        D("0.00"), D("80.25"), D("50.00"), D("30.25"),
    )  # fmt: skip
    assert unbilled["balanced"]


def test_close_status(finance, entity):
    FiscalPeriod.objects.filter(legal_entity=entity, start=date(2026, 1, 1)).update(
        status=PeriodStatus.CLOSED, closed_at=timezone.make_aware(datetime(2026, 2, 3, 9)), closed_by=finance
    )
    (row,) = close_status(date(2026, 3, 10))
    assert row["entity"] == entity
    assert row["last_closed"].start == date(2026, 1, 1)
    assert row["current"].start == date(2026, 2, 1)
    assert row["open_count"] == 2  # February and March
    assert [item.key for item in row["items"]] == [
        "approvals", "billing", "revenue", "fx_revaluation", "reconciliations", "trial_balance",
    ]  # fmt: skip
    assert row["counts"] == {"blocking": 0, "warning": 0, "ok": 6} and row["can_close"]


def test_close_status_before_any_period(entity):
    (row,) = close_status(date(2025, 6, 1))
    assert row["last_closed"] is None and row["current"] is None and row["items"] == []


def test_page_shows_the_three_panels(scheduled, contract_balances, browser):
    page = browser(Role.FINANCE).get("/dashboards/finance/", MARCH).content.decode()
    for panel in ("billing-forecast", "rollforward", "close-status"):
        assert f'data-panel="{panel}"' in page
    assert 'data-part="wip"' in page and "$1,800.00" in page
    assert "$717.17" in page and "$30.25" in page and "differs" not in page
    assert 'data-chart="chart_billing_forecast_0"' in page and 'id="chart_billing_forecast_0"' in page
    assert 'data-chart="chart_rollforward_0"' in page and 'id="chart_rollforward_0"' in page
    period = FiscalPeriod.objects.filter(status=PeriodStatus.OPEN).order_by("start").first()
    assert f'href="/ledger/periods/{period.pk}/"' in page
    assert "and 11 later months open" in page  # all twelve months of 2026 have started by now


def test_page_empty_states(db, browser):
    page = browser(Role.EXECUTIVE).get("/dashboards/finance/").content.decode()
    assert "Nothing to invoice ahead" in page
    assert page.count("No legal entity yet.") >= 3


def test_one_tab_bar_with_flow_health(db, browser):
    finance = browser(Role.FINANCE)
    dashboard = finance.get("/dashboards/finance/").content.decode()
    flow = finance.get("/dashboards/flow/").content.decode()
    for page in (dashboard, flow):
        assert page.count('aria-label="Dashboards"') == 1
        assert 'href="/dashboards/flow/"' in page and 'href="/dashboards/finance/"' in page
    assert 'href="/dashboards/flow/" aria-current="page"' in flow
    manager = browser(Role.PROJECT_MANAGER).get("/dashboards/flow/").content.decode()
    assert 'href="/dashboards/flow/"' in manager and 'href="/dashboards/finance/"' not in manager
