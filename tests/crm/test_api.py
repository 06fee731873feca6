"""The CRM API: the contract's paths and fields, the handoff over HTTP, transitions, roles."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.roles import Role
from crm.models import Contract, Opportunity
from tests.crm.conftest import mixed_deal_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm_api(pm):
    client = APIClient()
    client.force_authenticate(user=pm)
    return client


def _json_lines(roles):
    lines = []
    for line in mixed_deal_lines(roles):
        line = {
            key: (str(value) if isinstance(value, Decimal | date) else value) for key, value in line.items()
        }
        lines.append(line)
    return lines


def test_create_an_opportunity_with_lines_and_win_it(pm_api, client_account, roles, pm_person):
    created = pm_api.post(
        "/api/v1/opportunities/",
        {
            "account": client_account.pk,
            "name": "Northwind EHR rollout",
            "expected_close": "2026-01-02",
            "stage": "negotiate",
            "lines": _json_lines(roles),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {
        "id",
        "account",
        "name",
        "stage",
        "probability",
        "amount",
        "currency",
        "expected_close",
        "owner",
        "lines",
    } <= set(body)
    assert (body["stage"], body["probability"], body["amount"], body["currency"]) == (
        "negotiate",
        70,
        "314000.00",
        "USD",
    )
    assert body["weighted_amount"] == "219800.00"
    assert {"service", "billing_model", "role", "hours", "rate", "amount", "start", "end"} <= set(
        body["lines"][0]
    )

    won = pm_api.post(
        f"/api/v1/opportunities/{body['id']}/win/", {}, format="json", HTTP_IDEMPOTENCY_KEY="win-1"
    )
    assert won.status_code == 200, won.json()
    assert won.json()["stage"] == "won"
    contract = Contract.objects.get(opportunity_id=body["id"])
    assert won.json()["contract"] == contract.pk

    again = pm_api.post(f"/api/v1/opportunities/{body['id']}/win/", {}, format="json")
    assert again.status_code == 200
    assert Contract.objects.count() == 1

    shown = pm_api.get(f"/api/v1/contracts/{contract.pk}/").json()
    assert {
        "id",
        "account",
        "opportunity",
        "number",
        "status",
        "currency",
        "start",
        "end",
        "total_amount",
        "lines",
    } <= set(shown)
    assert (shown["number"], shown["total_amount"], shown["status"]) == ("US-C-00001", "314000.00", "active")
    line = next(line for line in shown["lines"] if line["description"] == "Implementation: senior consultant")
    assert {
        "id",
        "description",
        "billing_model",
        "amount",
        "rate_card",
        "cap_amount",
        "schedule",
        "revenue_method",
    } <= set(line)
    assert (line["cap_amount"], line["revenue_method"], line["rate_card"]) == (
        "75000.00",
        "as_delivered",
        contract.rate_card_id,
    )

    trace = pm_api.get(f"/api/v1/opportunities/{body['id']}/trace/").json()
    assert trace["contract"]["number"] == "US-C-00001"
    assert [p["code"] for p in trace["projects"]] == ["US-C-00001"]
    assert trace["stuck"].startswith("Won today, no time approved yet")
    assert trace["blockers"][0]["code"] == "no_time_approved"


def test_win_with_missing_data_lists_every_problem_and_creates_nothing(pm_api, client_account, roles):
    client_account.tax_code = ""
    client_account.payment_terms_days = 0
    client_account.save()
    deal = pm_api.post(
        "/api/v1/opportunities/",
        {
            "account": client_account.pk,
            "name": "Gaps",
            "expected_close": "2026-01-02",
            "lines": [
                {
                    "service": "T&M",
                    "billing_model": "time_and_materials",
                    "role": roles["senior"].pk,
                    "hours": "10",
                    "start": "2026-02-01",
                    "end": "2026-03-01",
                }
            ],
        },
        format="json",
    ).json()
    response = pm_api.post(f"/api/v1/opportunities/{deal['id']}/win/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "handoff_invalid"
    assert body["detail"] == "The opportunity cannot be won yet: 3 problems to fix first."
    assert body["fields"] == {
        "account.tax_code": ["Northwind Health has no tax code for its invoices."],
        "account.payment_terms_days": ["Northwind Health needs payment terms of 1 to 365 days."],
        "lines.0.rate": ["T&M: time and materials needs a rate for the role."],
    }
    assert not Contract.objects.exists()
    assert Opportunity.objects.get(pk=deal["id"]).stage == "qualify"


def test_invalid_transitions_are_409(pm_api, mixed_deal, pm):
    lost = pm_api.post(f"/api/v1/opportunities/{mixed_deal.pk}/lose/", {"reason": "No budget"}, format="json")
    assert lost.status_code == 200 and lost.json()["lost_reason"] == "No budget"
    moved = pm_api.post(f"/api/v1/opportunities/{mixed_deal.pk}/move/", {"stage": "propose"}, format="json")
    assert (moved.status_code, moved.json()["code"]) == (409, "invalid_transition")
    won = pm_api.post(f"/api/v1/opportunities/{mixed_deal.pk}/win/", {}, format="json")
    assert (won.status_code, won.json()["code"]) == (409, "invalid_transition")


def test_lose_needs_a_reason_and_moving_records_history(pm_api, mixed_deal):
    refused = pm_api.post(f"/api/v1/opportunities/{mixed_deal.pk}/move/", {"stage": "lost"}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["fields"]
    moved = pm_api.post(f"/api/v1/opportunities/{mixed_deal.pk}/move/", {"stage": "propose"}, format="json")
    assert moved.status_code == 200
    assert moved.json()["probability"] == 40
    assert [(h["from_stage"], h["to_stage"]) for h in moved.json()["stage_history"]] == [
        ("", "negotiate"),
        ("negotiate", "propose"),
    ]


def test_accepting_an_unapproved_quote_is_409(pm_api, mixed_deal):
    quote = pm_api.post("/api/v1/quotes/", {"opportunity": mixed_deal.pk}, format="json")
    assert quote.status_code == 201, quote.json()
    body = quote.json()
    assert {"id", "opportunity", "version", "status", "lines", "total_amount", "currency"} <= set(body)
    assert body["needs_approval"] is True  # no cost rates known
    submitted = pm_api.post(f"/api/v1/quotes/{body['id']}/submit/", format="json")
    assert submitted.json()["status"] == "submitted"
    accepted = pm_api.post(f"/api/v1/quotes/{body['id']}/accept/", format="json")
    assert (accepted.status_code, accepted.json()["code"]) == (409, "invalid_transition")


def test_amending_a_closed_contract_is_409(pm_api, mixed_deal, pm):
    from crm.services.handoff import win_opportunity

    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    line = contract.all_lines.first()
    amended = pm_api.post(
        f"/api/v1/contracts/{contract.pk}/amend/",
        {"reason": "Scope +", "lines": [{"id": line.pk, "amount": "60000.00"}]},
        format="json",
    )
    assert amended.status_code == 200, amended.json()
    assert amended.json()["version"] == 2
    versions = pm_api.get(f"/api/v1/contracts/{contract.pk}/versions/").json()
    assert [(v["number"], v["reason"]) for v in versions] == [(1, "Signed"), (2, "Scope +")]
    assert (
        pm_api.post(f"/api/v1/contracts/{contract.pk}/close/", {"reason": "Done"}, format="json").status_code
        == 200
    )
    again = pm_api.post(
        f"/api/v1/contracts/{contract.pk}/amend/",
        {"reason": "Late", "lines": [{"id": line.pk, "amount": "1.00"}]},
        format="json",
    )
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


def test_duplicate_accounts_are_flagged_with_the_candidate(pm_api, client_account, usd_entity):
    payload = {
        "name": "Northwind Health, Inc.",
        "legal_entity": usd_entity.pk,
        "currency": "USD",
        "payment_terms_days": 30,
        "tax_code": "US",
        "billing_email": "ap@nw.example.com",
    }
    response = pm_api.post("/api/v1/accounts/", payload, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "possible_duplicate"
    assert response.json()["fields"]["candidates"] == [
        {"id": client_account.pk, "name": "Northwind Health", "reason": "same name"}
    ]
    by_domain = pm_api.post(
        "/api/v1/accounts/",
        payload | {"name": "NW Group", "domain": "https://www.Northwind.example.com/x"},
        format="json",
    )
    assert by_domain.json()["fields"]["candidates"][0]["reason"] == "same domain"
    created = pm_api.post(
        "/api/v1/accounts/", payload | {"allow_duplicate": True, "parent": client_account.pk}, format="json"
    )
    assert created.status_code == 201
    assert {
        "id",
        "name",
        "parent",
        "currency",
        "legal_entity",
        "payment_terms_days",
        "tax_code",
        "billing_email",
    } <= set(created.json())
    assert created.json()["parent"] == client_account.pk


def test_activities_and_my_open_activities(pm_api, client_account, pm, make_user):
    for subject, due in (("Call CFO", "2026-01-10"), ("Send proposal", "2026-01-05")):
        response = pm_api.post(
            "/api/v1/activities/",
            {"account": client_account.pk, "kind": "call", "subject": subject, "due": due},
            format="json",
        )
        assert response.status_code == 201, response.json()
    other = APIClient()
    other.force_authenticate(user=make_user(Role.PROJECT_MANAGER))
    other.post(
        "/api/v1/activities/",
        {"account": client_account.pk, "kind": "task", "subject": "Theirs", "due": "2026-01-01"},
        format="json",
    )
    mine = pm_api.get("/api/v1/activities/?mine=true").json()["results"]
    assert [a["subject"] for a in mine] == ["Send proposal", "Call CFO"]
    assert {"id", "account", "opportunity", "kind", "due", "done", "subject"} <= set(mine[0])
    done = pm_api.post(f"/api/v1/activities/{mine[0]['id']}/complete/", format="json")
    assert done.json()["done"] is True
    assert [a["subject"] for a in pm_api.get("/api/v1/activities/?mine=true").json()["results"]] == [
        "Call CFO"
    ]
    bad = pm_api.post(
        "/api/v1/activities/",
        {"account": client_account.pk, "kind": "lunch", "subject": "x", "due": "2026-01-01"},
        format="json",
    )
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]


def test_forecast_weights_the_open_pipeline_by_month_and_owner(pm_api, mixed_deal):
    body = pm_api.get("/api/v1/opportunities/forecast/").json()
    assert body["totals"] == [{"currency": "USD", "count": 1, "amount": "314000.00", "weighted": "219800.00"}]
    assert body["by_month"][0]["month"] == "2026-01-01"
    assert body["by_owner"][0]["owner"] == "Priya Mendes"


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [
        (Role.PROJECT_MANAGER, 200, 201),
        (Role.FINANCE, 200, 403),
        (Role.EXECUTIVE, 200, 403),
        (Role.RESOURCE_MANAGER, 200, 403),
        (Role.INTEGRATOR, 200, 201),
        (Role.CONSULTANT, 403, 403),
        (Role.ADMIN, 200, 201),
    ],
)
def test_role_matrix(client_for, client_account, role, read, write):
    client = client_for(role)
    assert client.get("/api/v1/opportunities/").status_code == read
    assert client.get(f"/api/v1/accounts/{client_account.pk}/").status_code == (200 if read == 200 else 403)
    response = client.post(
        "/api/v1/opportunities/",
        {"account": client_account.pk, "name": "Deal", "expected_close": "2026-03-01"},
        format="json",
    )
    assert response.status_code == write


def test_another_managers_deal_is_read_only(client_for, mixed_deal):
    other = client_for(Role.PROJECT_MANAGER)
    assert other.get(f"/api/v1/opportunities/{mixed_deal.pk}/").status_code == 200
    response = other.post(f"/api/v1/opportunities/{mixed_deal.pk}/win/", {}, format="json")
    assert response.status_code == 403
    assert not Contract.objects.exists()


def test_api_keys_need_the_crm_scope(token_client_for, client_account):
    reader = token_client_for(Role.INTEGRATOR, scopes=("crm:read",))
    assert reader.get("/api/v1/accounts/").status_code == 200
    response = reader.post(
        "/api/v1/opportunities/",
        {"account": client_account.pk, "name": "x", "expected_close": "2026-03-01"},
        format="json",
    )
    assert response.status_code == 403
    assert (
        token_client_for(Role.INTEGRATOR, scopes=("ledger:read",)).get("/api/v1/accounts/").status_code == 403
    )


def test_list_queries_do_not_grow_with_rows(
    pm_api, mixed_deal, pm, client_account, django_assert_max_num_queries
):
    from crm.services.pipeline import create_opportunity

    for number in range(5):
        create_opportunity(
            actor=pm,
            account=client_account,
            name=f"Deal {number}",
            expected_close=date(2026, 3, 1),
            lines=mixed_deal_lines_for_count(),
        )
    with django_assert_max_num_queries(8):
        assert len(pm_api.get("/api/v1/opportunities/").json()["results"]) == 6


def mixed_deal_lines_for_count():
    return [
        {
            "service": "Fee",
            "billing_model": "fixed_fee",
            "amount": Decimal("1000.00"),
            "start": date(2026, 3, 1),
            "end": date(2026, 3, 31),
        }
    ]
