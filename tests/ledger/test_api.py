"""The ledger API: master data, journal entries, AR (payments, items, write-offs), roles, scopes, paging."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from core.roles import Role
from crm.models import Account
from ledger.chart import SERVICES_FIRM_CHART
from ledger.models import (
    Allocation,
    ArItem,
    ExchangeRate,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    LegalEntity,
    Payment,
    WriteOffRequest,
)
from ledger.services.ar import post_receivable, record_payment, request_write_off
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from ledger.services.setup import close_period

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def usd_client(usd_entity):
    return Account.objects.create(
        name="Initech", legal_entity=usd_entity, currency="USD", payment_terms_days=30
    )


@pytest.fixture
def invoice(usd_entity, usd_client, account):
    """Post an invoice to AR: invoice(101, date, due, "1000.00")."""

    def post(number, day, due, amount, client=None):
        return post_receivable(
            actor=None,
            legal_entity=usd_entity,
            client=client or usd_client,
            kind="invoice",
            document_type="billing.invoice",
            document_id=str(number),
            number=f"US-2026-{number:06d}",
            date=day,
            due_date=due,
            currency="USD",
            amount=D(amount),
            lines=[LineSpec(account=account("4000"), currency="USD", credit=D(amount))],
            memo=f"Invoice {number}",
            posting_key=f"invoice:{number}",
        )

    return post


@pytest.fixture
def two_invoices(invoice):
    return (
        invoice(101, date(2026, 1, 10), date(2026, 2, 9), "1000.00"),
        invoice(102, date(2026, 2, 1), date(2026, 3, 3), "500.00"),
    )


def _manual(entity, account, finance, *, on=date(2026, 3, 10), amount="250.00", memo="Accrue rent"):
    return post_manual_entry(
        actor=finance,
        legal_entity=entity,
        date=on,
        memo=memo,
        lines=[
            LineSpec(account=account("6100"), currency="USD", debit=D(amount)),
            LineSpec(account=account("2300"), currency="USD", credit=D(amount)),
        ],
    )


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


# Legal entities


def test_legal_entities_are_readable_by_every_role(client_for, usd_entity):
    body = client_for(Role.CONSULTANT).get("/api/v1/legal-entities/").json()
    assert body["results"] == [
        {
            "id": usd_entity.pk,
            "name": "Ledgerline Consulting Inc.",
            "functional_currency": "USD",
            "address": "",
            "tax_id": "",
            "invoice_prefix": "US-",
            "fiscal_year_start_month": 1,
            "write_off_approval_threshold": "500.00",
            "created_at": body["results"][0]["created_at"],
        }
    ]


def test_finance_creates_a_legal_entity_with_its_chart(finance_client):
    response = finance_client.post(
        "/api/v1/legal-entities/",
        {
            "name": "Ledgerline UK Ltd",
            "functional_currency": "GBP",
            "invoice_prefix": "UK-",
            "tax_id": "GB123",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["functional_currency"], body["tax_id"]) == (
        "Ledgerline UK Ltd",
        "GBP",
        "GB123",
    )
    assert body["write_off_approval_threshold"] == "500.00"
    entity = LegalEntity.objects.get(pk=body["id"])
    assert entity.accounts.count() == len(SERVICES_FIRM_CHART)
    assert FiscalPeriod.objects.filter(legal_entity=entity).count() == 24


def test_legal_entity_create_refusals(finance_client, client_for, usd_entity):
    bad_currency = finance_client.post(
        "/api/v1/legal-entities/", {"name": "X", "functional_currency": "ZZZ", "invoice_prefix": "X-"}
    )
    assert bad_currency.status_code == 400
    assert "functional_currency" in bad_currency.json()["fields"]
    missing = finance_client.post("/api/v1/legal-entities/", {"functional_currency": "USD"})
    assert missing.status_code == 400
    assert set(missing.json()["fields"]) == {"name", "invoice_prefix"}
    executive = client_for(Role.EXECUTIVE).post(
        "/api/v1/legal-entities/", {"name": "Y", "functional_currency": "USD", "invoice_prefix": "Y-"}
    )
    assert executive.status_code == 403
    assert LegalEntity.objects.count() == 1


def test_legal_entity_update_changes_only_the_editable_fields(finance_client, usd_entity):
    url = f"/api/v1/legal-entities/{usd_entity.pk}/"
    response = finance_client.patch(
        url, {"name": "Ledgerline US Inc.", "write_off_approval_threshold": "250.00"}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["write_off_approval_threshold"]) == (
        "Ledgerline US Inc.",
        "250.00",
    )
    assert AuditEvent.objects.filter(action="legal_entity.changed", object_id=str(usd_entity.pk)).count() == 1
    refused = finance_client.patch(url, {"functional_currency": "EUR"})
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"functional_currency": ["This field cannot be changed."]}
    assert finance_client.put(url, {"name": "Z"}).status_code == 405
    usd_entity.refresh_from_db()
    assert (usd_entity.name, usd_entity.functional_currency) == ("Ledgerline US Inc.", "USD")


# Exchange rates


def test_exchange_rates_create_and_filter(finance_client, db):
    response = finance_client.post(
        "/api/v1/exchange-rates/",
        {"from_currency": "eur", "to_currency": "USD", "date": "2026-03-01", "rate": "1.0850"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("from_currency", "to_currency", "date", "rate")} == {
        "from_currency": "EUR",
        "to_currency": "USD",
        "date": "2026-03-01",
        "rate": "1.085",
    }
    for day, rate in (("2026-03-02", "1.09"), ("2026-04-01", "1.10")):
        finance_client.post(
            "/api/v1/exchange-rates/",
            {"from_currency": "EUR", "to_currency": "USD", "date": day, "rate": rate},
        )
    finance_client.post(
        "/api/v1/exchange-rates/",
        {"from_currency": "GBP", "to_currency": "USD", "date": "2026-03-05", "rate": "1.27"},
    )
    listed = finance_client.get(
        "/api/v1/exchange-rates/?from_currency=EUR&date_after=2026-03-01&date_before=2026-03-31"
    ).json()
    assert [(r["date"], r["rate"]) for r in listed["results"]] == [
        ("2026-03-02", "1.09"),
        ("2026-03-01", "1.085"),
    ]
    assert finance_client.get("/api/v1/exchange-rates/?to_currency=USD").json()["results"][0]["rate"] == "1.1"


def test_exchange_rate_refusals(finance_client, client_for, db):
    same = finance_client.post(
        "/api/v1/exchange-rates/",
        {"from_currency": "USD", "to_currency": "USD", "date": "2026-03-01", "rate": "1"},
    )
    assert same.status_code == 400
    assert "to_currency" in same.json()["fields"]
    zero = finance_client.post(
        "/api/v1/exchange-rates/",
        {"from_currency": "EUR", "to_currency": "USD", "date": "2026-03-01", "rate": "0"},
    )
    assert zero.status_code == 400
    assert "rate" in zero.json()["fields"]
    bad_filter = finance_client.get("/api/v1/exchange-rates/?date_after=01.03.2026")
    assert bad_filter.status_code == 400
    assert "date" in bad_filter.json()["fields"]
    executive = client_for(Role.EXECUTIVE)
    assert executive.get("/api/v1/exchange-rates/").status_code == 200
    refused = executive.post(
        "/api/v1/exchange-rates/",
        {"from_currency": "EUR", "to_currency": "USD", "date": "2026-03-01", "rate": "1.1"},
    )
    assert refused.status_code == 403
    assert not ExchangeRate.objects.exists()


# GL accounts


def test_gl_accounts_list_and_filter(finance_client, usd_entity, eur_entity):
    body = finance_client.get(f"/api/v1/gl-accounts/?legal_entity={usd_entity.pk}&type=revenue").json()
    assert [(a["code"], a["name"], a["type"], a["role"]) for a in body["results"]] == [
        ("4000", "Revenue: time and materials", "revenue", "revenue_tm"),
        ("4100", "Revenue: fixed fee and milestones", "revenue", "revenue_fixed"),
        ("4200", "Revenue: subscriptions and retainers", "revenue", "revenue_subscription"),
        ("4300", "Revenue: expense rebill", "revenue", "revenue_expense"),
        ("4900", "Interest and late-fee income", "revenue", "fee_income"),
    ]
    first = body["results"][0]
    assert (first["legal_entity"], first["normal_balance"], first["active"], first["parent"]) == (
        usd_entity.pk,
        "credit",
        True,
        None,
    )
    both = finance_client.get("/api/v1/gl-accounts/?code=1100&page_size=100").json()["results"]
    assert sorted(a["legal_entity"] for a in both) == sorted([usd_entity.pk, eur_entity.pk])
    assert finance_client.get("/api/v1/gl-accounts/?type=nonsense").status_code == 400


def test_gl_account_rename_and_deactivate(finance_client, client_for, account, usd_entity, make_user):
    url = f"/api/v1/gl-accounts/{account('1010').pk}/"
    renamed = finance_client.patch(url, {"name": "Card payments in transit"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["active"]) == ("Card payments in transit", True)
    assert finance_client.patch(url, {"active": False}).json()["active"] is False
    role_account = finance_client.patch(f"/api/v1/gl-accounts/{account('1100').pk}/", {"active": False})
    assert role_account.status_code == 400
    assert "active" in role_account.json()["fields"]
    _manual(usd_entity, account, make_user(Role.FINANCE))
    with_balance = finance_client.patch(f"/api/v1/gl-accounts/{account('6100').pk}/", {"active": False})
    assert with_balance.status_code == 400
    assert client_for(Role.EXECUTIVE).patch(url, {"name": "Nope"}).status_code == 403
    assert finance_client.patch(url, {"code": "9999"}).status_code == 400
    assert account("1100").active and account("6100").active
    assert GLAccount.objects.get(pk=account("1010").pk).code == "1010"


# Periods


def _period(entity, start):
    return FiscalPeriod.objects.get(legal_entity=entity, start=start)


def test_period_close_and_reopen(finance_client, usd_entity):
    period = _period(usd_entity, date(2026, 1, 1))
    url = f"/api/v1/periods/{period.pk}/"
    closed = finance_client.post(url + "close/", {"reason": "January books done"})
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert (body["status"], body["closed_by"], body["fiscal_year"], body["number"]) == (
        "closed",
        finance_client.user.pk,
        2026,
        1,
    )
    assert (body["start"], body["end"]) == ("2026-01-01", "2026-01-31")
    again = finance_client.post(url + "close/", {"reason": "Again"})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    reopened = finance_client.post(url + "reopen/", {"reason": "Late invoice"})
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["closed_by"], reopened.json()["closed_at"]) == (
        "open",
        None,
        None,
    )
    assert finance_client.post(url + "reopen/", {"reason": "Again"}).json()["code"] == "invalid_transition"


def test_period_close_needs_a_reason(finance_client, usd_entity):
    period = _period(usd_entity, date(2026, 1, 1))
    for body in ({}, {"reason": ""}):
        response = finance_client.post(f"/api/v1/periods/{period.pk}/close/", body)
        assert response.status_code == 400
        assert "reason" in response.json()["fields"]
    period.refresh_from_db()
    assert period.status == "open"


def test_periods_filter(finance_client, usd_entity, eur_entity):
    body = finance_client.get(f"/api/v1/periods/?legal_entity={usd_entity.pk}&contains=2026-02-14").json()
    assert [(p["start"], p["end"], p["status"]) for p in body["results"]] == [
        ("2026-02-01", "2026-02-28", "open")
    ]
    year = finance_client.get(
        f"/api/v1/periods/?legal_entity={eur_entity.pk}&fiscal_year=2027&page_size=20"
    ).json()
    assert len(year["results"]) == 12


# Journal entries


def test_manual_entry_posts_and_reads_back(finance_client, usd_entity, account, usd_client, eur_usd):
    eur_usd({date(2026, 3, 1): "1.1000"})
    response = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": usd_entity.pk,
            "date": "2026-03-10",
            "memo": "Reclass consulting fee",
            "lines": [
                {
                    "account": account("1150").pk,
                    "debit": "100.00",
                    "currency": "EUR",
                    "client": usd_client.pk,
                },
                {"account": account("4000").pk, "credit": "100.00", "currency": "EUR", "project": 12},
                {"account": account("6100").pk, "debit": "40.00"},
                {"account": account("1000").pk, "credit": "40.00"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    entry = JournalEntry.objects.get()
    assert {
        k: body[k] for k in ("id", "display_number", "date", "memo", "status", "source_type", "fiscal_year")
    } == {
        "id": entry.pk,
        "display_number": "JE-2026-000001",
        "date": "2026-03-10",
        "memo": "Reclass consulting fee",
        "status": "posted",
        "source_type": "ledger.manual",
        "fiscal_year": 2026,
    }
    assert (body["reversal_of"], body["reversed_by"], body["functional_currency"]) == (None, None, "USD")
    assert body["period"] == _period(usd_entity, date(2026, 3, 1)).pk
    assert [
        (
            ln["account_code"],
            ln["debit"],
            ln["credit"],
            ln["currency"],
            ln["functional_debit"],
            ln["functional_credit"],
            ln["project"],
            ln["account_client"],
        )
        for ln in body["lines"]
    ] == [
        ("1150", "100.00", "0.00", "EUR", "110.00", "0.00", None, usd_client.pk),
        ("4000", "0.00", "100.00", "EUR", "0.00", "110.00", 12, None),
        ("6100", "40.00", "0.00", "USD", "40.00", "0.00", None, None),
        ("1000", "0.00", "40.00", "USD", "0.00", "40.00", None, None),
    ]
    assert finance_client.get(f"/api/v1/journal-entries/{entry.pk}/").json() == body


def test_manual_entry_to_the_receivables_control_account_is_refused(finance_client, usd_entity, account):
    response = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": usd_entity.pk,
            "date": "2026-03-10",
            "memo": "Plug AR",
            "lines": [
                {"account": account("1100").pk, "debit": "100.00"},
                {"account": account("4000").pk, "credit": "100.00"},
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_posting"
    assert "control account" in response.json()["detail"]
    assert not JournalEntry.objects.exists()


def test_unbalanced_manual_entry_is_refused(finance_client, usd_entity, account):
    response = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": usd_entity.pk,
            "date": "2026-03-10",
            "memo": "Typo",
            "lines": [
                {"account": account("6100").pk, "debit": "100.00"},
                {"account": account("1000").pk, "credit": "99.00"},
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unbalanced_entry"
    assert "lines" in response.json()["fields"]
    assert not JournalEntry.objects.exists()


def test_manual_entry_into_a_closed_period_is_refused(finance_client, usd_entity, account):
    close_period(actor=finance_client.user, period=_period(usd_entity, date(2026, 2, 1)), reason="Closed")
    response = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": usd_entity.pk,
            "date": "2026-02-10",
            "memo": "Late accrual",
            "lines": [
                {"account": account("6100").pk, "debit": "100.00"},
                {"account": account("2300").pk, "credit": "100.00"},
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "period_closed"
    assert response.json()["fields"] == {"date": ["2026-02 is closed."]}
    assert not JournalEntry.objects.exists()


def test_manual_entry_input_errors(finance_client, usd_entity, account):
    no_lines = finance_client.post(
        "/api/v1/journal-entries/",
        {"legal_entity": usd_entity.pk, "date": "2026-03-10", "memo": "x", "lines": []},
    )
    assert no_lines.status_code == 400
    assert "lines" in no_lines.json()["fields"]
    bad = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": 999999999,
            "date": "10/03/2026",
            "lines": [
                {"account": 999999999, "debit": "-1"},
                {"account": account("1000").pk, "credit": "abc"},
            ],
        },
    )
    assert bad.status_code == 400
    fields = bad.json()["fields"]
    assert set(fields) == {"legal_entity", "date", "memo", "lines"}
    assert set(fields["lines"]["0"]) == {"account", "debit"}
    assert set(fields["lines"]["1"]) == {"credit"}


def test_manual_entry_on_another_entitys_account_is_refused(finance_client, usd_entity, eur_entity, account):
    foreign = GLAccount.objects.get(legal_entity=eur_entity, code="6100")
    response = finance_client.post(
        "/api/v1/journal-entries/",
        {
            "legal_entity": usd_entity.pk,
            "date": "2026-03-10",
            "memo": "Wrong chart",
            "lines": [
                {"account": foreign.pk, "debit": "5.00"},
                {"account": account("1000").pk, "credit": "5.00"},
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_posting"
    assert not JournalEntry.objects.exists()


def test_reverse_entry(finance_client, usd_entity, account):
    entry = _manual(usd_entity, account, finance_client.user)
    response = finance_client.post(f"/api/v1/journal-entries/{entry.pk}/reverse/", {"date": "2026-03-31"})
    assert response.status_code == 200, response.content
    reversal = JournalEntry.objects.get(reversal_of=entry)
    assert (response.json()["id"], response.json()["status"], response.json()["reversed_by"]) == (
        entry.pk,
        "reversed",
        reversal.pk,
    )
    mirrored = finance_client.get(f"/api/v1/journal-entries/{reversal.pk}/").json()
    assert (mirrored["date"], mirrored["status"], mirrored["reversal_of"]) == (
        "2026-03-31",
        "posted",
        entry.pk,
    )
    assert [(ln["account_code"], ln["debit"], ln["credit"]) for ln in mirrored["lines"]] == [
        ("6100", "0.00", "250.00"),
        ("2300", "250.00", "0.00"),
    ]
    twice = finance_client.post(f"/api/v1/journal-entries/{entry.pk}/reverse/", {})
    assert twice.status_code == 409
    assert twice.json()["code"] == "invalid_transition"
    early = _manual(usd_entity, account, finance_client.user, memo="Second")
    too_early = finance_client.post(f"/api/v1/journal-entries/{early.pk}/reverse/", {"date": "2026-03-01"})
    assert too_early.status_code == 400
    assert "date" in too_early.json()["fields"]


def test_journal_entries_filters(finance_client, usd_entity, account, invoice, usd_client):
    invoice(101, date(2026, 1, 10), date(2026, 2, 9), "1000.00")
    manual = _manual(usd_entity, account, finance_client.user)

    def ids(query):
        response = finance_client.get(f"/api/v1/journal-entries/?{query}")
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    invoice_entry = JournalEntry.objects.get(source_type="billing.invoice")
    assert ids(f"legal_entity={usd_entity.pk}") == [manual.pk, invoice_entry.pk]
    assert ids("source_type=ledger.manual") == [manual.pk]
    assert ids(f"account={account('1100').pk}") == [invoice_entry.pk]
    assert ids(f"client={usd_client.pk}") == [invoice_entry.pk]
    assert ids("date_after=2026-02-01&date_before=2026-03-31") == [manual.pk]
    assert ids("status=reversed") == []
    assert finance_client.get("/api/v1/journal-entries/?date_after=March").status_code == 400


def test_idempotent_manual_entry(finance_client, usd_entity, account):
    body = {
        "legal_entity": usd_entity.pk,
        "date": "2026-03-10",
        "memo": "Once",
        "lines": [
            {"account": account("6100").pk, "debit": "10.00"},
            {"account": account("1000").pk, "credit": "10.00"},
        ],
    }
    first = finance_client.post("/api/v1/journal-entries/", body, HTTP_IDEMPOTENCY_KEY="je-1")
    second = finance_client.post("/api/v1/journal-entries/", body, HTTP_IDEMPOTENCY_KEY="je-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert JournalEntry.objects.count() == 1


# Payments and AR items


def test_payment_applied_oldest_first(finance_client, usd_entity, usd_client, two_invoices, account):
    response = finance_client.post(
        "/api/v1/payments/",
        {
            "legal_entity": usd_entity.pk,
            "account": usd_client.pk,
            "date": "2026-03-01",
            "amount": "1200.00",
            "reference": "WIRE-1",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get()
    allocations = list(Allocation.objects.order_by("id"))
    assert body == {
        "id": payment.pk,
        "legal_entity": usd_entity.pk,
        "account": usd_client.pk,
        "account_name": "Initech",
        "date": "2026-03-01",
        "amount": "1200.00",
        "currency": "USD",
        "reference": "WIRE-1",
        "bank_account": account("1000").pk,
        "allocations": [
            {
                "id": allocations[0].pk,
                "invoice": 101,
                "ar_item": two_invoices[0].pk,
                "ar_item_number": "US-2026-000101",
                "amount": "1000.00",
                "fx_difference": "0.00",
                "date": "2026-03-01",
                "reversal_of": None,
                "created_at": body["allocations"][0]["created_at"],
            },
            {
                "id": allocations[1].pk,
                "invoice": 102,
                "ar_item": two_invoices[1].pk,
                "ar_item_number": "US-2026-000102",
                "amount": "200.00",
                "fx_difference": "0.00",
                "date": "2026-03-01",
                "reversal_of": None,
                "created_at": body["allocations"][1]["created_at"],
            },
        ],
        "unallocated_amount": "0.00",
        "ar_item": payment.ar_item_id,
        "journal_entry": payment.journal_entry_id,
        "created_at": body["created_at"],
    }


def test_payment_with_explicit_allocations(finance_client, usd_entity, usd_client, two_invoices):
    response = finance_client.post(
        "/api/v1/payments/",
        {
            "legal_entity": usd_entity.pk,
            "account": usd_client.pk,
            "date": "2026-03-01",
            "amount": "700.00",
            "allocations": [
                {"invoice": 102, "amount": "500.00"},
                {"ar_item": two_invoices[0].pk, "amount": "50.00"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(a["invoice"], a["amount"]) for a in body["allocations"]] == [(102, "500.00"), (101, "50.00")]
    assert body["unallocated_amount"] == "150.00"


def test_unallocated_payment_then_allocate_and_reverse(finance_client, usd_entity, usd_client, two_invoices):
    created = finance_client.post(
        "/api/v1/payments/",
        {
            "legal_entity": usd_entity.pk,
            "account": usd_client.pk,
            "date": "2026-03-01",
            "amount": "300.00",
            "allocations": [],
        },
    )
    assert created.status_code == 201
    assert (created.json()["allocations"], created.json()["unallocated_amount"]) == ([], "300.00")
    url = f"/api/v1/payments/{created.json()['id']}/"
    allocated = finance_client.post(url + "allocate/", {"date": "2026-03-05"})
    assert allocated.status_code == 200, allocated.content
    assert [(a["invoice"], a["amount"], a["date"]) for a in allocated.json()["allocations"]] == [
        (101, "300.00", "2026-03-05")
    ]
    assert allocated.json()["unallocated_amount"] == "0.00"

    allocation = allocated.json()["allocations"][0]["id"]
    no_reason = finance_client.post(url + "reverse-allocation/", {"allocation": allocation})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["fields"]
    reversed_ = finance_client.post(
        url + "reverse-allocation/",
        {"allocation": allocation, "reason": "Wrong invoice", "date": "2026-03-06"},
    )
    assert reversed_.status_code == 200, reversed_.content
    assert [(a["amount"], a["reversal_of"]) for a in reversed_.json()["allocations"]] == [
        ("300.00", None),
        ("-300.00", allocation),
    ]
    assert reversed_.json()["unallocated_amount"] == "300.00"
    assert ArItem.objects.get(pk=two_invoices[0].pk).open_amount == D("1000.00")


def test_payment_refusals(finance_client, client_for, usd_entity, usd_client, two_invoices, eur_entity):
    base = {"legal_entity": usd_entity.pk, "account": usd_client.pk, "date": "2026-03-01", "amount": "100.00"}
    unknown_invoice = finance_client.post(
        "/api/v1/payments/", {**base, "allocations": [{"invoice": 999, "amount": "1"}]}
    )
    assert unknown_invoice.status_code == 400
    assert unknown_invoice.json()["fields"] == {
        "allocations": {"0": {"invoice": ["Invoice 999 is not in AR."]}}
    }
    both = finance_client.post(
        "/api/v1/payments/",
        {**base, "allocations": [{"invoice": 101, "ar_item": two_invoices[0].pk, "amount": "1"}]},
    )
    assert both.status_code == 400
    too_much = finance_client.post(
        "/api/v1/payments/", {**base, "allocations": [{"invoice": 101, "amount": "150.00"}]}
    )
    assert too_much.status_code == 400
    assert "amount" in too_much.json()["fields"]
    negative = finance_client.post("/api/v1/payments/", {**base, "amount": "-5.00"})
    assert negative.status_code == 400
    other_entity = finance_client.post("/api/v1/payments/", {**base, "legal_entity": eur_entity.pk})
    assert other_entity.status_code == 400
    assert "client" in other_entity.json()["fields"]
    assert client_for(Role.EXECUTIVE).post("/api/v1/payments/", base).status_code == 403
    assert not Payment.objects.exists()


def test_ar_items_filters(finance_client, usd_entity, usd_client, two_invoices):
    record_payment(
        actor=finance_client.user,
        legal_entity=usd_entity,
        client=usd_client,
        date=date(2026, 3, 1),
        amount=D("1000.00"),
        currency="USD",
    )
    open_items = finance_client.get(f"/api/v1/ar-items/?open=true&client={usd_client.pk}").json()["results"]
    assert [(i["number"], i["kind"], i["invoice"], i["amount"], i["open_amount"]) for i in open_items] == [
        ("US-2026-000102", "invoice", 102, "500.00", "500.00")
    ]
    item = open_items[0]
    assert (item["currency"], item["functional_currency"], item["functional_amount"], item["due_date"]) == (
        "USD",
        "USD",
        "500.00",
        "2026-03-03",
    )
    payments = finance_client.get("/api/v1/ar-items/?kind=payment").json()["results"]
    assert [(i["kind"], i["amount"], i["open_amount"], i["invoice"]) for i in payments] == [
        ("payment", "-1000.00", "0.00", None)
    ]
    settled = finance_client.get("/api/v1/ar-items/?open=false&kind=invoice").json()["results"]
    assert [i["invoice"] for i in settled] == [101]
    assert finance_client.get("/api/v1/ar-items/?kind=bogus").status_code == 400
    due_in_march = finance_client.get(
        "/api/v1/ar-items/?kind=invoice&due_after=2026-03-01&due_before=2026-03-31"
    )
    assert [i["invoice"] for i in due_in_march.json()["results"]] == [102]
    due_by_february = finance_client.get("/api/v1/ar-items/?kind=invoice&due_before=2026-02-28").json()
    assert [i["invoice"] for i in due_by_february["results"]] == [101]


# Write-offs


def test_write_off_within_threshold_posts_at_once(finance_client, usd_entity, two_invoices):
    response = finance_client.post(
        "/api/v1/write-offs/",
        {"invoice": 102, "amount": "100.00", "date": "2026-03-31", "reason": "Goodwill discount"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("invoice", "ar_item", "amount", "currency", "status", "date", "reason")} == {
        "invoice": 102,
        "ar_item": two_invoices[1].pk,
        "amount": "100.00",
        "currency": "USD",
        "status": "posted",
        "date": "2026-03-31",
        "reason": "Goodwill discount",
    }
    assert (body["requested_by"], body["decided_by"]) == (finance_client.user.username,) * 2
    assert ArItem.objects.get(pk=two_invoices[1].pk).open_amount == D("400.00")


def test_write_off_above_threshold_waits_for_a_second_person(
    finance_client, client_for, usd_entity, two_invoices
):
    created = finance_client.post(
        "/api/v1/write-offs/",
        {"ar_item": two_invoices[0].pk, "date": "2026-03-31", "reason": "Client insolvent"},
    )
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["amount"], created.json()["decided_by"]) == (
        "pending",
        "1000.00",
        None,
    )
    url = f"/api/v1/write-offs/{created.json()['id']}/"
    own = finance_client.post(url + "approve/")
    assert own.status_code == 403
    assert own.json()["code"] == "permission_denied"
    approver = client_for(Role.FINANCE)
    approved = approver.post(url + "approve/")
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("posted", approver.user.username)
    assert approver.post(url + "approve/").json()["code"] == "invalid_transition"
    assert ArItem.objects.get(pk=two_invoices[0].pk).open_amount == D("0.00")
    pending = finance_client.get("/api/v1/write-offs/?status=posted").json()["results"]
    assert [w["id"] for w in pending] == [created.json()["id"]]


def test_write_off_reject(finance_client, client_for, usd_entity, two_invoices):
    request = request_write_off(
        actor=finance_client.user, ar_item=two_invoices[0], reason="Dispute", on=date(2026, 3, 31)
    )
    url = f"/api/v1/write-offs/{request.pk}/reject/"
    approver = client_for(Role.FINANCE)
    assert approver.post(url, {}).status_code == 400
    rejected = approver.post(url, {"reason": "Still collectible"})
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert approver.post(url, {"reason": "Again"}).status_code == 409
    assert WriteOffRequest.objects.get().status == "rejected"
    missing = finance_client.post("/api/v1/write-offs/", {"date": "2026-03-31", "reason": "x"})
    assert missing.status_code == 400
    assert "ar_item" in missing.json()["fields"]


# Roles, scopes, paging, query counts

LIST_URLS = [
    "/api/v1/exchange-rates/",
    "/api/v1/gl-accounts/",
    "/api/v1/periods/",
    "/api/v1/journal-entries/",
    "/api/v1/ar-items/",
    "/api/v1/payments/",
    "/api/v1/write-offs/",
]


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER])
def test_delivery_roles_are_refused_the_ledger(client_for, usd_entity, role):
    client = client_for(role)
    for url in LIST_URLS:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "permission_denied"
    assert client.post("/api/v1/journal-entries/", {}).status_code == 403
    assert (
        client.get(
            f"/api/v1/reports/trial-balance/?legal_entity={usd_entity.pk}&as_of=2026-03-31"
        ).status_code
        == 403
    )


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.FINANCE, Role.ADMIN])
def test_readers_of_the_ledger(client_for, usd_entity, role):
    client = client_for(role)
    for url in [*LIST_URLS, "/api/v1/legal-entities/"]:
        assert client.get(url).status_code == 200, url


def test_executive_reads_but_never_writes(client_for, usd_entity, account):
    executive = client_for(Role.EXECUTIVE)
    period = _period(usd_entity, date(2026, 1, 1))
    entry = _manual(usd_entity, account, client_for(Role.FINANCE).user)
    for url, body in [
        ("/api/v1/journal-entries/", {"legal_entity": usd_entity.pk}),
        (f"/api/v1/journal-entries/{entry.pk}/reverse/", {}),
        (f"/api/v1/periods/{period.pk}/close/", {"reason": "x"}),
        ("/api/v1/write-offs/", {}),
    ]:
        assert executive.post(url, body).status_code == 403, url
    assert executive.get(f"/api/v1/journal-entries/{entry.pk}/").status_code == 200
    assert not JournalEntry.objects.filter(reversal_of=entry).exists()


def test_api_key_scopes(token_client_for, usd_entity, account):
    period = _period(usd_entity, date(2026, 1, 1))
    reader = token_client_for(Role.INTEGRATOR, scopes=["ledger:read"])
    assert reader.get("/api/v1/journal-entries/").status_code == 200
    refused = reader.post(f"/api/v1/periods/{period.pk}/close/", {"reason": "x"})
    assert refused.status_code == 403
    assert "ledger:write" in refused.json()["detail"]
    core_only = token_client_for(Role.FINANCE, scopes=["core:read", "core:write"])
    assert core_only.get("/api/v1/journal-entries/").status_code == 403
    assert core_only.get("/api/v1/legal-entities/").status_code == 403
    integrator_writer = token_client_for(Role.INTEGRATOR, scopes=["ledger:write"])
    assert integrator_writer.get("/api/v1/gl-accounts/").status_code == 200
    assert integrator_writer.post(f"/api/v1/periods/{period.pk}/close/", {"reason": "x"}).status_code == 403
    finance_writer = token_client_for(Role.FINANCE, scopes=["ledger:write"])
    assert (
        finance_writer.post(f"/api/v1/periods/{period.pk}/close/", {"reason": "Month end"}).status_code == 200
    )
    assert (
        token_client_for(Role.CONSULTANT, scopes=["ledger:read"]).get("/api/v1/payments/").status_code == 403
    )


def test_unauthenticated_is_401(api_client, db):
    response = api_client.get("/api/v1/journal-entries/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_journal_entries_cursor_pagination(finance_client, usd_entity, account):
    entries = [_manual(usd_entity, account, finance_client.user, memo=f"Entry {n}") for n in range(5)]
    first = finance_client.get("/api/v1/journal-entries/?page_size=2").json()
    assert [e["memo"] for e in first["results"]] == ["Entry 4", "Entry 3"]
    assert first["previous"] is None
    second = finance_client.get(first["next"]).json()
    assert [e["memo"] for e in second["results"]] == ["Entry 2", "Entry 1"]
    third = finance_client.get(second["next"]).json()
    assert [e["id"] for e in third["results"]] == [entries[0].pk]
    assert third["next"] is None
    back = finance_client.get(third["previous"]).json()
    assert [e["memo"] for e in back["results"]] == ["Entry 2", "Entry 1"]


def test_payments_cursor_pagination(finance_client, usd_entity, usd_client):
    for amount in ("1.00", "2.00", "3.00"):
        record_payment(
            actor=finance_client.user,
            legal_entity=usd_entity,
            client=usd_client,
            date=date(2026, 3, 1),
            amount=D(amount),
            currency="USD",
            allocations=[],
        )
    first = finance_client.get("/api/v1/payments/?page_size=2").json()
    second = finance_client.get(first["next"]).json()
    assert [p["amount"] for p in first["results"] + second["results"]] == ["3.00", "2.00", "1.00"]
    assert second["next"] is None


def test_list_endpoints_do_not_query_per_row(
    finance_client, usd_entity, usd_client, account, invoice, make_user
):
    """Query counts stay flat as rows are added: no N+1 on any ledger list."""
    approver = make_user(Role.FINANCE)

    def add_rows(start):
        for n in range(start, start + 3):
            item = invoice(n, date(2026, 1, 10), date(2026, 2, 9), "1000.00")
            record_payment(
                actor=finance_client.user,
                legal_entity=usd_entity,
                client=usd_client,
                date=date(2026, 3, 1),
                amount=D("400.00"),
                currency="USD",
                allocations=[(item, D("300.00"))],
            )
            request_write_off(
                actor=approver, ar_item=item, reason="Small", on=date(2026, 3, 31), amount=D("10.00")
            )
            _manual(usd_entity, account, finance_client.user)
            finance_client.post(
                "/api/v1/exchange-rates/",
                {
                    "from_currency": "EUR",
                    "to_currency": "USD",
                    "date": f"2026-03-{n % 28 + 1:02d}",
                    "rate": "1.1",
                },
            )

    add_rows(1)
    before = {url: _count_queries(finance_client, url) for url in LIST_URLS}
    add_rows(10)
    after = {url: _count_queries(finance_client, url) for url in LIST_URLS}
    assert after == before
    assert max(before.values()) <= 8


def test_schema_lists_the_ledger_endpoints(finance_client):
    schema = finance_client.get("/api/schema/?format=json").json()
    ledger_paths = {path for path in schema["paths"] if path.split("/")[3] in LEDGER_RESOURCES}
    assert ledger_paths == {
        "/api/v1/legal-entities/", "/api/v1/legal-entities/{id}/",
        "/api/v1/exchange-rates/", "/api/v1/exchange-rates/{id}/",
        "/api/v1/gl-accounts/", "/api/v1/gl-accounts/{id}/",
        "/api/v1/periods/", "/api/v1/periods/{id}/",
        "/api/v1/periods/{id}/close/", "/api/v1/periods/{id}/reopen/",
        "/api/v1/periods/{id}/checklist/", "/api/v1/periods/{id}/close-report/",
        "/api/v1/journal-entries/", "/api/v1/journal-entries/{id}/", "/api/v1/journal-entries/{id}/reverse/",
        "/api/v1/ar-items/", "/api/v1/ar-items/{id}/",
        "/api/v1/payments/", "/api/v1/payments/{id}/", "/api/v1/payments/{id}/allocate/",
        "/api/v1/payments/{id}/reverse-allocation/",
        "/api/v1/write-offs/", "/api/v1/write-offs/{id}/", "/api/v1/write-offs/{id}/approve/",
        "/api/v1/write-offs/{id}/reject/",
        "/api/v1/reports/trial-balance/", "/api/v1/reports/ar-aging/", "/api/v1/reports/profit-and-loss/",
        "/api/v1/reports/balance-sheet/", "/api/v1/reports/general-ledger/", "/api/v1/reports/dso/",
        "/api/v1/reports/customer-statement/",
    }  # fmt: skip
    components = schema["components"]["schemas"]
    entry = set(components["JournalEntry"]["properties"])
    assert {"id", "legal_entity", "date", "memo", "status", "source_type", "source_id", "lines"} <= entry
    line = set(components["JournalLine"]["properties"])
    assert {"account", "debit", "credit", "currency", "functional_debit", "functional_credit"} <= line
    assert {"project", "account_client"} <= line
    payment = set(components["Payment"]["properties"])
    assert {"id", "account", "date", "amount", "currency", "reference", "allocations"} <= payment
    assert "unallocated_amount" in payment


LEDGER_RESOURCES = {
    "legal-entities", "exchange-rates", "gl-accounts", "periods", "journal-entries", "ar-items", "payments",
    "write-offs", "reports",
}  # fmt: skip


# Admin site

ADMIN_PAGES = [
    "ledger/currency", "ledger/legalentity", "ledger/exchangerate", "ledger/glaccount", "ledger/fiscalperiod",
    "ledger/journalentry", "ledger/journalline", "ledger/aritem", "ledger/allocation", "ledger/payment",
    "ledger/writeoffrequest",
]  # fmt: skip


@pytest.fixture
def admin_client(client, make_user):
    client.user = make_user(Role.ADMIN, is_staff=True)
    client.force_login(client.user)
    return client


def test_admin_pages_open(admin_client, client, make_user, usd_entity, usd_client, two_invoices):
    record_payment(
        actor=admin_client.user, legal_entity=usd_entity, client=usd_client, date=date(2026, 3, 1),
        amount=D("100.00"), currency="USD",
    )  # fmt: skip
    entry = JournalEntry.objects.first()
    for name in ADMIN_PAGES:
        assert admin_client.get(f"/admin/{name}/").status_code == 200, name
    assert admin_client.get(f"/admin/ledger/journalentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get("/admin/ledger/journalentry/add/").status_code == 403
    assert admin_client.get("/admin/ledger/glaccount/add/").status_code == 403
    assert admin_client.post(f"/admin/ledger/journalentry/{entry.pk}/delete/").status_code == 403
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get("/admin/crm/account/").status_code == 200
    assert client.get(f"/admin/crm/account/{usd_client.pk}/change/").status_code == 200


def test_admin_creates_a_legal_entity_through_the_service(admin_client, db):
    form = {
        "name": "Ledgerline Canada Inc.", "functional_currency": "CAD", "invoice_prefix": "CA-",
        "address": "", "tax_id": "", "fiscal_year_start_month": "4", "write_off_approval_threshold": "250",
    }  # fmt: skip
    response = admin_client.post("/admin/ledger/legalentity/add/", form)
    assert response.status_code == 302, response.content
    entity = LegalEntity.objects.get(name="Ledgerline Canada Inc.")
    assert entity.accounts.count() == len(SERVICES_FIRM_CHART)
    assert FiscalPeriod.objects.filter(legal_entity=entity).count() == 24
    assert AuditEvent.objects.filter(action="legal_entity.created", object_id=str(entity.pk)).exists()
    refused = admin_client.post(
        "/admin/ledger/legalentity/add/",
        {**form, "name": "Nowhere Ltd", "functional_currency": "ZZZ", "invoice_prefix": "NW-"},
        follow=True,
    )
    assert refused.status_code == 200
    assert "Unknown currency" in refused.content.decode()
    assert not LegalEntity.objects.filter(name="Nowhere Ltd").exists()


def test_admin_edits_go_through_services(admin_client, account):
    cash = account("1000")
    response = admin_client.post(
        f"/admin/ledger/glaccount/{cash.pk}/change/", {"name": "Main bank account", "active": "on"}
    )
    assert response.status_code == 302
    assert GLAccount.objects.get(pk=cash.pk).name == "Main bank account"
    assert AuditEvent.objects.filter(action="gl_account.changed", object_id=str(cash.pk)).exists()
    added = admin_client.post(
        "/admin/ledger/exchangerate/add/",
        {"from_currency": "EUR", "to_currency": "USD", "date": "2026-03-02", "rate": "1.0900"},
    )
    assert added.status_code == 302
    assert ExchangeRate.objects.get().rate == D("1.09")
    assert AuditEvent.objects.filter(action="exchange_rate.created").exists()
