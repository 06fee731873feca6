"""The dunning API: policies with nested levels, runs started and polled, notices; roles, scopes, errors."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from core.roles import Role
from crm.models import Account
from ledger.models import ArItem, DunningLevel, DunningNotice, DunningPolicy, DunningRun
from ledger.services.dunning import assign_dunning_policy, start_dunning_run
from tests.ledger.test_dunning import BODY, SUBJECT, level, make_policy, post_invoice

D = Decimal
pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/dunning-policies/"
RUNS = "/api/v1/dunning-runs/"
NOTICES = "/api/v1/dunning-notices/"


@pytest.fixture(autouse=True)
def _deferred_checks(db):
    """On PostgreSQL, fire the deferred balance triggers before the test's transaction is rolled back."""
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def usd_client(usd_entity):
    return Account.objects.create(
        name="Initech",
        legal_entity=usd_entity,
        currency="USD",
        payment_terms_days=30,
        billing_email="ap@initech.example",
    )


def _level_body(number=1, days=30, fee="25.00", percent="8", **extra):
    return {
        "level": number,
        "days_overdue": days,
        "fee_amount": fee,
        "annual_interest_percent": percent,
        "subject_template": SUBJECT,
        "template": BODY,
        **extra,
    }


def _policy_body(entity, **extra):
    return {
        "legal_entity": entity.pk,
        "name": "Standard",
        "is_default": True,
        "payment_instructions": "Pay to IBAN US00 1234.",
        "levels": [_level_body(1, 14, fee="10.00", percent=None), _level_body(2, 30)],
        **extra,
    }


@pytest.fixture
def policy(usd_entity, make_user):
    return make_policy(
        make_user(Role.FINANCE),
        usd_entity,
        [level(1, 14, fee="10.00"), level(2, 30, fee="25.00", percent="8")],
    )


@pytest.fixture
def noticed(usd_entity, usd_client, policy, make_user, django_capture_on_commit_callbacks):
    """Two invoices of Initech noticed at level 2 on 2026-03-18 (45 and 38 days past due)."""
    post_invoice(usd_entity, usd_client, 101, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    post_invoice(usd_entity, usd_client, 102, "400.00", on=date(2026, 1, 9), due=date(2026, 2, 8))
    with django_capture_on_commit_callbacks(execute=True):
        start_dunning_run(actor=make_user(Role.FINANCE), legal_entity=usd_entity, as_of=date(2026, 3, 18))
    return DunningNotice.objects.get()


# Policies


def test_finance_creates_a_policy_with_nested_levels(finance_client, usd_entity):
    response = finance_client.post(POLICIES, _policy_body(usd_entity))

    assert response.status_code == 201, response.content
    body = response.json()
    policy = DunningPolicy.objects.get()
    assert body == {
        "id": policy.pk,
        "legal_entity": usd_entity.pk,
        "name": "Standard",
        "fee_currency": "USD",
        "payment_instructions": "Pay to IBAN US00 1234.",
        "is_default": True,
        "active": True,
        "levels": [
            {
                "level": 1,
                "days_overdue": 14,
                "fee_amount": "10.00",
                "annual_interest_percent": None,
                "subject_template": SUBJECT,
                "template": BODY,
                "escalate_to_owner": False,
            },
            {
                "level": 2,
                "days_overdue": 30,
                "fee_amount": "25.00",
                "annual_interest_percent": "8",
                "subject_template": SUBJECT,
                "template": BODY,
                "escalate_to_owner": False,
            },
        ],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert finance_client.get(f"{POLICIES}{policy.pk}/").json() == body
    assert AuditEvent.objects.filter(action="dunning_policy.created", object_id=str(policy.pk)).exists()


@pytest.mark.parametrize(
    ("levels", "fields"),
    [
        (
            [_level_body(2, 30), _level_body(1, 14)],
            {
                "levels": {
                    "0": {"level": ["Levels are numbered 1, 2, 3… by days overdue: expected 1, not 2."]},
                    "1": {
                        "level": ["Levels are numbered 1, 2, 3… by days overdue: expected 2, not 1."],
                        "days_overdue": [
                            "Must be more than the previous level's 30 days: levels escalate over time."
                        ],
                    },
                }
            },
        ),
        (
            [_level_body(1, 14), _level_body(2, 30, fee="-25.00")],
            {"levels": {"1": {"fee_amount": ["Must not be negative."]}}},
        ),
        (
            [_level_body(1, 14, fee="lots")],
            {"levels": {"0": {"fee_amount": ["A valid number is required."]}}},
        ),
        ([], {"levels": ["A policy needs at least one level."]}),
    ],
)
def test_invalid_policy_is_400_with_errors_per_level_and_saves_nothing(
    finance_client, usd_entity, levels, fields
):
    response = finance_client.post(POLICIES, _policy_body(usd_entity, levels=levels))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_dunning_policy"
    assert body["fields"] == fields
    assert body["detail"].startswith("The dunning policy is invalid")
    assert not DunningPolicy.objects.exists()
    assert not DunningLevel.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="dunning_policy").exists()


def test_patch_replaces_the_levels_and_put_needs_them(finance_client, policy):
    url = f"{POLICIES}{policy.pk}/"
    response = finance_client.patch(url, {"levels": [_level_body(1, 7, fee="5.00", percent=None)]})
    assert response.status_code == 200, response.content
    assert [(row["level"], row["days_overdue"], row["fee_amount"]) for row in response.json()["levels"]] == [
        (1, 7, "5.00")
    ]
    assert finance_client.patch(url, {"name": "Gentle"}).json()["name"] == "Gentle"
    assert len(finance_client.get(url).json()["levels"]) == 1

    missing = finance_client.put(url, {"name": "Gentle"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid_dunning_policy"
    assert missing.json()["fields"] == {"levels": ["This field is required."]}
    incomplete = finance_client.patch(url, {"levels": [{"level": 1, "days_overdue": 7}]})
    assert incomplete.json()["fields"] == {
        "levels": {
            "0": {"subject_template": ["This field is required."], "template": ["This field is required."]}
        }
    }
    unknown = finance_client.patch(url, {"legal_entity": 99})
    assert unknown.json()["fields"] == {"legal_entity": ["This field cannot be changed."]}
    put = finance_client.put(url, {"name": "Firm", "levels": [_level_body(1, 10), _level_body(2, 20)]})
    assert put.status_code == 200
    assert DunningLevel.objects.filter(policy=policy).count() == 2


def test_delete_an_unused_policy_and_refuse_one_in_use(finance_client, policy, usd_entity, usd_client):
    spare = make_policy(finance_client.user, usd_entity, [level(1, 14)], name="Spare", is_default=False)
    assign_dunning_policy(actor=finance_client.user, client=usd_client, policy=policy)

    assert finance_client.delete(f"{POLICIES}{spare.pk}/").status_code == 204
    refused = finance_client.delete(f"{POLICIES}{policy.pk}/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "dunning_policy_in_use"
    assert list(DunningPolicy.objects.values_list("pk", flat=True)) == [policy.pk]


def test_assign_a_policy_to_a_client(finance_client, usd_entity, usd_client, policy):
    url = f"{POLICIES}assign/"
    response = finance_client.post(url, {"client": usd_client.pk, "policy": policy.pk})
    assert response.status_code == 200, response.content
    assert response.json() == {"client": usd_client.pk, "client_name": "Initech", "policy": policy.pk}
    assert finance_client.post(url, {"client": usd_client.pk, "policy": None}).json()["policy"] is None

    eur_client = Account.objects.create(name="Globex", legal_entity=usd_entity, currency="EUR")
    mismatch = finance_client.post(url, {"client": eur_client.pk, "policy": policy.pk})
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "dunning_currency_mismatch"
    eur_client.refresh_from_db()
    assert eur_client.dunning_policy is None


def test_policy_filters(finance_client, usd_entity, eur_entity, policy):
    make_policy(finance_client.user, eur_entity, [level(1, 14)], name="EU")
    names = [
        p["name"] for p in finance_client.get(f"{POLICIES}?legal_entity={usd_entity.pk}").json()["results"]
    ]
    assert names == ["Standard"]
    assert finance_client.get(f"{POLICIES}?is_default=true").json()["results"].__len__() == 2


# Runs


def test_start_a_run_and_poll_it(
    finance_client, usd_entity, usd_client, policy, django_capture_on_commit_callbacks
):
    post_invoice(usd_entity, usd_client, 101, "2500.00", on=date(2026, 1, 2), due=date(2026, 2, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-18"})

    assert response.status_code == 201, response.content
    created = response.json()
    run = DunningRun.objects.get()
    assert created["id"] == run.pk
    assert (created["status"], created["progress"], created["notices_created"]) == ("pending", 0, 0)
    polled = finance_client.get(f"{RUNS}{run.pk}/").json()
    assert {
        k: polled[k] for k in ("status", "progress", "clients_evaluated", "notices_created", "items_noticed")
    } == {
        "status": "completed",
        "progress": 100,
        "clients_evaluated": 1,
        "notices_created": 1,
        "items_noticed": 1,
    }
    assert (polled["as_of"], polled["trigger"], polled["created_by"]) == (
        "2026-03-18",
        "manual",
        finance_client.user.username,
    )
    assert polled["started_at"] and polled["finished_at"]
    assert len(mail.outbox) == 1


def test_a_second_start_while_one_is_pending_is_409(finance_client, usd_entity, policy):
    first = finance_client.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-18"})
    second = finance_client.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-18"})
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["code"] == "dunning_run_active"
    assert DunningRun.objects.count() == 1
    bad = finance_client.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2999-01-01"})
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"as_of": ["Must not be after today."]}


def test_run_filters(finance_client, usd_entity, eur_entity, make_user):
    finance = make_user(Role.FINANCE)
    start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))
    start_dunning_run(actor=finance, legal_entity=eur_entity, as_of=date(2026, 3, 2))
    rows = finance_client.get(f"{RUNS}?legal_entity={eur_entity.pk}&status=pending").json()["results"]
    assert [r["as_of"] for r in rows] == ["2026-03-02"]
    assert (
        finance_client.get(f"{RUNS}?as_of_after=2026-03-02").json()["results"][0]["legal_entity"]
        == eur_entity.pk
    )


# Notices


def test_notice_fields_and_filters(finance_client, noticed, usd_client, usd_entity):
    body = finance_client.get(NOTICES).json()["results"]
    assert len(body) == 1
    notice = body[0]
    # 2,500.00 × 8% × 45 ÷ 365 = 24.66 and 400.00 × 8% × 38 ÷ 365 = 3.33; the fee once, 25.00.
    assert {k: notice[k] for k in ("id", "invoice", "invoices", "level", "fee_amount", "status")} == {
        "id": noticed.pk,
        "invoice": 101,
        "invoices": [101, 102],
        "level": 2,
        "fee_amount": "25.00",
        "status": "sent",
    }
    assert (notice["currency"], notice["total_open"], notice["interest_amount"]) == (
        "USD",
        "2900.00",
        "27.99",
    )
    assert (notice["charges_amount"], notice["total_due"]) == ("52.99", "2952.99")
    assert notice["sent_at"] is not None
    assert notice["fee_item"] == ArItem.objects.get(document_type="ledger.dunningnotice").pk
    assert notice["items"][0] == {
        "ar_item": ArItem.objects.get(document_id="101").pk,
        "invoice": 101,
        "number": "US-2026-000101",
        "due_date": "2026-02-01",
        "days_overdue": 45,
        "open_amount": "2500.00",
        "interest_percent": "8",
        "interest_days": 45,
        "interest_amount": "24.66",
    }
    assert notice["subject"] == "Reminder 2: $2,952.99 overdue"
    assert finance_client.get(f"{NOTICES}{noticed.pk}/").json() == notice

    def ids(query):
        return [row["id"] for row in finance_client.get(f"{NOTICES}?{query}").json()["results"]]

    assert ids(f"client={usd_client.pk}") == [noticed.pk]
    assert ids("level=2") == [noticed.pk]
    assert ids("level=1") == []
    assert ids("status=failed") == []
    assert ids(f"run={noticed.run_id}") == [noticed.pk]
    assert ids(f"legal_entity={usd_entity.pk}&status=sent") == [noticed.pk]
    assert finance_client.get(f"{NOTICES}?status=lost").status_code == 400


def test_resend_a_failed_notice(finance_client, noticed, usd_client, django_capture_on_commit_callbacks):
    url = f"{NOTICES}{noticed.pk}/resend/"
    assert finance_client.post(url).status_code == 409
    DunningNotice.objects.filter(pk=noticed.pk).update(status="failed", failure_reason="No e-mail")
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    noticed.refresh_from_db()
    assert noticed.status == "sent"
    assert len(mail.outbox) == 2


def test_notice_list_does_not_query_per_row(
    finance_client, noticed, usd_entity, policy, make_user, django_capture_on_commit_callbacks
):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert finance_client.get(NOTICES).status_code == 200
        return len(queries)

    count()  # the first request caches the user's roles
    before = count()
    for number in range(3):
        client = Account.objects.create(name=f"Client {number}", legal_entity=usd_entity, currency="USD")
        post_invoice(usd_entity, client, 200 + number, "10.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
        post_invoice(usd_entity, client, 300 + number, "10.00", on=date(2026, 1, 2), due=date(2026, 2, 2))
    with django_capture_on_commit_callbacks(execute=True):
        start_dunning_run(actor=make_user(Role.FINANCE), legal_entity=usd_entity, as_of=date(2026, 3, 19))
    assert DunningNotice.objects.count() == 4
    assert count() == before


# Roles and scopes

READ_URLS = [POLICIES, RUNS, NOTICES]


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER])
def test_delivery_roles_are_refused(client_for, usd_entity, role):
    client = client_for(role)
    for url in READ_URLS:
        assert client.get(url).status_code == 403, url
    assert client.post(POLICIES, _policy_body(usd_entity)).status_code == 403
    assert client.post(RUNS, {"legal_entity": usd_entity.pk}).status_code == 403
    assert not DunningPolicy.objects.exists()


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.INTEGRATOR])
def test_readers_read_and_never_write(client_for, usd_entity, usd_client, noticed, policy, role):
    client = client_for(role)
    for url in [*READ_URLS, f"{POLICIES}{policy.pk}/", f"{RUNS}{noticed.run_id}/", f"{NOTICES}{noticed.pk}/"]:
        assert client.get(url).status_code == 200, url
    for method, url, body in [
        ("post", POLICIES, _policy_body(usd_entity, name="Other", is_default=False)),
        ("patch", f"{POLICIES}{policy.pk}/", {"name": "Renamed"}),
        ("delete", f"{POLICIES}{policy.pk}/", None),
        ("post", f"{POLICIES}assign/", {"client": usd_client.pk, "policy": None}),
        ("post", RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-19"}),
        ("post", f"{NOTICES}{noticed.pk}/resend/", {}),
    ]:
        response = getattr(client, method)(url, body)
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "permission_denied"
    assert list(DunningPolicy.objects.values_list("name", flat=True)) == ["Standard"]
    assert DunningRun.objects.count() == 1


def test_admin_writes(client_for, usd_entity):
    assert client_for(Role.ADMIN).post(POLICIES, _policy_body(usd_entity)).status_code == 201


def test_api_key_scopes(token_client_for, usd_entity, policy):
    reader = token_client_for(Role.FINANCE, scopes=["ledger:read"])
    assert reader.get(POLICIES).status_code == 200
    refused = reader.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-18"})
    assert refused.status_code == 403
    assert "ledger:write" in refused.json()["detail"]
    assert token_client_for(Role.FINANCE, scopes=["core:read"]).get(NOTICES).status_code == 403
    writer = token_client_for(Role.FINANCE, scopes=["ledger:write"])
    assert writer.post(RUNS, {"legal_entity": usd_entity.pk, "as_of": "2026-03-18"}).status_code == 201


def test_unauthenticated_is_401(api_client):
    assert api_client.get(NOTICES).status_code == 401


def test_schema_describes_the_dunning_resources(finance_client):
    schema = finance_client.get("/api/schema/?format=json").json()
    paths = {path for path in schema["paths"] if path.startswith("/api/v1/dunning-")}
    assert paths == {
        "/api/v1/dunning-policies/", "/api/v1/dunning-policies/{id}/", "/api/v1/dunning-policies/assign/",
        "/api/v1/dunning-runs/", "/api/v1/dunning-runs/{id}/",
        "/api/v1/dunning-notices/", "/api/v1/dunning-notices/{id}/", "/api/v1/dunning-notices/{id}/resend/",
        "/api/v1/dunning-notices/{id}/pdf/",
    }  # fmt: skip
    components = schema["components"]["schemas"]
    assert {"id", "name", "levels"} <= set(components["DunningPolicy"]["properties"])
    assert {"level", "days_overdue", "fee_amount", "template"} <= set(
        components["DunningLevel"]["properties"]
    )
    assert {"id", "status", "progress", "notices_created", "items_on_hold", "skipped"} <= set(
        components["DunningRun"]["properties"]
    )
    notice = set(components["DunningNotice"]["properties"])
    assert {"id", "invoice", "level", "sent_at", "fee_amount", "status"} <= notice
