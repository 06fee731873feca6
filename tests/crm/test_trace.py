"""The quote-to-cash trace of a deal built with the services (win → project → time approved → billing run →
release → payment → revenue run), its figures to the cent, the "stuck" sentence when a step is missing,
and the API: 200, 404, 403, 401 and the schema."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from core.roles import Role
from crm.services.handoff import win_opportunity
from crm.services.pipeline import create_opportunity, lose_opportunity, update_opportunity
from crm.trace import opportunity_trace
from ledger.services.ar.payments import record_payment
from ledger.services.dunning import LevelSpec, create_dunning_policy, start_dunning_run
from projects.services.people import create_assignment, create_person
from projects.services.projects import set_project_status
from projects.services.time import approve_timesheet, record_time, reject_timesheet, submit_timesheet
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.analytics.conftest import bill
from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm
    client_account,
    entity,
    finance,
    people,
    roles,
    vat20,
)

D = Decimal
pytestmark = pytest.mark.django_db
MARCH = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


@pytest.fixture
def pm(make_user):
    return make_user(Role.PROJECT_MANAGER, username="priya")


@pytest.fixture
def deal(pm, client_account, roles, people, entity):  # noqa: F811
    """An open deal: Senior consulting, 100 h at 150.00 from March to June 2026, capped at 4,000.00;
    the account manager (Priya) has a person record, so the handoff makes her the project's manager."""
    create_person(actor=None, name="Priya Mendes", role=roles.senior, legal_entity=entity, user=pm)
    return create_opportunity(
        actor=pm,
        account=client_account,
        name="Globex rollout",
        expected_close=date(2026, 2, 27),
        stage="propose",
        lines=[
            {
                "service": "Senior consulting",
                "billing_model": "time_and_materials",
                "role": roles.senior.pk,
                "hours": D("100"),
                "rate": D("150.00"),
                "cap_amount": D("4000.00"),
                "start": date(2026, 3, 2),
                "end": date(2026, 6, 30),
            }
        ],
    )


def won(pm, deal):
    contract = win_opportunity(actor=pm, opportunity=deal)
    deal.refresh_from_db()
    return contract, contract.projects.get()


def sam_works(pm, people, project, days, hours="8", *, approve=True):  # noqa: F811
    """Sam records `hours` on each day through the services; the week is submitted and (by default)
    approved by the project's manager."""
    create_assignment(
        actor=None, person=people.sam, project=project, start=project.start, end=project.end, hours=D("400")
    )
    task = project.tasks.filter(parent=None).first()
    entries = [
        record_time(actor=None, person=people.sam, project=project, task=task, date=day, hours=D(hours))
        for day in days
    ]
    sheet = submit_timesheet(actor=None, timesheet=entries[0].timesheet)
    if approve:
        approve_timesheet(actor=pm, timesheet=sheet)
    return sheet


def flowed(pm, finance, entity, people, deal, days=MARCH):  # noqa: F811
    """The whole chain: won, 24 h approved in March, billed to 31 March and released on 1 April
    (3,600.00 + 20% tax = 4,320.00, due 1 May), paid in full on 20 April, revenue run to 31 March."""
    contract, project = won(pm, deal)
    sam_works(pm, people, project, days)
    (invoice,) = bill(finance, entity, date(2026, 3, 31), date(2026, 4, 1))
    payment = record_payment(
        actor=finance,
        legal_entity=entity,
        client=contract.account,
        date=date(2026, 4, 20),
        amount=D("4320.00"),
        currency="USD",
        reference="WIRE-77",
    )
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_revenue_run(run_id=run.pk)
    return SimpleNamespace(contract=contract, project=project, invoice=invoice, payment=payment, run=run)


def status_row(rows, status):
    return next(row for row in rows if row["status"] == status)


def test_a_deal_through_every_step(pm, finance, entity, people, deal):  # noqa: F811
    chain = flowed(pm, finance, entity, people, deal)
    with CaptureQueriesContext(connection) as queries:
        trace = opportunity_trace(deal, today=date(2026, 4, 25))

    assert len(queries) <= 16
    assert (trace.state, trace.stuck, trace.blockers) == ("flowing", "Flowing: nothing is stuck.", [])
    steps = {step.key: step.status for step in trace.steps}
    assert steps == {
        "quote": "not_started",
        "won": "done",
        "contract": "done",
        "project": "done",
        "time": "done",
        "invoice": "done",
        "payment": "done",
        "revenue": "done",
        "journal": "done",
    }
    assert trace.contract == chain.contract
    assert [(v["number"], v["total_amount"]) for v in trace.versions] == [(1, D("15000.00"))]
    assert [(p["code"], p["status"]) for p in trace.projects] == [(chain.project.code, "active")]
    billed = status_row(trace.time, "billed")
    assert (billed["count"], billed["hours"], billed["amount"]) == (3, D("24.00"), D("3600.00"))
    assert status_row(trace.time, "approved")["count"] == 0
    (invoice,) = trace.invoices
    assert (invoice["number"], invoice["status"]) == (chain.invoice.number, "paid")
    assert (invoice["subtotal_amount"], invoice["tax_amount"], invoice["total_amount"]) == (
        D("3600.00"),
        D("720.00"),
        D("4320.00"),
    )
    assert (invoice["balance_amount"], invoice["due_date"], invoice["days_overdue"]) == (
        D("0"),
        date(2026, 5, 1),
        0,
    )
    (payment,) = trace.payments
    assert (payment["reference"], payment["applied_amount"]) == ("WIRE-77", D("4320.00"))
    assert payment["allocations"] == [{"invoice": chain.invoice.number, "amount": D("4320.00")}]
    assert trace.revenue["recognized_amount"] == D("3600.00")
    assert [(r["id"], r["amount"]) for r in trace.revenue["runs"]] == [(chain.run.pk, D("3600.00"))]
    journal = {row["source_type"]: (row["count"], row["debit_amount"]) for row in trace.journal}
    assert journal == {
        "billing.invoice": (1, D("4320.00")),
        "ledger.payment": (1, D("4320.00")),
        "revrec.run": (1, D("3600.00")),
        # Recognised at 31 March before it was invoiced (1 April): unbilled revenue, reversed on 1 April.
        "revrec.reclass": (2, D("7200.00")),
    }


def test_not_won_yet_says_the_stage_and_for_how_long(deal):
    since = deal.stage_changed_at.date()
    trace = opportunity_trace(deal, today=since + timedelta(days=20))
    assert (trace.state, trace.stuck) == ("open", "Not won yet: in stage Propose for 20 days.")
    assert [(b.step, b.code) for b in trace.blockers] == [("won", "not_won")]
    assert {step.key: step.status for step in trace.steps}["won"] == "blocked"


def test_lost_ends_the_chain(pm, deal):
    lost = lose_opportunity(actor=pm, opportunity=deal, reason="Went with a competitor")
    trace = opportunity_trace(lost)
    assert (trace.state, trace.stuck) == ("lost", "Lost: Went with a competitor. The chain ends here.")


def test_won_without_approved_time(pm, people, deal):  # noqa: F811
    contract, project = won(pm, deal)
    today = deal.closed_at.date() + timedelta(days=12)
    trace = opportunity_trace(deal, today=today)
    assert (trace.state, trace.stuck) == ("stuck", "Won 12 days ago, no time approved yet.")

    sam_works(pm, people, project, MARCH[:2], approve=False)
    trace = opportunity_trace(deal, today=today)
    assert trace.stuck == "Won 12 days ago, no time approved yet (16.00 h submitted, awaiting approval)."
    submitted = status_row(trace.time, "submitted")
    assert (submitted["count"], submitted["hours"], submitted["amount"]) == (2, D("16.00"), D("2400.00"))
    assert [b.url for b in trace.blockers] == [reverse("projects:approvals")]


def test_rejected_time_shows_in_its_status(pm, people, deal):  # noqa: F811
    _, project = won(pm, deal)
    sheet = sam_works(pm, people, project, MARCH[:1], approve=False)
    reject_timesheet(actor=pm, timesheet=sheet, reason="Wrong task")
    trace = opportunity_trace(deal, today=date(2026, 3, 10))
    rejected = status_row(trace.time, "rejected")
    assert (rejected["count"], rejected["hours"], rejected["amount"]) == (1, D("8.00"), D("1200.00"))


def test_over_cap_awaiting_a_decision(pm, finance, entity, people, deal):  # noqa: F811
    """32 h at 150.00 = 4,800.00 against a 4,000.00 cap: 4,000.00 is billed, 800.00 is held."""
    won(pm, deal)
    flowed_project = deal.contracts.get().projects.get()
    sam_works(pm, people, flowed_project, [*MARCH, date(2026, 3, 5)])
    (invoice,) = bill(finance, entity, date(2026, 3, 31), date(2026, 4, 1))
    trace = opportunity_trace(deal, today=date(2026, 4, 10))
    assert invoice.subtotal_amount == D("4000.00")
    assert (trace.over_cap["count"], trace.over_cap["amount"]) == (1, D("800.00"))
    assert (trace.state, trace.stuck) == ("stuck", "800.00 USD over cap awaiting a decision.")
    assert {step.key: step.status for step in trace.steps}["time"] == "blocked"


def test_unbilled_approved_time_from_a_past_month(pm, people, deal):  # noqa: F811
    _, project = won(pm, deal)
    sam_works(pm, people, project, MARCH)
    trace = opportunity_trace(deal, today=date(2026, 4, 10))
    assert trace.stuck == "Billing run for March 2026 not done: 3,600.00 USD of approved work not invoiced."
    # In March itself the run is not due yet.
    assert opportunity_trace(deal, today=date(2026, 3, 20)).state == "flowing"


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_overdue_invoice_with_its_dunning_notice(pm, finance, entity, people, deal, on_commit):  # noqa: F811
    contract, project = won(pm, deal)
    sam_works(pm, people, project, MARCH)
    (invoice,) = bill(finance, entity, date(2026, 3, 31), date(2026, 4, 1))
    trace = opportunity_trace(deal, today=date(2026, 6, 15))
    assert trace.stuck == f"Invoice {invoice.number} overdue 45 days, no reminder sent yet."

    policy = create_dunning_policy(
        actor=finance,
        legal_entity=entity,
        name="Standard",
        is_default=True,
        levels=[
            LevelSpec(level=1, days_overdue=10, subject_template="Reminder", body_template="Please pay."),
            LevelSpec(level=2, days_overdue=30, subject_template="Second notice", body_template="Pay now."),
        ],
    )
    assert policy.levels.count() == 2
    with on_commit(execute=True):
        start_dunning_run(actor=finance, legal_entity=entity, as_of=date(2026, 6, 15))
    trace = opportunity_trace(deal, today=date(2026, 6, 15))
    (row,) = trace.invoices
    assert (row["status"], row["balance_amount"], row["days_overdue"]) == ("released", D("4320.00"), 45)
    assert (row["dunning_level"], row["dunning_status"]) == (2, "sent")
    assert trace.stuck == f"Invoice {invoice.number} overdue 45 days, second notice sent."
    assert {step.key: step.status for step in trace.steps}["payment"] == "blocked"


def test_revenue_run_not_done(pm, people, deal):  # noqa: F811
    """A ratable fixed fee of 12,000.00 over March–June 2026 (122 days) plans March's 31 days:
    12,000.00 × 31 / 122 = 3,049.18; no run took it."""
    update_opportunity(
        actor=pm,
        opportunity=deal,
        lines=[
            {
                "service": "Managed service",
                "billing_model": "fixed_fee",
                "amount": D("12000.00"),
                "instalments": 1,
                "revenue_method": "ratable",
                "start": date(2026, 3, 1),
                "end": date(2026, 6, 30),
            }
        ],
    )
    won(pm, deal)
    trace = opportunity_trace(deal, today=date(2026, 4, 10))
    assert trace.revenue["planned_amount"] == D("12000.00")
    assert [b.code for b in trace.blockers] == ["no_time_approved", "revenue_run_not_done"]
    assert trace.blockers[1].message == "revenue run for March 2026 not done (3,049.18 USD planned)"


@pytest.fixture
def pm_api(pm):
    client = APIClient()
    client.force_authenticate(user=pm)
    return client


def test_api_trace_of_a_flowing_deal(pm, finance, entity, people, deal, client_for):  # noqa: F811
    chain = flowed(pm, finance, entity, people, deal)
    response = client_for(Role.EXECUTIVE).get(f"/api/v1/opportunities/{deal.pk}/trace/")
    assert response.status_code == 200
    body = response.json()
    assert (body["opportunity"], body["stage"], body["currency"]) == (deal.pk, "won", "USD")
    assert body["contract"]["number"] == chain.contract.number
    (invoice,) = body["invoices"]
    assert (invoice["total_amount"], invoice["balance_amount"], invoice["status"]) == (
        "4320.00",
        "0.00",
        "paid",
    )
    assert body["payments"][0]["allocations"] == [{"invoice": chain.invoice.number, "amount": "4320.00"}]
    assert body["revenue"]["recognized_amount"] == "3600.00"
    assert status_row(body["time"], "billed") == {
        "status": "billed",
        "count": 3,
        "hours": "24.00",
        "amount": "3600.00",
        "currency": "USD",
        "first_approved_at": body["time"][4]["first_approved_at"],
    }
    assert [step["key"] for step in body["steps"]] == [
        "quote", "won", "contract", "project", "time", "invoice", "payment", "revenue", "journal",
    ]  # fmt: skip
    assert body["steps"][2]["url"] == reverse("crm:contract-detail", args=[chain.contract.pk])


def test_api_trace_names_its_blockers(pm_api, deal):
    body = pm_api.get(f"/api/v1/opportunities/{deal.pk}/trace/").json()
    assert body["state"] == "open"
    assert [(b["step"], b["code"]) for b in body["blockers"]] == [("won", "not_won")]
    assert body["stuck"].startswith("Not won yet: in stage Propose for ")


def test_api_trace_refusals(deal, client_for, api_client, pm_api):
    url = f"/api/v1/opportunities/{deal.pk}/trace/"
    assert api_client.get(url).status_code == 401
    refused = client_for(Role.CONSULTANT).get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    missing = pm_api.get(f"/api/v1/opportunities/{deal.pk + 1000}/trace/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_schema_describes_the_trace(pm_api):
    schema = pm_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/opportunities/{id}/trace/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert {"state", "stuck", "blockers", "steps", "invoices", "payments", "revenue", "journal"} <= set(
        component["properties"]
    )


def test_trace_page_shows_the_chain_and_its_blockers(pm, finance, entity, people, deal, client):  # noqa: F811
    chain = flowed(pm, finance, entity, people, deal)
    client.force_login(pm)
    page = client.get(reverse("crm:opportunity-trace", args=[deal.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="trace-stuck">Flowing: nothing is stuck.</p>' in html
    assert (
        f'<a href="{reverse("billing:invoice-detail", args=[chain.invoice.pk])}">{chain.invoice.number}</a>'
        in html
    )
    assert "$4,320.00" in html and "WIRE-77" in html
    detail = client.get(reverse("crm:opportunity-detail", args=[deal.pk])).content.decode()
    assert reverse("crm:opportunity-trace", args=[deal.pk]) in detail


def test_trace_page_of_an_open_deal_and_who_may_see_it(deal, client, make_user, pm):
    url = reverse("crm:opportunity-trace", args=[deal.pk])
    assert client.get(url).status_code == 302
    client.force_login(make_user(Role.CONSULTANT))
    assert client.get(url).status_code == 403
    client.force_login(make_user(Role.FINANCE))
    html = client.get(url).content.decode()
    assert "Not won yet: in stage Propose for 0 days." in html
    assert "No contract yet: the deal is not won." in html
    assert "Nothing invoiced yet." in html
    client.force_login(pm)
    assert client.get(reverse("crm:opportunity-trace", args=[deal.pk + 1000])).status_code == 404


def test_complete_once_delivered_paid_and_recognised(pm, finance, entity, people, deal):  # noqa: F811
    chain = flowed(pm, finance, entity, people, deal)
    set_project_status(actor=pm, project=chain.project, status="closed", reason="Delivered")
    trace = opportunity_trace(deal, today=date(2026, 4, 25))
    assert (trace.state, trace.stuck) == ("complete", "Complete: delivered, invoiced, paid and recognised.")
