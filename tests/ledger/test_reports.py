"""Financial statements against hand-worked numbers.

The books (USD entity, calendar fiscal year; all amounts USD unless noted):

    FY2025  12-10  Dr 1000 cash 5000              Cr 3000 share capital 5000
            12-20  Dr 1100 AR 2000                Cr 4000 revenue T&M 2000
            12-28  Dr 6100 rent 500               Cr 1000 cash 500
    FY2026  02-05  Dr 1100 AR 3000                Cr 4100 revenue fixed 2500, Cr 2200 tax 500
            02-10  Dr 1000 cash 2000              Cr 1100 AR 2000
            02-10  Dr 1000 cash 400               Cr 1100 AR 400
            03-15  Dr 5000 cost 1200              Cr 2300 accrued payroll 1200
            03-20  Dr 1100 AR EUR 1000 (= 1100)   Cr 4000 revenue T&M EUR 1000 (= 1100), at 1.10
"""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from ledger.models import JournalLine
from ledger.reports.financial import (
    balance_sheet,
    fiscal_year_start,
    general_ledger,
    journal,
    profit_and_loss,
    trial_balance,
)
from ledger.services.entries import post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec, post_entry
from ledger.services.setup import create_legal_entity, ensure_fiscal_year

D = Decimal


def _post(entity, on, *lines, key, memo="Entry", client=None, project=None):
    return post_entry(
        actor=None,
        legal_entity=entity,
        date=on,
        memo=memo,
        lines=[
            LineSpec(
                account=acc,
                currency=currency,
                debit=D(debit),
                credit=D(credit),
                client_id=client.pk if client else None,
                project_id=project,
            )
            for acc, currency, debit, credit in lines
        ],
        source_type="test.doc",
        source_id=key,
        posting_key=key,
    )


@pytest.fixture
def books(usd_entity, account, eur_usd, client_account):
    ensure_fiscal_year(legal_entity=usd_entity, fiscal_year=2025)
    eur_usd({date(2026, 3, 1): "1.1000"})
    a = account
    entries = {
        "capital": _post(
            usd_entity,
            date(2025, 12, 10),
            (a("1000"), "USD", "5000", "0"),
            (a("3000"), "USD", "0", "5000"),
            key="capital",
        ),
        "rev2025": _post(
            usd_entity,
            date(2025, 12, 20),
            (a("1100"), "USD", "2000", "0"),
            (a("4000"), "USD", "0", "2000"),
            key="rev2025",
            client=client_account,
        ),
        "rent": _post(
            usd_entity,
            date(2025, 12, 28),
            (a("6100"), "USD", "500", "0"),
            (a("1000"), "USD", "0", "500"),
            key="rent",
        ),
        "invoice": _post(
            usd_entity,
            date(2026, 2, 5),
            (a("1100"), "USD", "3000", "0"),
            (a("4100"), "USD", "0", "2500"),
            (a("2200"), "USD", "0", "500"),
            key="invoice",
            client=client_account,
            project=7,
        ),
        "cash1": _post(
            usd_entity,
            date(2026, 2, 10),
            (a("1000"), "USD", "2000", "0"),
            (a("1100"), "USD", "0", "2000"),
            key="cash1",
            client=client_account,
        ),
        "cash2": _post(
            usd_entity,
            date(2026, 2, 10),
            (a("1000"), "USD", "400", "0"),
            (a("1100"), "USD", "0", "400"),
            key="cash2",
        ),
        "payroll": _post(
            usd_entity,
            date(2026, 3, 15),
            (a("5000"), "USD", "1200", "0"),
            (a("2300"), "USD", "0", "1200"),
            key="payroll",
            project=7,
        ),
        "eur": _post(
            usd_entity,
            date(2026, 3, 20),
            (a("1100"), "EUR", "1000", "0"),
            (a("4000"), "EUR", "0", "1000"),
            key="eur",
            memo="EUR invoice",
        ),
    }
    return entries


def _rows(report):
    return [(r["code"], r["debit"], r["credit"], r["balance"]) for r in report["rows"]]


def test_trial_balance_rows_and_totals(usd_entity, books):
    report = trial_balance(legal_entity=usd_entity, as_of=date(2026, 3, 31))
    assert _rows(report) == [
        ("1000", D("7400.00"), D("500.00"), D("6900.00")),
        ("1100", D("6100.00"), D("2400.00"), D("3700.00")),
        ("2200", D("0.00"), D("500.00"), D("500.00")),
        ("2300", D("0.00"), D("1200.00"), D("1200.00")),
        ("3000", D("0.00"), D("5000.00"), D("5000.00")),
        ("4000", D("0.00"), D("3100.00"), D("3100.00")),
        ("4100", D("0.00"), D("2500.00"), D("2500.00")),
        ("5000", D("1200.00"), D("0.00"), D("1200.00")),
        ("6100", D("500.00"), D("0.00"), D("500.00")),
    ]
    assert report["totals"] == {"debit": D("15200.00"), "credit": D("15200.00")}
    assert report["currency"] == "USD"
    first = report["rows"][0]
    assert (first["name"], first["type"], first["normal_balance"]) == (
        "Operating bank account",
        "asset",
        "debit",
    )


def test_trial_balance_as_of_ignores_later_days(usd_entity, books):
    report = trial_balance(legal_entity=usd_entity, as_of=date(2025, 12, 31))
    assert _rows(report) == [
        ("1000", D("5000.00"), D("500.00"), D("4500.00")),
        ("1100", D("2000.00"), D("0.00"), D("2000.00")),
        ("3000", D("0.00"), D("5000.00"), D("5000.00")),
        ("4000", D("0.00"), D("2000.00"), D("2000.00")),
        ("6100", D("500.00"), D("0.00"), D("500.00")),
    ]
    assert report["totals"] == {"debit": D("7500.00"), "credit": D("7500.00")}


def test_trial_balance_keeps_an_account_whose_activity_nets_to_zero(usd_entity, account):
    _post(
        usd_entity,
        date(2026, 1, 5),
        (account("1010"), "USD", "10", "0"),
        (account("1000"), "USD", "0", "10"),
        key="a",
    )
    _post(
        usd_entity,
        date(2026, 1, 6),
        (account("1000"), "USD", "10", "0"),
        (account("1010"), "USD", "0", "10"),
        key="b",
    )
    report = trial_balance(legal_entity=usd_entity, as_of=date(2026, 1, 31))
    assert _rows(report) == [
        ("1000", D("10.00"), D("10.00"), D("0.00")),
        ("1010", D("10.00"), D("10.00"), D("0.00")),
    ]
    assert trial_balance(legal_entity=usd_entity, as_of=date(2026, 1, 4))["rows"] == []


def test_profit_and_loss(usd_entity, books):
    report = profit_and_loss(legal_entity=usd_entity, start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert [(r["code"], r["amount"]) for r in report["revenue"]] == [
        ("4000", D("1100.00")),
        ("4100", D("2500.00")),
    ]
    assert [(r["code"], r["amount"]) for r in report["expenses"]] == [("5000", D("1200.00"))]
    assert report["totals"] == {"revenue": D("3600.00"), "expenses": D("1200.00"), "net_income": D("2400.00")}

    february = profit_and_loss(legal_entity=usd_entity, start=date(2026, 2, 1), end=date(2026, 2, 28))
    assert [(r["code"], r["amount"]) for r in february["revenue"]] == [("4100", D("2500.00"))]
    assert february["expenses"] == []
    assert february["totals"]["net_income"] == D("2500.00")


def test_profit_and_loss_refuses_a_backwards_period(usd_entity):
    with pytest.raises(ValidationFailed):
        profit_and_loss(legal_entity=usd_entity, start=date(2026, 2, 1), end=date(2026, 1, 31))


def test_balance_sheet_balances_with_current_and_prior_year_earnings(usd_entity, books):
    report = balance_sheet(legal_entity=usd_entity, as_of=date(2026, 3, 31))
    assert report["fiscal_year_start"] == date(2026, 1, 1)
    assert [(r["code"], r["amount"]) for r in report["assets"]] == [
        ("1000", D("6900.00")),
        ("1100", D("3700.00")),
    ]
    assert [(r["code"], r["amount"]) for r in report["liabilities"]] == [
        ("2200", D("500.00")),
        ("2300", D("1200.00")),
    ]
    assert [(r["code"], r["amount"]) for r in report["equity"]] == [("3000", D("5000.00"))]
    assert report["current_year_earnings"] == D("2400.00")
    assert report["prior_years_earnings"] == D("1500.00")
    assert report["totals"] == {
        "assets": D("10600.00"),
        "liabilities": D("1700.00"),
        "equity_accounts": D("5000.00"),
        "equity": D("8900.00"),
        "liabilities_and_equity": D("10600.00"),
    }


def test_balance_sheet_at_the_end_of_the_prior_year(usd_entity, books):
    report = balance_sheet(legal_entity=usd_entity, as_of=date(2025, 12, 31))
    assert report["fiscal_year_start"] == date(2025, 1, 1)
    assert report["current_year_earnings"] == D("1500.00")
    assert report["prior_years_earnings"] == D("0.00")
    assert report["totals"]["assets"] == report["totals"]["liabilities_and_equity"] == D("6500.00")


def test_balance_sheet_follows_a_non_calendar_fiscal_year(db):
    entity = create_legal_entity(
        actor=None,
        name="July Co",
        functional_currency="USD",
        invoice_prefix="JU-",
        fiscal_year_start_month=7,
        today=date(2026, 1, 15),
    )
    cash, revenue = entity.accounts.get(code="1000"), entity.accounts.get(code="4000")
    _post(entity, date(2025, 9, 1), (cash, "USD", "100", "0"), (revenue, "USD", "0", "100"), key="fy25")
    _post(entity, date(2026, 7, 10), (cash, "USD", "40", "0"), (revenue, "USD", "0", "40"), key="fy26")
    report = balance_sheet(legal_entity=entity, as_of=date(2026, 7, 31))
    assert report["fiscal_year_start"] == date(2026, 7, 1)
    assert (report["current_year_earnings"], report["prior_years_earnings"]) == (D("40.00"), D("100.00"))
    assert report["totals"]["assets"] == report["totals"]["liabilities_and_equity"] == D("140.00")
    assert fiscal_year_start(entity, date(2026, 6, 30)) == date(2025, 7, 1)


def test_general_ledger_running_balance(usd_entity, account, books):
    report = general_ledger(account=account("1100"), start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert report["opening_balance"] == D("2000.00")
    assert [(ln["date"], ln["debit"], ln["credit"], ln["balance"]) for ln in report["lines"]] == [
        (date(2026, 2, 5), D("3000.00"), D("0.00"), D("5000.00")),
        (date(2026, 2, 10), D("0.00"), D("2000.00"), D("3000.00")),
        (date(2026, 2, 10), D("0.00"), D("400.00"), D("2600.00")),
        (date(2026, 3, 20), D("1100.00"), D("0.00"), D("3700.00")),
    ]
    assert (report["debit"], report["credit"], report["closing_balance"]) == (
        D("4100.00"),
        D("2400.00"),
        D("3700.00"),
    )
    assert report["next_after"] is None
    eur = report["lines"][3]
    assert eur["entry_number"] == books["eur"].display_number
    assert (eur["memo"], eur["source_type"], eur["source_id"]) == ("EUR invoice", "test.doc", "eur")
    assert (eur["transaction_currency"], eur["transaction_debit"]) == ("EUR", D("1000.0000"))
    invoice = report["lines"][0]
    assert (invoice["client_name"], invoice["project_id"]) == ("Globex Corp", 7)


def test_general_ledger_pages_keep_the_running_balance(
    usd_entity, account, books, django_assert_max_num_queries
):
    ar = account("1100")
    first = general_ledger(account=ar, start=date(2026, 1, 1), end=date(2026, 3, 31), limit=2)
    assert [ln["balance"] for ln in first["lines"]] == [D("5000.00"), D("3000.00")]
    assert first["next_after"] == first["lines"][-1]["id"]
    with django_assert_max_num_queries(5):
        second = general_ledger(
            account=ar, start=date(2026, 1, 1), end=date(2026, 3, 31), limit=2, after=first["next_after"]
        )
    assert [ln["balance"] for ln in second["lines"]] == [D("2600.00"), D("3700.00")]
    assert second["next_after"] is None
    # A page boundary between two lines of the same day.
    third = general_ledger(account=ar, start=date(2026, 1, 1), end=date(2026, 3, 31), limit=3)
    rest = general_ledger(
        account=ar, start=date(2026, 1, 1), end=date(2026, 3, 31), after=third["next_after"]
    )
    assert [ln["balance"] for ln in rest["lines"]] == [D("3700.00")]
    assert rest["closing_balance"] == D("3700.00")


def test_general_ledger_of_a_credit_account_and_a_bad_cursor(usd_entity, account, books):
    report = general_ledger(account=account("4000"), start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert report["opening_balance"] == D("2000.00")
    assert [ln["balance"] for ln in report["lines"]] == [D("3100.00")]
    other = JournalLine.objects.filter(account=account("1000")).first()
    with pytest.raises(ValidationFailed) as exc:
        general_ledger(
            account=account("4000"), start=date(2026, 1, 1), end=date(2026, 12, 31), after=other.pk
        )
    assert "after" in exc.value.fields


def test_journal_filters(usd_entity, account, books, client_account):
    def keys(**filters):
        return sorted(e.posting_key for e in journal(legal_entity=usd_entity, filters=filters))

    assert keys(date_after=date(2026, 2, 10), date_before=date(2026, 3, 15)) == ["cash1", "cash2", "payroll"]
    assert keys(account=account("1100")) == ["cash1", "cash2", "eur", "invoice", "rev2025"]
    assert keys(account=account("1100").pk, date_after=date(2026, 1, 1)) == [
        "cash1",
        "cash2",
        "eur",
        "invoice",
    ]
    assert keys(client=client_account) == ["cash1", "invoice", "rev2025"]
    assert keys(project=7) == ["invoice", "payroll"]
    assert keys(source_type="other") == []
    assert len(keys()) == 8


def test_journal_status_filter(usd_entity, account, make_user):
    finance = make_user("finance")
    lines = [
        LineSpec(account=account("6100"), currency="USD", debit=D("80.00")),
        LineSpec(account=account("1000"), currency="USD", credit=D("80.00")),
    ]
    entry = post_manual_entry(
        actor=finance, legal_entity=usd_entity, date=date(2026, 1, 9), memo="Rent", lines=lines
    )
    reversal = reverse_entry(actor=finance, entry=entry, on=date(2026, 1, 10))
    assert list(journal(legal_entity=usd_entity, filters={"status": "reversed"})) == [entry]
    assert list(journal(legal_entity=usd_entity, filters={"status": "posted"})) == [reversal]
    assert list(journal(legal_entity=None, filters={})) == [reversal, entry]
