"""Ledger reports over the API, JSON and CSV, against hand-worked numbers.

The books (USD entity, calendar fiscal year):

    01-05  capital            Dr 1000 cash 10000                 Cr 3000 share capital 10000
    01-10  invoice 101        Dr 1100 AR 1000 (Initech)          Cr 4000 revenue 1000          due 02-09
    02-01  invoice 102        Dr 1100 AR 500 (Initech)           Cr 4000 revenue 500           due 03-03
    03-01  payment 1200       Dr 1000 cash 1200                  Cr 1100 AR 1200   → 1000 to 101, 200 to 102
    03-05  invoice 201 EUR    Dr 1100 AR EUR 1000 = 1100 (Globex) Cr 4000 revenue 1100 at 1.10  due 04-04
    03-15  rent               Dr 6100 rent 300                   Cr 1000 cash 300
    03-20  payment 50         Dr 1000 cash 50                    Cr 1100 AR 50 (Umbrella, unallocated)
"""

from datetime import date
from decimal import Decimal

import pytest

from core.roles import Role
from crm.models import Account
from ledger.models import GLAccount, JournalLine
from ledger.services.ar import post_receivable, record_payment
from ledger.services.posting import LineSpec, post_entry

D = Decimal
pytestmark = pytest.mark.django_db


def _invoice(entity, client, number, day, due, amount, currency, revenue):
    return post_receivable(
        actor=None,
        legal_entity=entity,
        client=client,
        kind="invoice",
        document_type="billing.invoice",
        document_id=str(number),
        number=f"INV-{number}",
        date=day,
        due_date=due,
        currency=currency,
        amount=D(amount),
        lines=[LineSpec(account=revenue, currency=currency, credit=D(amount))],
        memo=f"Invoice {number}",
        posting_key=f"invoice:{number}",
    )


def _entry(entity, day, debit, credit, amount, key):
    return post_entry(
        actor=None,
        legal_entity=entity,
        date=day,
        memo=key.capitalize(),
        lines=[
            LineSpec(account=debit, currency="USD", debit=D(amount)),
            LineSpec(account=credit, currency="USD", credit=D(amount)),
        ],
        source_type="test.doc",
        source_id=key,
        posting_key=key,
    )


@pytest.fixture
def books(usd_entity, account, client_account, eur_usd, make_user):
    eur_usd({date(2026, 3, 1): "1.1000"})
    finance = make_user(Role.FINANCE)
    initech = Account.objects.create(name="Initech", legal_entity=usd_entity, currency="USD")
    umbrella = Account.objects.create(name="Umbrella", legal_entity=usd_entity, currency="USD")
    _entry(usd_entity, date(2026, 1, 5), account("1000"), account("3000"), "10000.00", "capital")
    _invoice(usd_entity, initech, 101, date(2026, 1, 10), date(2026, 2, 9), "1000.00", "USD", account("4000"))
    _invoice(usd_entity, initech, 102, date(2026, 2, 1), date(2026, 3, 3), "500.00", "USD", account("4000"))
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=initech,
        date=date(2026, 3, 1),
        amount=D("1200.00"),
        currency="USD",
    )
    _invoice(
        usd_entity, client_account, 201, date(2026, 3, 5), date(2026, 4, 4), "1000.00", "EUR", account("4000")
    )
    _entry(usd_entity, date(2026, 3, 15), account("6100"), account("1000"), "300.00", "rent")
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=umbrella,
        date=date(2026, 3, 20),
        amount=D("50.00"),
        currency="USD",
        allocations=[],
    )
    return {"initech": initech, "umbrella": umbrella, "globex": client_account}


@pytest.fixture
def reader(client_for):
    return client_for(Role.EXECUTIVE)


def _get(client, path, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/api/v1/reports/{path}/?{query}")


def test_trial_balance(reader, usd_entity, account, books):
    response = _get(reader, "trial-balance", legal_entity=usd_entity.pk, as_of="2026-03-31")
    assert response.status_code == 200, response.content

    def row(code, name, type_, normal, debit, credit, balance):
        return {
            "account": account(code).pk,
            "code": code,
            "name": name,
            "type": type_,
            "normal_balance": normal,
            "debit": debit,
            "credit": credit,
            "balance": balance,
        }

    assert response.json() == {
        "legal_entity": usd_entity.pk,
        "as_of": "2026-03-31",
        "currency": "USD",
        "rows": [
            row("1000", "Operating bank account", "asset", "debit", "11250.00", "300.00", "10950.00"),
            row("1100", "Accounts receivable", "asset", "debit", "2600.00", "1250.00", "1350.00"),
            row("3000", "Share capital", "equity", "credit", "0.00", "10000.00", "10000.00"),
            row("4000", "Revenue: time and materials", "revenue", "credit", "0.00", "2600.00", "2600.00"),
            row("6100", "Rent and office", "expense", "debit", "300.00", "0.00", "300.00"),
        ],
        "totals": {"debit": "14150.00", "credit": "14150.00"},
    }


def test_trial_balance_csv(reader, usd_entity, account, books):
    response = _get(reader, "trial-balance", legal_entity=usd_entity.pk, as_of="2026-03-31", format="csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="trial-balance-2026-03-31.csv"'
    ids = {code: account(code).pk for code in ("1000", "1100", "3000", "4000", "6100")}
    assert response.content.decode() == (
        "account,code,name,type,debit,credit,balance\r\n"
        f"{ids['1000']},1000,Operating bank account,asset,11250.00,300.00,10950.00\r\n"
        f"{ids['1100']},1100,Accounts receivable,asset,2600.00,1250.00,1350.00\r\n"
        f"{ids['3000']},3000,Share capital,equity,0.00,10000.00,10000.00\r\n"
        f"{ids['4000']},4000,Revenue: time and materials,revenue,0.00,2600.00,2600.00\r\n"
        f"{ids['6100']},6100,Rent and office,expense,300.00,0.00,300.00\r\n"
        ",,Total,,14150.00,14150.00,\r\n"
    )
    accept = reader.get(
        f"/api/v1/reports/trial-balance/?legal_entity={usd_entity.pk}&as_of=2026-03-31",
        HTTP_ACCEPT="text/csv",
    )
    assert accept.content == response.content


def _aging_row(client, name, currency, **amounts):
    row = {"client": client, "client_name": name, "currency": currency}
    for bucket in ("current", "1_30", "31_60", "61_90", "over_90", "unapplied", "total"):
        row[bucket] = amounts.get(bucket, "0.00")
    return row


def test_ar_aging_in_transaction_currencies(reader, usd_entity, books):
    response = _get(reader, "ar-aging", legal_entity=usd_entity.pk, as_of="2026-03-31")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "legal_entity": usd_entity.pk,
        "as_of": "2026-03-31",
        "basis": "transaction",
        "rows": [
            _aging_row(books["globex"].pk, "Globex Corp", "EUR", current="1000.00", total="1000.00"),
            _aging_row(books["initech"].pk, "Initech", "USD", **{"1_30": "300.00", "total": "300.00"}),
            _aging_row(books["umbrella"].pk, "Umbrella", "USD", unapplied="-50.00", total="-50.00"),
        ],
        "totals": [
            _aging_row(None, "Total", "EUR", current="1000.00", total="1000.00"),
            _aging_row(None, "Total", "USD", **{"1_30": "300.00", "unapplied": "-50.00", "total": "250.00"}),
        ],
    }


def test_ar_aging_functional_basis_ties_to_the_ar_account(reader, usd_entity, books):
    body = _get(reader, "ar-aging", legal_entity=usd_entity.pk, as_of="2026-03-31", basis="functional").json()
    assert body["basis"] == "functional"
    assert body["rows"][0] == _aging_row(
        books["globex"].pk, "Globex Corp", "USD", current="1100.00", total="1100.00"
    )
    assert body["totals"] == [
        _aging_row(
            None,
            "Total",
            "USD",
            **{"current": "1100.00", "1_30": "300.00", "unapplied": "-50.00", "total": "1350.00"},
        )
    ]
    trial = _get(reader, "trial-balance", legal_entity=usd_entity.pk, as_of="2026-03-31").json()
    assert next(r["balance"] for r in trial["rows"] if r["code"] == "1100") == "1350.00"


def test_ar_aging_csv(reader, usd_entity, books):
    response = _get(reader, "ar-aging", legal_entity=usd_entity.pk, as_of="2026-03-31", format="csv")
    assert response["Content-Disposition"] == 'attachment; filename="ar-aging-2026-03-31.csv"'
    g, i, u = books["globex"].pk, books["initech"].pk, books["umbrella"].pk
    assert response.content.decode() == (
        "client,client_name,currency,current,1_30,31_60,61_90,over_90,unapplied,total\r\n"
        f"{g},Globex Corp,EUR,1000.00,0.00,0.00,0.00,0.00,0.00,1000.00\r\n"
        f"{i},Initech,USD,0.00,300.00,0.00,0.00,0.00,0.00,300.00\r\n"
        f"{u},Umbrella,USD,0.00,0.00,0.00,0.00,0.00,-50.00,-50.00\r\n"
        ",Total,EUR,1000.00,0.00,0.00,0.00,0.00,0.00,1000.00\r\n"
        ",Total,USD,0.00,300.00,0.00,0.00,0.00,-50.00,250.00\r\n"
    )


def test_csv_cells_cannot_become_formulas(reader, usd_entity, account, books):
    books["initech"].name = '=HYPERLINK("http://evil")'
    books["initech"].save()
    text = _get(
        reader, "ar-aging", legal_entity=usd_entity.pk, as_of="2026-03-31", format="csv"
    ).content.decode()
    assert f'{books["initech"].pk},"\'=HYPERLINK(""http://evil"")",USD' in text
    assert ",-50.00,-50.00\r\n" in text


def test_profit_and_loss(reader, usd_entity, account, books):
    response = _get(
        reader, "profit-and-loss", legal_entity=usd_entity.pk, start="2026-01-01", end="2026-03-31"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "legal_entity": usd_entity.pk,
        "start": "2026-01-01",
        "end": "2026-03-31",
        "currency": "USD",
        "revenue": [
            {
                "account": account("4000").pk,
                "code": "4000",
                "name": "Revenue: time and materials",
                "type": "revenue",
                "amount": "2600.00",
            },
        ],
        "expenses": [
            {
                "account": account("6100").pk,
                "code": "6100",
                "name": "Rent and office",
                "type": "expense",
                "amount": "300.00",
            },
        ],
        "totals": {"revenue": "2600.00", "expenses": "300.00", "net_income": "2300.00"},
    }
    csv = _get(
        reader,
        "profit-and-loss",
        legal_entity=usd_entity.pk,
        start="2026-01-01",
        end="2026-03-31",
        format="csv",
    )
    assert csv["Content-Disposition"] == 'attachment; filename="profit-and-loss-2026-03-31.csv"'
    assert csv.content.decode() == (
        "section,account,code,name,amount\r\n"
        f"revenue,{account('4000').pk},4000,Revenue: time and materials,2600.00\r\n"
        "revenue,,,Total revenue,2600.00\r\n"
        f"expenses,{account('6100').pk},6100,Rent and office,300.00\r\n"
        "expenses,,,Total expenses,300.00\r\n"
        "net_income,,,Net income,2300.00\r\n"
    )


def test_balance_sheet(reader, usd_entity, account, books):
    response = _get(reader, "balance-sheet", legal_entity=usd_entity.pk, as_of="2026-03-31")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["code"], r["amount"]) for r in body["assets"]] == [("1000", "10950.00"), ("1100", "1350.00")]
    assert body["liabilities"] == []
    assert [(r["code"], r["amount"]) for r in body["equity"]] == [("3000", "10000.00")]
    assert (body["fiscal_year_start"], body["current_year_earnings"], body["prior_years_earnings"]) == (
        "2026-01-01",
        "2300.00",
        "0.00",
    )
    assert body["totals"] == {
        "assets": "12300.00",
        "liabilities": "0.00",
        "equity_accounts": "10000.00",
        "equity": "12300.00",
        "liabilities_and_equity": "12300.00",
    }
    csv = _get(reader, "balance-sheet", legal_entity=usd_entity.pk, as_of="2026-03-31", format="csv")
    assert csv.content.decode() == (
        "section,account,code,name,amount\r\n"
        f"assets,{account('1000').pk},1000,Operating bank account,10950.00\r\n"
        f"assets,{account('1100').pk},1100,Accounts receivable,1350.00\r\n"
        "assets,,,Total assets,12300.00\r\n"
        "liabilities,,,Total liabilities,0.00\r\n"
        f"equity,{account('3000').pk},3000,Share capital,10000.00\r\n"
        "equity,,,Current-year earnings,2300.00\r\n"
        "equity,,,Prior years' earnings,0.00\r\n"
        "equity,,,Total equity,12300.00\r\n"
        "liabilities_and_equity,,,Total liabilities and equity,12300.00\r\n"
    )


def test_general_ledger_pages(reader, usd_entity, account, books):
    ar = account("1100")
    first = _get(
        reader, "general-ledger", account=ar.pk, start="2026-01-01", end="2026-03-31", page_size=2
    ).json()
    assert first["account"] == {
        "id": ar.pk,
        "code": "1100",
        "name": "Accounts receivable",
        "type": "asset",
        "normal_balance": "debit",
    }
    assert (first["opening_balance"], first["debit"], first["credit"], first["closing_balance"]) == (
        "0.00",
        "2600.00",
        "1250.00",
        "1350.00",
    )
    assert [
        (ln["date"], ln["debit"], ln["credit"], ln["balance"], ln["client_name"]) for ln in first["lines"]
    ] == [
        ("2026-01-10", "1000.00", "0.00", "1000.00", "Initech"),
        ("2026-02-01", "500.00", "0.00", "1500.00", "Initech"),
    ]
    assert first["lines"][0]["entry_number"] == "JE-2026-000002"
    assert first["lines"][0]["source_type"] == "billing.invoice"
    rest = _get(
        reader,
        "general-ledger",
        account=ar.pk,
        start="2026-01-01",
        end="2026-03-31",
        after=first["next_after"],
    ).json()
    assert [
        (ln["date"], ln["transaction_currency"], ln["transaction_debit"], ln["balance"])
        for ln in rest["lines"]
    ] == [
        ("2026-03-01", "USD", "0.00", "300.00"),
        ("2026-03-05", "EUR", "1000.00", "1400.00"),
        ("2026-03-20", "USD", "0.00", "1350.00"),
    ]
    assert rest["next_after"] is None
    foreign = JournalLine.objects.exclude(account=ar).first()
    bad = _get(
        reader, "general-ledger", account=ar.pk, start="2026-01-01", end="2026-03-31", after=foreign.pk
    )
    assert bad.status_code == 400
    assert "after" in bad.json()["fields"]


def test_general_ledger_csv_has_every_line(reader, usd_entity, account, books):
    cash = account("1000")
    response = _get(
        reader,
        "general-ledger",
        account=cash.pk,
        start="2026-03-01",
        end="2026-03-31",
        format="csv",
        page_size=1,
    )
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="general-ledger-1000-2026-03-01-2026-03-31.csv"'
    )
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "date,entry_number,memo,source_type,source_id,client,project,transaction_currency,transaction_debit,"
        "transaction_credit,debit,credit,balance"
    )
    assert lines[1] == "2026-03-01,,Opening balance,,,,,,,,,,10000.00"
    assert [line.split(",")[-1] for line in lines[2:5]] == ["11200.00", "10900.00", "10950.00"]
    assert lines[5] == "2026-03-31,,Closing balance,,,,,,,,1250.00,300.00,10950.00"


@pytest.mark.parametrize(
    ("path", "params", "fields"),
    [
        ("trial-balance", {}, {"legal_entity", "as_of"}),
        ("trial-balance", {"legal_entity": "{entity}", "as_of": "31/03/2026"}, {"as_of"}),
        ("trial-balance", {"legal_entity": "999999999", "as_of": "2026-03-31"}, {"legal_entity"}),
        ("trial-balance", {"legal_entity": "abc", "as_of": "2026-02-30"}, {"legal_entity", "as_of"}),
        ("ar-aging", {"legal_entity": "{entity}", "as_of": "2026-03-31", "basis": "spot"}, {"basis"}),
        (
            "profit-and-loss",
            {"legal_entity": "{entity}", "start": "2026-03-01", "end": "2026-02-01"},
            {"end"},
        ),
        ("profit-and-loss", {"legal_entity": "{entity}", "start": "2026-03-01"}, {"end"}),
        ("balance-sheet", {"legal_entity": "{entity}"}, {"as_of"}),
        ("general-ledger", {"start": "2026-01-01", "end": "2026-01-31"}, {"account"}),
        (
            "general-ledger",
            {"account": "{cash}", "start": "2026-01-01", "end": "2026-01-31", "page_size": "0"},
            {"page_size"},
        ),
        ("trial-balance", {"legal_entity": "{entity}", "as_of": "nope", "format": "csv"}, {"as_of"}),
    ],
)
def test_bad_report_queries_are_400_with_field_errors(reader, usd_entity, account, path, params, fields):
    query = {k: v.format(entity=usd_entity.pk, cash=account("1000").pk) for k, v in params.items()}
    response = _get(reader, path, **query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == fields


def test_unknown_report_format_is_404(reader, usd_entity):
    response = _get(reader, "trial-balance", legal_entity=usd_entity.pk, as_of="2026-03-31", format="xml")
    assert response.status_code == 404


def test_report_access(client_for, token_client_for, usd_entity, books):
    params = {"legal_entity": usd_entity.pk, "as_of": "2026-03-31"}
    for path in ("trial-balance", "ar-aging", "balance-sheet"):
        assert _get(client_for(Role.CONSULTANT), path, **params).status_code == 403
        assert _get(client_for(Role.FINANCE), path, **params).status_code == 200
    assert (
        _get(token_client_for(Role.INTEGRATOR, scopes=["ledger:read"]), "trial-balance", **params).status_code
        == 200
    )
    assert (
        _get(token_client_for(Role.FINANCE, scopes=["core:read"]), "trial-balance", **params).status_code
        == 403
    )


def test_reports_cost_a_fixed_number_of_queries(
    reader, usd_entity, account, books, django_assert_max_num_queries
):
    cash = GLAccount.objects.get(legal_entity=usd_entity, code="1000")
    for path, params, limit in [
        ("trial-balance", {"legal_entity": usd_entity.pk, "as_of": "2026-03-31"}, 4),
        ("balance-sheet", {"legal_entity": usd_entity.pk, "as_of": "2026-03-31"}, 5),
        ("profit-and-loss", {"legal_entity": usd_entity.pk, "start": "2026-01-01", "end": "2026-03-31"}, 4),
        ("general-ledger", {"account": cash.pk, "start": "2026-01-01", "end": "2026-03-31"}, 5),
    ]:
        with django_assert_max_num_queries(limit):
            assert _get(reader, path, **params).status_code == 200


def test_dso(reader, usd_entity, books):
    # AR 1350.00. Simple: 2600 invoiced in the 90 days to 31 March: 1350 / 2600 × 90 = 46.7.
    # Countback: March's 1100 is covered (31 days, 250 left); February's 500 covers the rest:
    # 28 × 250 / 500 = 14 days, so 45.0.
    response = _get(reader, "dso", legal_entity=usd_entity.pk, as_of="2026-03-31")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "legal_entity": usd_entity.pk,
        "as_of": "2026-03-31",
        "currency": "USD",
        "ar_balance": "1350.00",
        "countback_months": 12,
        "dso_countback": "45.0",
        "simple_days": 90,
        "dso_simple": "46.7",
    }
    empty = _get(reader, "dso", legal_entity=usd_entity.pk, as_of="2025-12-31").json()
    assert (empty["ar_balance"], empty["dso_countback"], empty["dso_simple"]) == ("0.00", None, None)
    csv = _get(reader, "dso", legal_entity=usd_entity.pk, as_of="2026-03-31", format="csv").content.decode()
    assert csv == (
        "legal_entity,as_of,currency,ar_balance,dso_countback,dso_simple\r\n"
        f"{usd_entity.pk},2026-03-31,USD,1350.00,45.0,46.7\r\n"
    )
    assert _get(reader, "dso", legal_entity=usd_entity.pk, as_of="2026-03-31", months="0").status_code == 400


def test_customer_statement(reader, books):
    initech = books["initech"]
    response = _get(reader, "customer-statement", account=initech.pk, start="2026-01-01", end="2026-03-31")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["account"], body["account_name"], body["start"], body["end"]) == (
        initech.pk,
        "Initech",
        "2026-01-01",
        "2026-03-31",
    )
    [usd] = body["currencies"]
    assert (usd["currency"], usd["opening_balance"], usd["closing_balance"]) == ("USD", "0.00", "300.00")
    assert [(ln["date"], ln["type"], ln["amount"], ln["applied"], ln["balance"]) for ln in usd["lines"]] == [
        ("2026-01-10", "invoice", "1000.00", None, "1000.00"),
        ("2026-02-01", "invoice", "500.00", None, "1500.00"),
        ("2026-03-01", "payment", "-1200.00", None, "300.00"),
        ("2026-03-01", "allocation", "0.00", "1000.00", "300.00"),
        ("2026-03-01", "allocation", "0.00", "200.00", "300.00"),
    ]
    assert (usd["lines"][0]["reference"], usd["lines"][0]["due_date"]) == ("INV-101", "2026-02-09")
    csv = _get(
        reader, "customer-statement", account=initech.pk, start="2026-02-01", end="2026-02-28", format="csv"
    )
    assert (
        csv["Content-Disposition"]
        == f'attachment; filename="statement-{initech.pk}-2026-02-01-2026-02-28.csv"'
    )
    assert csv.content.decode() == (
        "currency,date,type,reference,description,due_date,amount,applied,balance\r\n"
        "USD,2026-02-01,,,Opening balance,,,,1000.00\r\n"
        "USD,2026-02-01,invoice,INV-102,Invoice INV-102,2026-03-03,500.00,,1500.00\r\n"
        "USD,2026-02-28,,,Closing balance,,,,1500.00\r\n"
    )
    backwards = _get(reader, "customer-statement", account=initech.pk, start="2026-03-01", end="2026-01-01")
    assert backwards.status_code == 400
    assert set(backwards.json()["fields"]) == {"end"}
