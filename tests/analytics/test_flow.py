"""Flow health on constructed data: each stage's throughput and latency median and p90 per month, worked
by hand, the same in SQL (percentile_cont) and in Python; the exceptions and the rows behind them; the
page, its CSV, empty state and who may read it."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics import flow
from billing.choices import HoldStatus
from billing.models import BillingPlan, BillingRun, Invoice, OverCapEntry
from core import audit
from core.models import Event, WebhookDelivery, WebhookSubscription
from core.roles import Role
from crm.models import Opportunity
from crm.services.contracts import create_contract
from crm.services.terms import normalise_line
from ledger.models import DunningRun, FiscalPeriod, PeriodCloseReport
from ledger.services.ar.payments import record_payment
from projects.choices import EntryStatus
from projects.models import TimeEntry
from projects.services.projects import create_project, set_project_status
from revrec.models import RevenueRun
from tests.analytics.conftest import firm, standard_card, work  # noqa: F401 - the analytics fixture firm
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
pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)


def at(year, month, day, hour=0, minute=0):
    return timezone.make_aware(datetime(year, month, day, hour, minute))


def by_key(stages) -> dict:
    return {
        health["stage"].key: {row["month"]: row for row in health["months"] if row["count"]}
        for health in stages
    }


def months_of(row) -> tuple:
    return (row["count"], row["median_days"], row["p90_days"])


@pytest.fixture
def won_deals(client_account, finance, roles):  # noqa: F811
    """Two won deals: one whose project the handoff created active 2.5 days after the win (4 May 09:00 →
    6 May 21:00); one whose planned project became active 10 days after its win (1 → 11 May, midnight)."""

    def deal(name, won_at):
        opportunity = Opportunity.objects.create(
            account=client_account,
            name=name,
            stage="won",
            currency="USD",
            expected_close=won_at.date(),
            closed_at=won_at,
        )
        contract = create_contract(
            actor=finance,
            account=client_account,
            currency="USD",
            lines=[normalise_line(tm_line(roles.senior, "150.00"), "USD")],
            opportunity=opportunity,
        )
        return opportunity, contract

    _, first = deal("Fast start", at(2026, 5, 4, 9))
    project = create_project(
        actor=None, account=client_account, legal_entity=client_account.legal_entity, code="FAST",
        name="Fast", currency="USD", start=first.start, end=first.end, contract=first,
    )  # fmt: skip
    type(project).objects.filter(pk=project.pk).update(created_at=at(2026, 5, 6, 21))
    _, second = deal("Slow start", at(2026, 5, 1))
    planned = create_project(
        actor=None, account=client_account, legal_entity=client_account.legal_entity, code="SLOW",
        name="Slow", currency="USD", start=second.start, end=second.end, contract=second, status="planned",
    )  # fmt: skip
    set_project_status(actor=None, project=planned, status="active")
    Event.objects.filter(type="project.status_changed", subject_id=str(planned.pk)).update(
        occurred_at=at(2026, 5, 11)
    )
    # A third deal won but never handed to delivery (no project): an exception, not a latency.
    deal("Stalled", at(2026, 5, 20))


@pytest.fixture
def closed_periods(entity, finance):  # noqa: F811
    """January closed on 2 March 00:00 (29 days after 1 February), February on 4 March 12:00 (3.5 days
    after 1 March): both in March."""
    for month, closed_at in ((1, at(2026, 3, 2)), (2, at(2026, 3, 4, 12))):
        period = FiscalPeriod.objects.get(legal_entity=entity, start=date(2026, month, 1))
        PeriodCloseReport.objects.create(
            period=period,
            closed_at=closed_at,
            closed_by=finance,
            checklist={},
            trial_balance={},
            profit_and_loss={},
        )


def test_latencies_by_hand(firm, finance, entity, won_deals, closed_periods):  # noqa: F811
    """Approval → release: Sam's three March entries approved at noon on 2, 3 and 4 March, released on
    1 April 12:00: 30, 29 and 28 days → median 29.0, p90 = 29 + (30 − 29) × 0.8 = 29.8.
    Release → payment: the 4,320.00 invoice issued 1 April, paid on 21 April: 20 days.
    Win → active (May): 2.5 and 10 days → median 6.25 → 6.3 (half up), p90 = 2.5 + 7.5 × 0.9 = 9.25 → 9.3.
    Period end → close (March): 29 and 3.5 days → median 16.25 → 16.3, p90 = 3.5 + 25.5 × 0.9 = 26.45
    → 26.5."""
    (invoice,) = firm.invoices
    Invoice.objects.filter(pk=invoice.pk).update(released_at=at(2026, 4, 1, 12))
    record_payment(
        actor=finance,
        legal_entity=entity,
        client=firm.globex,
        date=date(2026, 4, 21),
        amount=D("4320.00"),
        currency="USD",
    )
    in_sql = by_key(flow.stage_health(TODAY))
    in_python = by_key(flow.stage_health(TODAY, in_sql=False))

    expected = {
        "approval_to_release": {date(2026, 4, 1): (3, D("29.0"), D("29.8"))},
        "release_to_payment": {date(2026, 4, 1): (1, D("20.0"), D("20.0"))},
        "win_to_active": {date(2026, 5, 1): (2, D("6.3"), D("9.3"))},
        "period_to_close": {date(2026, 3, 1): (2, D("16.3"), D("26.5"))},
    }
    for found in (in_sql, in_python):
        assert {
            key: {month: months_of(row) for month, row in rows.items()} for key, rows in found.items()
        } == expected
    # Outside the twelve-month window nothing counts.
    assert all(not rows for rows in by_key(flow.stage_health(date(2027, 6, 15))).values())


def test_percentile_interpolates_like_percentile_cont():
    assert flow.percentile([10.0], 0.9) == 10.0
    assert flow.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert flow.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 0.9) == 10.0


@pytest.fixture
def exceptions(firm, entity, people, won_deals, make_user):  # noqa: F811
    """One of each: a held over-cap part, a rejected entry, a dead webhook delivery; runs: a failed billing
    run, a revenue run pending for three hours, a dunning run running for five; a billing run just started
    and a five-hour dunning run whose last heartbeat was ten minutes ago (not stuck) do not count."""
    entry = work(people.ana, firm.p2, date(2026, 3, 4), "2", rate="90", cost="40")
    plan = BillingPlan.objects.filter(contract=firm.p2.contract).first()
    OverCapEntry.objects.create(
        time_entry=entry, plan=plan, hours=D("2"), amount=D("180.00"), status=HoldStatus.HELD
    )
    rejected = firm.p2.time_entries.first()
    TimeEntry.objects.filter(pk=rejected.pk).update(
        status=EntryStatus.REJECTED, rejection_reason="Wrong task"
    )
    subscription = WebhookSubscription.objects.create(
        owner=make_user(Role.INTEGRATOR), url="https://example.com/hook", event_types=["*"], secret="s"
    )
    WebhookDelivery.objects.create(
        subscription=subscription,
        event=Event.objects.first(),
        status=WebhookDelivery.Status.DEAD,
        attempts=8,
        last_error="HTTP 500",
    )
    now = timezone.now()
    BillingRun.objects.create(
        legal_entity=entity, period_end=date(2026, 3, 31), status="failed", error="Boom"
    )
    BillingRun.objects.create(legal_entity=entity, period_end=date(2026, 4, 30), status="running")
    pending = RevenueRun.objects.create(legal_entity=entity, period_end=date(2026, 3, 31))
    RevenueRun.objects.filter(pk=pending.pk).update(created_at=now - timedelta(hours=3))
    running = DunningRun.objects.create(legal_entity=entity, as_of=date(2026, 6, 1), status="running")
    DunningRun.objects.filter(pk=running.pk).update(created_at=now - timedelta(hours=5))
    deal = Opportunity.objects.exclude(contracts__isnull=False).first() or Opportunity.objects.create(
        account=firm.p2.account, name="Refused deal", currency="USD", expected_close=date(2026, 6, 30)
    )
    audit.record(
        actor=None,
        action="opportunity.handoff_refused",
        obj=deal,
        changes={"problems": {"account.tax_code": ["The client has no tax code."]}},
        reason="The opportunity cannot be won yet: 1 problem to fix first.",
    )
    beating = DunningRun.objects.create(legal_entity=entity, as_of=date(2026, 6, 2), status="running")
    DunningRun.objects.filter(pk=beating.pk).update(
        created_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(minutes=10)
    )


def test_exception_counts_and_rows(exceptions):
    counts = {row["kind"].key: (row["count"], row["amounts"]) for row in flow.exception_counts()}
    assert counts == {
        "handoff_refused": (1, []),
        "handoff_incomplete": (1, []),
        "over_cap": (1, [("USD", D("180.00"))]),
        "rejected_time": (1, []),
        "dead_webhooks": (1, []),
        "runs_failed_or_stuck": (3, []),
    }
    (refused,) = flow.exception_rows("handoff_refused")
    assert refused["detail"] == "The client has no tax code."
    (stalled,) = flow.exception_rows("handoff_incomplete")
    assert stalled["what"].startswith("Stalled")
    (rejected,) = flow.exception_rows("rejected_time")
    assert rejected["detail"] == "Wrong task"
    runs = [row["what"].split(" #")[0] for row in flow.exception_rows("runs_failed_or_stuck")]
    assert runs == ["Billing run", "Revenue run", "Dunning run"]


def test_flow_page_with_exceptions_and_csv(exceptions, client, make_user):
    client.force_login(make_user(Role.FINANCE))
    page = client.get(reverse("analytics:flow"), {"as_of": "2026-06-15"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-exception="runs_failed_or_stuck"' in html
    assert f'href="{reverse("analytics:flow-exceptions", args=["over_cap"])}"' in html
    assert "$180.00" in html
    # As of 15 June: the won deals' projects became active in May (a chart); the fixture's invoice was
    # released today, after the window; nothing was paid and no period closed.
    assert 'data-flow-chart="flow_chart_0"' in html
    assert html.count("Nothing finished this stage in the last twelve months.") == 3
    csv = client.get(reverse("analytics:flow"), {"format": "csv"})
    lines = csv.content.decode().splitlines()
    assert lines[0] == "stage,month,throughput,median_days,p90_days"
    assert len(lines) == 1 + 4 * 12
    rows = client.get(reverse("analytics:flow-exceptions", args=["runs_failed_or_stuck"])).content.decode()
    assert "Boom" in rows and "Revenue run #" in rows and "Dunning run #" in rows
    assert client.get(reverse("analytics:flow-exceptions", args=["nonsense"])).status_code == 404
    assert client.get(reverse("analytics:flow"), {"as_of": "June"}).status_code == 400


def test_flow_page_empty_and_who_may_read_it(db, client, make_user):
    url = reverse("analytics:flow")
    assert client.get(url).status_code == 302
    client.force_login(make_user(Role.CONSULTANT))
    assert client.get(url).status_code == 403
    for role in (Role.EXECUTIVE, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER):
        client.force_login(make_user(role))
        html = client.get(url).content.decode()
        assert html.count("Nothing finished this stage in the last twelve months.") == 4
        assert "data-flow-chart" not in html
    empty = client.get(reverse("analytics:flow-exceptions", args=["dead_webhooks"])).content.decode()
    assert "Nothing here: no failed webhook deliveries." in empty
