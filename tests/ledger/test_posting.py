from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from core.errors import InvalidTransition
from ledger.errors import InactiveAccount, InvalidPosting, MissingExchangeRate, PeriodClosed, UnbalancedEntry
from ledger.models import AccountBalance, FiscalPeriod, JournalEntry, JournalLine
from ledger.services.entries import post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec, post_entry
from ledger.services.setup import close_period

D = Decimal


def _post(entity, lines, *, on=date(2026, 3, 10), key="k1", memo="Test entry"):
    return post_entry(
        actor=None,
        legal_entity=entity,
        date=on,
        memo=memo,
        lines=lines,
        source_type="test.doc",
        source_id="1",
        posting_key=key,
    )


def _lines(entry):
    return [
        (ln.account.code, ln.currency, ln.debit, ln.credit, ln.functional_debit, ln.functional_credit)
        for ln in entry.lines.select_related("account").order_by("id")
    ]


def test_balanced_entry_in_functional_currency(usd_entity, account):
    entry = _post(
        usd_entity,
        [
            LineSpec(account=account("1100"), currency="USD", debit=D("1250.00")),
            LineSpec(account=account("4000"), currency="USD", credit=D("1250.00")),
        ],
    )
    assert entry.display_number == "JE-2026-000001"
    assert _lines(entry) == [
        ("1100", "USD", D("1250.00"), D("0"), D("1250.00"), D("0")),
        ("4000", "USD", D("0"), D("1250.00"), D("0"), D("1250.00")),
    ]
    ar = AccountBalance.objects.get(account=account("1100"), date=date(2026, 3, 10))
    assert (ar.debit, ar.functional_debit, ar.credit) == (D("1250.00"), D("1250.00"), D("0"))


def test_foreign_currency_entry_converts_at_the_dated_rate(usd_entity, account, eur_usd):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 3, 20): "1.2000"})
    entry = _post(
        usd_entity,
        [
            LineSpec(account=account("1100"), currency="EUR", debit=D("10000.00")),
            LineSpec(account=account("4000"), currency="EUR", credit=D("10000.00")),
        ],
    )
    assert _lines(entry) == [
        ("1100", "EUR", D("10000.00"), D("0"), D("11000.00"), D("0")),
        ("4000", "EUR", D("0"), D("10000.00"), D("0"), D("11000.00")),
    ]
    assert entry.lines.first().rate == D("1.1")


def test_conversion_rounding_goes_to_the_fx_rounding_account(usd_entity, account, eur_usd):
    # 10.01 × 1.105 = 11.06105 → 11.06; 5.00 × 1.105 = 5.525 → 5.53; 5.01 × 1.105 = 5.53605 → 5.54.
    # Credits 11.07 vs debit 11.06: one cent of rounding, debited to 7020.
    eur_usd({date(2026, 3, 1): "1.105"})
    entry = _post(
        usd_entity,
        [
            LineSpec(account=account("1100"), currency="EUR", debit=D("10.01")),
            LineSpec(account=account("4000"), currency="EUR", credit=D("5.00")),
            LineSpec(account=account("4100"), currency="EUR", credit=D("5.01")),
        ],
    )
    assert _lines(entry)[-1] == ("7020", "EUR", D("0"), D("0"), D("0.01"), D("0"))
    totals = entry.lines.aggregate(dr=Sum("functional_debit"), cr=Sum("functional_credit"))
    assert totals == {"dr": D("11.07"), "cr": D("11.07")}


def test_same_posting_key_returns_the_first_entry(usd_entity, account):
    lines = [
        LineSpec(account=account("1000"), currency="USD", debit=D("5.00")),
        LineSpec(account=account("3000"), currency="USD", credit=D("5.00")),
    ]
    first = _post(usd_entity, lines, key="once")
    again = _post(usd_entity, lines, key="once")
    assert again.pk == first.pk
    assert JournalLine.objects.count() == 2
    assert AccountBalance.objects.get(account=account("1000")).debit == D("5.00")


def test_numbers_are_gapless_per_entity_and_fiscal_year(usd_entity, eur_entity, account):
    def simple(entity, key, on):
        cash = account("1000", entity)
        equity = account("3000", entity)
        currency = entity.functional_currency
        return _post(
            entity,
            [
                LineSpec(account=cash, currency=currency, debit=D("1.00")),
                LineSpec(account=equity, currency=currency, credit=D("1.00")),
            ],
            key=key,
            on=on,
        )

    assert simple(usd_entity, "a", date(2026, 1, 2)).number == 1
    assert simple(usd_entity, "b", date(2026, 12, 31)).number == 2
    assert simple(eur_entity, "c", date(2026, 5, 1)).number == 1
    next_year = simple(usd_entity, "d", date(2027, 1, 1))
    assert (next_year.fiscal_year, next_year.number) == (2027, 1)


@pytest.mark.parametrize(
    ("lines", "error", "code"),
    [
        ([("1100", "USD", "100.00", "0")], UnbalancedEntry, "unbalanced_entry"),
        (
            [("1100", "USD", "100.00", "0"), ("4000", "USD", "0", "99.99")],
            UnbalancedEntry,
            "unbalanced_entry",
        ),
        ([("1100", "USD", "100.00", "100.00"), ("4000", "USD", "0", "0")], InvalidPosting, "invalid_posting"),
        ([("1100", "USD", "-5.00", "0"), ("4000", "USD", "0", "-5.00")], InvalidPosting, "invalid_posting"),
        ([("1100", "USD", "1.005", "0"), ("4000", "USD", "0", "1.005")], InvalidPosting, "invalid_posting"),
        (
            [("1100", "GBP", "10.00", "0"), ("4000", "GBP", "0", "10.00")],
            MissingExchangeRate,
            "missing_exchange_rate",
        ),
        ([("1100", "EUR", "10.00", "0"), ("4000", "USD", "0", "11.00")], UnbalancedEntry, "unbalanced_entry"),
    ],
)
def test_refusals_write_nothing(usd_entity, account, lines, error, code):
    specs = [LineSpec(account=account(a), currency=c, debit=D(dr), credit=D(cr)) for a, c, dr, cr in lines]
    with pytest.raises(error) as exc:
        _post(usd_entity, specs)
    assert exc.value.code == code
    assert not JournalEntry.objects.exists()
    assert not AccountBalance.objects.exists()


def test_missing_rate_error_names_pair_and_date(usd_entity, account):
    with pytest.raises(MissingExchangeRate, match=r"GBP→USD on or before 2026-03-10"):
        _post(
            usd_entity,
            [
                LineSpec(account=account("1100"), currency="GBP", debit=D("10.00")),
                LineSpec(account=account("4000"), currency="GBP", credit=D("10.00")),
            ],
        )


def test_inactive_account_refused(usd_entity, account):
    revenue = account("4000")
    revenue.active = False
    revenue.save()
    with pytest.raises(InactiveAccount):
        _post(
            usd_entity,
            [
                LineSpec(account=account("1100"), currency="USD", debit=D("1.00")),
                LineSpec(account=revenue, currency="USD", credit=D("1.00")),
            ],
        )
    assert not JournalEntry.objects.exists()


def test_account_of_another_entity_refused(usd_entity, eur_entity, account):
    with pytest.raises(InvalidPosting, match="another legal entity"):
        _post(
            usd_entity,
            [
                LineSpec(account=account("1100"), currency="USD", debit=D("1.00")),
                LineSpec(account=account("4000", eur_entity), currency="USD", credit=D("1.00")),
            ],
        )


def test_closed_period_refused(usd_entity, account, make_user):
    period = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    close_period(actor=make_user("finance"), period=period, reason="March closed")
    with pytest.raises(PeriodClosed) as exc:
        _post(
            usd_entity,
            [
                LineSpec(account=account("1100"), currency="USD", debit=D("1.00")),
                LineSpec(account=account("4000"), currency="USD", credit=D("1.00")),
            ],
        )
    assert exc.value.code == "period_closed"
    assert not JournalEntry.objects.exists()


def test_reversal_mirrors_and_links(usd_entity, account, eur_usd, make_user):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 4, 1): "1.3000"})
    finance = make_user("finance")
    original = post_manual_entry(
        actor=finance,
        legal_entity=usd_entity,
        date=date(2026, 3, 10),
        memo="Accrual",
        lines=[
            LineSpec(account=account("5100"), currency="EUR", debit=D("200.00")),
            LineSpec(account=account("2000"), currency="EUR", credit=D("200.00")),
        ],
    )
    reversal = reverse_entry(actor=finance, entry=original, on=date(2026, 4, 1))
    assert reversal.reversal_of_id == original.pk
    # Mirrored at the original functional amounts, not at April's rate.
    assert _lines(reversal) == [
        ("5100", "EUR", D("0"), D("200.00"), D("0"), D("220.00")),
        ("2000", "EUR", D("200.00"), D("0"), D("220.00"), D("0")),
    ]
    with pytest.raises(InvalidTransition, match="already reversed"):
        reverse_entry(actor=finance, entry=original)
    with pytest.raises(InvalidTransition, match="itself a reversal"):
        reverse_entry(actor=finance, entry=reversal)


def test_document_entries_are_not_reversed_directly(usd_entity, account, make_user):
    entry = _post(
        usd_entity,
        [
            LineSpec(account=account("1100"), currency="USD", debit=D("1.00")),
            LineSpec(account=account("4000"), currency="USD", credit=D("1.00")),
        ],
    )
    with pytest.raises(InvalidTransition) as exc:
        reverse_entry(actor=make_user("finance"), entry=entry, on=date(2026, 3, 11))
    assert exc.value.code == "source_document_entry"


def test_manual_entries_need_finance(usd_entity, account, make_user):
    from core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        post_manual_entry(
            actor=make_user("consultant"),
            legal_entity=usd_entity,
            date=date(2026, 3, 1),
            memo="x",
            lines=[
                LineSpec(account=account("1000"), currency="USD", debit=D("1.00")),
                LineSpec(account=account("3000"), currency="USD", credit=D("1.00")),
            ],
        )
    assert not JournalEntry.objects.exists()


def test_balances_equal_the_sum_of_lines(usd_entity, account, eur_usd):
    eur_usd({date(2026, 1, 1): "1.0850"})
    for n, (amount, currency) in enumerate(
        [("10.00", "USD"), ("33.33", "EUR"), ("0.07", "EUR"), ("5.00", "USD")]
    ):
        _post(
            usd_entity,
            [
                LineSpec(account=account("1100"), currency=currency, debit=D(amount)),
                LineSpec(account=account("4000"), currency=currency, credit=D(amount)),
            ],
            key=f"b{n}",
            on=date(2026, 3, 10 + n % 2),
        )
    for code in ("1100", "4000", "7020"):
        lines = JournalLine.objects.filter(account=account(code)).aggregate(
            d=Sum("functional_debit"), c=Sum("functional_credit")
        )
        balances = AccountBalance.objects.filter(account=account(code)).aggregate(
            d=Sum("functional_debit"), c=Sum("functional_credit")
        )
        assert lines == balances


def test_client_of_another_entity_refused(usd_entity, eur_entity, account):
    from crm.models import Account

    foreign_client = Account.objects.create(name="Initech", legal_entity=eur_entity, currency="EUR")
    with pytest.raises(InvalidPosting, match="not a client of this legal entity"):
        _post(
            usd_entity,
            [
                LineSpec(
                    account=account("1100"), currency="USD", debit=D("1.00"), client_id=foreign_client.pk
                ),
                LineSpec(account=account("4000"), currency="USD", credit=D("1.00")),
            ],
        )
    assert not JournalEntry.objects.exists()
