"""AR aging, DSO and the customer statement on a small ledger worked out by hand."""

from datetime import date
from decimal import Decimal

import pytest

from crm.models import Account
from ledger.reports.aging import ar_aging, ar_balance
from ledger.reports.dso import dso_countback, dso_simple
from ledger.reports.statement import customer_statement
from ledger.services.ar import post_receivable, record_payment
from ledger.services.posting import LineSpec
from ledger.services.setup import create_legal_entity

D = Decimal
AS_OF = date(2026, 6, 30)


@pytest.fixture
def book(usd_entity, client_account, account, eur_usd, make_user):
    """Two clients' receivables on 30 June 2026 (USD entity):

    Globex (USD)                         due     days past due on 30 Jun   open on 30 Jun
      INV-A 1,000.00  10 Jun             10 Jul  −10  current              1,000.00 (paid 5 Jul)
      INV-B 2,000.00   1 May             31 May   30  1–30                 2,000.00
      INV-C 3,000.00   1 Apr              1 May   60  31–60                3,000.00 − 1,000.00 paid 15 Jun
      INV-D   500.00   1 Feb             31 Mar   91  over 90                500.00
      P-2     300.00  20 Jun, unallocated                                  −300.00
    Initech (EUR; 1.10 from 1 Mar, 1.20 from 1 Jun)
      INV-E 1,000.00  15 Mar at 1.10      1 Apr   90  61–90                  600.00 EUR (400.00 paid 1 Jun)
      CN-1    100.00  25 Jun at 1.20, unapplied                             −100.00 EUR
    """
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 6, 1): "1.2000"})
    finance = make_user("finance")
    initech = Account.objects.create(name="Initech", legal_entity=usd_entity, currency="EUR")
    items = {}
    for number, client, currency, amount, on, due, kind in [
        ("INV-A", client_account, "USD", "1000.00", date(2026, 6, 10), date(2026, 7, 10), "invoice"),
        ("INV-B", client_account, "USD", "2000.00", date(2026, 5, 1), date(2026, 5, 31), "invoice"),
        ("INV-C", client_account, "USD", "3000.00", date(2026, 4, 1), date(2026, 5, 1), "invoice"),
        ("INV-D", client_account, "USD", "500.00", date(2026, 2, 1), date(2026, 3, 31), "invoice"),
        ("INV-E", initech, "EUR", "1000.00", date(2026, 3, 15), date(2026, 4, 1), "invoice"),
        ("CN-1", initech, "EUR", "100.00", date(2026, 6, 25), date(2026, 6, 25), "credit_note"),
    ]:
        side = {"credit": D(amount)} if kind == "invoice" else {"debit": D(amount)}
        items[number] = post_receivable(
            actor=None,
            legal_entity=usd_entity,
            client=client,
            kind=kind,
            document_type="billing.document",
            document_id=number,
            number=number,
            date=on,
            due_date=due,
            currency=currency,
            amount=D(amount),
            lines=[LineSpec(account=account("4000"), currency=currency, **side)],
            memo=number,
            posting_key=number,
        )
    for reference, client, currency, amount, on, allocations in [
        ("P-1", client_account, "USD", "1000.00", date(2026, 6, 15), [(items["INV-C"], D("1000.00"))]),
        ("P-2", client_account, "USD", "300.00", date(2026, 6, 20), []),
        ("P-3", initech, "EUR", "400.00", date(2026, 6, 1), [(items["INV-E"], D("400.00"))]),
        ("P-4", client_account, "USD", "1000.00", date(2026, 7, 5), [(items["INV-A"], D("1000.00"))]),
    ]:
        record_payment(
            actor=finance,
            legal_entity=usd_entity,
            client=client,
            date=on,
            amount=D(amount),
            currency=currency,
            reference=reference,
            allocations=allocations,
        )
    return {"globex": client_account, "initech": initech}


def _amounts(row):
    return [row[key] for key in ("current", "1_30", "31_60", "61_90", "over_90", "unapplied", "total")]


def test_aging_in_transaction_currency(usd_entity, book, django_assert_num_queries):
    with django_assert_num_queries(1):
        report = ar_aging(legal_entity=usd_entity, as_of=AS_OF)
    globex, initech = report["rows"]
    assert (globex["client_name"], globex["currency"]) == ("Globex Corp", "USD")
    # total = 1,000 + 2,000 + 2,000 + 500 − 300 = 5,200.00; P-4 (5 Jul) is after the report date.
    assert _amounts(globex) == [
        D("1000.00"),
        D("2000.00"),
        D("2000.00"),
        D("0"),
        D("500.00"),
        D("-300.00"),
        D("5200.00"),
    ]
    # INV-E: 1,000.00 − 400.00 = 600.00 EUR, 90 days past due; CN-1 −100.00 unapplied: 500.00 EUR.
    assert (initech["client_id"], initech["currency"]) == (book["initech"].pk, "EUR")
    assert _amounts(initech) == [D("0"), D("0"), D("0"), D("600.00"), D("0"), D("-100.00"), D("500.00")]
    # Totals per currency: never EUR and USD added together.
    assert [(row["currency"], row["total"]) for row in report["totals"]] == [
        ("EUR", D("500.00")),
        ("USD", D("5200.00")),
    ]


def test_aging_in_functional_currency_at_booking_rates(usd_entity, book):
    report = ar_aging(legal_entity=usd_entity, as_of=AS_OF, basis="functional")
    globex, initech = report["rows"]
    assert _amounts(globex) == [
        D("1000.00"),
        D("2000.00"),
        D("2000.00"),
        D("0"),
        D("500.00"),
        D("-300.00"),
        D("5200.00"),
    ]
    # INV-E open 600.00 EUR × its booking rate 1.10 = 660.00 (not June's 1.20); CN-1 fully open: its
    # booked −100.00 × 1.20 = −120.00. 660.00 − 120.00 = 540.00 USD.
    assert (initech["currency"], _amounts(initech)) == (
        "USD",
        [D("0"), D("0"), D("0"), D("660.00"), D("0"), D("-120.00"), D("540.00")],
    )
    (total,) = report["totals"]
    # 5,200.00 + 540.00 = 5,740.00 USD.
    assert _amounts(total) == [
        D("1000.00"),
        D("2000.00"),
        D("2000.00"),
        D("660.00"),
        D("500.00"),
        D("-420.00"),
        D("5740.00"),
    ]
    assert ar_balance(legal_entity=usd_entity, as_of=AS_OF) == D("5740.00")


def test_aging_ignores_later_allocations_but_sees_them_later(usd_entity, book):
    # On 5 July P-4 paid INV-A: as of 6 July Globex has nothing current any more; INV-B is now 36 days late.
    report = ar_aging(legal_entity=usd_entity, as_of=date(2026, 7, 6))
    globex = report["rows"][0]
    assert _amounts(globex) == [
        D("0"),
        D("0"),
        D("2000.00"),
        D("2000.00"),
        D("500.00"),
        D("-300.00"),
        D("4200.00"),
    ]


def test_dso_countback(usd_entity, book):
    # AR 5,740.00. Invoiced (functional) by month back from 30 June: June 1,000.00 (INV-A), May 2,000.00
    # (INV-B), April 3,000.00 (INV-C), March 1,100.00 (INV-E), February 500.00 (INV-D).
    # June: 30 days, 4,740.00 left; May: 31 days, 2,740.00 left; April: 30 × 2,740 / 3,000 = 27.4 days.
    # DSO = 30 + 31 + 27.4 = 88.4.
    assert dso_countback(legal_entity=usd_entity, as_of=AS_OF) == D("88.4")
    # With two months only, the balance outlasts the billing: all 61 days count.
    assert dso_countback(legal_entity=usd_entity, as_of=AS_OF, months=2) == D("61.0")
    # As of 15 June, P-2 (20 June) and CN-1 (25 June) do not exist yet and INV-C is already 1,000.00 paid:
    # AR = 1,000 + 2,000 + 2,000 + 500 + 600 EUR × 1.10 = 6,160.00. June 1–15 invoiced 1,000.00: 15 days,
    # 5,160.00 left; May 2,000.00: 31 days, 3,160.00 left; April 3,000.00: 30 days, 160.00 left;
    # March 1,100.00: 31 × 160 / 1,100 = 4.509 days. DSO = 15 + 31 + 30 + 4.509 = 80.509 → 80.5.
    assert ar_balance(legal_entity=usd_entity, as_of=date(2026, 6, 15)) == D("6160.00")
    assert dso_countback(legal_entity=usd_entity, as_of=date(2026, 6, 15)) == D("80.5")


def test_dso_simple(usd_entity, book):
    # The 90 days ending 30 June start on 2 April, so INV-C (1 April) is outside:
    # invoiced 1,000.00 (INV-A) + 2,000.00 (INV-B).
    # DSO = 5,740.00 × 90 / 3,000.00 = 172.2.
    assert dso_simple(legal_entity=usd_entity, as_of=AS_OF) == D("172.2")
    # 61 days reach back to 1 May, taking in INV-B: 5,740.00 × 61 / 3,000.00 = 116.713 → 116.7.
    assert dso_simple(legal_entity=usd_entity, as_of=AS_OF, days=61) == D("116.7")


def test_dso_is_none_without_invoicing(db):
    empty = create_legal_entity(
        actor=None, name="Empty Ltd", functional_currency="USD", invoice_prefix="E-", today=date(2026, 1, 1)
    )
    assert dso_countback(legal_entity=empty, as_of=AS_OF) is None
    assert dso_simple(legal_entity=empty, as_of=AS_OF) is None


def test_customer_statement(book, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        statement = customer_statement(client=book["globex"], start=date(2026, 5, 1), end=AS_OF)
    (usd,) = statement["currencies"]
    # Opening: INV-D 500.00 + INV-C 3,000.00, both issued before 1 May.
    assert usd["opening_balance"] == D("3500.00")
    assert [
        (line["date"], line["type"], line["reference"], line["amount"], line["applied"], line["balance"])
        for line in usd["lines"]
    ] == [
        (date(2026, 5, 1), "invoice", "INV-B", D("2000.00"), None, D("5500.00")),
        (date(2026, 6, 10), "invoice", "INV-A", D("1000.00"), None, D("6500.00")),
        (date(2026, 6, 15), "payment", "P-1", D("-1000.00"), None, D("5500.00")),
        (date(2026, 6, 15), "allocation", "P-1 → INV-C", D("0"), D("1000.00"), D("5500.00")),
        (date(2026, 6, 20), "payment", "P-2", D("-300.00"), None, D("5200.00")),
    ]
    # The closing balance is the client's aging total on the same day.
    assert usd["closing_balance"] == D("5200.00")

    initech = customer_statement(client=book["initech"], start=date(2026, 1, 1), end=AS_OF)
    (eur,) = initech["currencies"]
    assert (eur["currency"], eur["opening_balance"], eur["closing_balance"]) == (
        "EUR",
        D("0.00"),
        D("500.00"),
    )
    assert [line["balance"] for line in eur["lines"]] == [D("1000.00"), D("600.00"), D("600.00"), D("500.00")]
