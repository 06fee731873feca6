"""The collection holds API (disputes, promises), the dunning run's skipped clients and the notice PDF."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Event
from core.roles import Role
from crm.models import Account
from ledger.models import CollectionHold, DunningNotice
from ledger.services.collections import open_dispute
from ledger.services.dunning import start_dunning_run
from tests.ledger.test_dunning import level, make_policy, post_invoice

pytestmark = pytest.mark.django_db
HOLDS = "/api/v1/collection-holds/"


@pytest.fixture(autouse=True)
def _deferred_checks(db):
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def manager(make_user):
    return make_user(Role.PROJECT_MANAGER)


@pytest.fixture
def acme(usd_entity, manager):
    return Account.objects.create(
        name="Acme", legal_entity=usd_entity, currency="USD", billing_email="ap@acme.example", owner=manager
    )


@pytest.fixture
def invoice(usd_entity, acme):
    return post_invoice(usd_entity, acme, 1, "1200.00", on=date(2026, 1, 2), due=date(2026, 2, 1))


def _dispute(item, **extra):
    return {"kind": "dispute", "ar_item": item.pk, "reason": "Wrong hours", **extra}


def test_finance_opens_a_dispute(finance_client, invoice, acme):
    response = finance_client.post(HOLDS, _dispute(invoice), format="json")

    assert response.status_code == 201, response.json()
    [body] = response.json()
    assert {key: body[key] for key in ("client", "client_name", "ar_item", "number", "kind", "status")} == {
        "client": acme.pk,
        "client_name": "Acme",
        "ar_item": invoice.pk,
        "number": "US-2026-000001",
        "kind": "dispute",
        "status": "open",
    }
    assert (body["reason"], body["promised_amount"], body["currency"]) == ("Wrong hours", None, "USD")
    assert Event.objects.filter(type="invoice.disputed").count() == 1


def test_a_second_dispute_is_409_and_resolving_twice_is_409(finance_client, invoice):
    first = finance_client.post(HOLDS, _dispute(invoice), format="json").json()[0]

    again = finance_client.post(HOLDS, _dispute(invoice), format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_disputed")

    blank = finance_client.post(f"{HOLDS}{first['id']}/resolve/", {"resolution": " "}, format="json")
    assert (blank.status_code, blank.json()["fields"]) == (400, {"resolution": ["Say how it was resolved."]})
    done = finance_client.post(f"{HOLDS}{first['id']}/resolve/", {"resolution": "Credited 2h"}, format="json")
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["resolution"]) == ("resolved", "Credited 2h")
    twice = finance_client.post(f"{HOLDS}{first['id']}/resolve/", {"resolution": "x"}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")


def test_a_promise_on_the_account(finance_client, acme, invoice):
    until = timezone.localdate() + timedelta(days=10)
    response = finance_client.post(
        HOLDS,
        {"kind": "promise", "client": acme.pk, "until": until.isoformat(), "amount": "750.00", "note": "CFO"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    [body] = response.json()
    assert (body["kind"], body["ar_item"], body["until"], body["promised_amount"], body["reason"]) == (
        "promise",
        None,
        until.isoformat(),
        "750.00",
        "CFO",
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "dispute", "reason": "x"}, {"ar_item"}),
        ({"kind": "dispute", "ar_item": 999999, "reason": "x"}, {"ar_item"}),
        ({"kind": "dispute", "reason": ""}, {"ar_item", "reason"}),
        ({"kind": "promise", "amount": "10.00"}, {"client", "until"}),
        ({"kind": "refund"}, {"kind"}),
    ],
)
def test_bad_bodies_are_400_with_field_errors(finance_client, body, fields):
    response = finance_client.post(HOLDS, body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == fields
    assert not CollectionHold.objects.exists()


def test_a_past_promise_date_is_400(finance_client, acme):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = finance_client.post(
        HOLDS,
        {"kind": "promise", "client": acme.pk, "until": yesterday.isoformat(), "amount": "10"},
        format="json",
    )

    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert response.json()["fields"] == {"until": ["The promised date is today or later."]}


def test_account_managers_work_their_own_clients_only(client_for, manager, invoice):
    from rest_framework.test import APIClient

    own = APIClient()
    own.force_authenticate(manager)
    assert own.post(HOLDS, _dispute(invoice), format="json").status_code == 201
    other = client_for(Role.PROJECT_MANAGER)
    response = other.post(HOLDS, _dispute(invoice, reason="Other"), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.INTEGRATOR])
def test_readers_list_and_filter_but_do_not_write(client_for, role, invoice, make_user):
    hold = open_dispute(actor=make_user(Role.FINANCE), ar_item=invoice, reason="Wrong hours")
    reader = client_for(role)

    listed = reader.get(HOLDS, {"kind": "dispute", "status": "open"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [hold.pk]
    assert reader.get(HOLDS, {"status": "resolved"}).json()["results"] == []
    assert reader.post(HOLDS, _dispute(invoice), format="json").status_code == 403
    assert reader.post(f"{HOLDS}{hold.pk}/resolve/", {"resolution": "x"}, format="json").status_code == 403


def test_consultants_and_anonymous_are_refused(client_for, api_client):
    assert client_for(Role.CONSULTANT).get(HOLDS).status_code == 403
    assert api_client.get(HOLDS).status_code == 401


def test_the_run_lists_skipped_clients_and_the_notice_pdf_downloads(
    finance_client, usd_entity, acme, invoice, make_user, django_capture_on_commit_callbacks
):
    finance = make_user(Role.FINANCE)
    make_policy(finance, usd_entity, [level(1, 14, fee="10.00")])
    other = post_invoice(usd_entity, acme, 2, "300.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
    open_dispute(actor=finance, ar_item=other, reason="Duplicate")
    with django_capture_on_commit_callbacks(execute=True):
        run = start_dunning_run(actor=finance, legal_entity=usd_entity, as_of=date(2026, 3, 1))

    body = finance_client.get(f"/api/v1/dunning-runs/{run.pk}/").json()
    assert (body["notices_created"], body["items_noticed"], body["items_on_hold"]) == (1, 1, 1)
    assert body["skipped"] == [
        {
            "client": acme.pk,
            "client_name": "Acme",
            "kind": "dispute",
            "reason": body["skipped"][0]["reason"],
            "items": ["US-2026-000002"],
        }
    ]
    assert body["skipped"][0]["reason"].startswith("Disputed (invoice US-2026-000002): Duplicate")

    notice = DunningNotice.objects.get()
    pdf = finance_client.get(f"/api/v1/dunning-notices/{notice.pk}/pdf/")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert finance_client.get("/api/v1/dunning-notices/999999/pdf/").status_code == 404


def test_schema_describes_collection_holds(finance_client):
    schema = finance_client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/collection-holds/" in schema["paths"]
    assert "/api/v1/collection-holds/{id}/resolve/" in schema["paths"]
    assert "/api/v1/dunning-notices/{id}/pdf/" in schema["paths"]


def test_the_hold_list_does_not_query_per_row(finance_client, usd_entity, acme, make_user):
    finance = make_user(Role.FINANCE)
    items = [
        post_invoice(usd_entity, acme, number, "100.00", on=date(2026, 1, 2), due=date(2026, 2, 1))
        for number in range(1, 5)
    ]
    open_dispute(actor=finance, ar_item=items[0], reason="One")
    with CaptureQueriesContext(connection) as one:
        assert len(finance_client.get(HOLDS).json()["results"]) == 1
    for item in items[1:]:
        open_dispute(actor=finance, ar_item=item, reason="More")
    with CaptureQueriesContext(connection) as four:
        assert len(finance_client.get(HOLDS).json()["results"]) == 4

    def reads(context):
        # The role lookup is cached on the user between requests or not; only the list's reads count.
        return [query for query in context.captured_queries if "auth_group" not in query["sql"]]

    assert len(reads(four)) == len(reads(one)) == 1
