from datetime import date
from decimal import Decimal

import pytest

from ledger.errors import MissingExchangeRate
from ledger.selectors import exchange_rate
from ledger.services.setup import set_exchange_rate

pytestmark = pytest.mark.django_db
D = Decimal


def _rate(source, target, on, rate):
    set_exchange_rate(actor=None, from_currency=source, to_currency=target, on=on, rate=D(rate))


def test_latest_rate_on_or_before_the_day():
    _rate("EUR", "USD", date(2026, 3, 1), "1.1000")
    _rate("EUR", "USD", date(2026, 3, 5), "1.1200")
    assert exchange_rate("EUR", "USD", date(2026, 3, 4)) == D("1.1000")
    assert exchange_rate("EUR", "USD", date(2026, 3, 5)) == D("1.1200")
    assert exchange_rate("EUR", "USD", date(2026, 12, 31)) == D("1.1200")


def test_inverse_is_used_when_it_is_the_only_or_the_newer_rate():
    _rate("EUR", "USD", date(2026, 3, 1), "1.2500")
    # USD→EUR only exists as the inverse: 1 / 1.25 = 0.8 exactly.
    assert exchange_rate("USD", "EUR", date(2026, 3, 2)) == D("0.8")
    _rate("USD", "EUR", date(2026, 3, 3), "0.7900")
    assert exchange_rate("USD", "EUR", date(2026, 3, 3)) == D("0.7900")
    # On 3 March EUR→USD is only known through the newer inverse: 1 / 0.79 to 12 places.
    assert exchange_rate("EUR", "USD", date(2026, 3, 3)) == D("1.265822784810")


def test_direct_rate_wins_over_an_inverse_of_the_same_day():
    _rate("EUR", "USD", date(2026, 3, 1), "1.1000")
    _rate("USD", "EUR", date(2026, 3, 1), "0.8000")
    assert exchange_rate("EUR", "USD", date(2026, 3, 1)) == D("1.1000")
    assert exchange_rate("USD", "EUR", date(2026, 3, 1)) == D("0.8000")


def test_same_currency_is_one_and_missing_rate_names_pair_and_day():
    assert exchange_rate("USD", "USD", date(2026, 1, 1)) == D(1)
    _rate("EUR", "USD", date(2026, 3, 10), "1.1")
    with pytest.raises(MissingExchangeRate, match="EUR→USD on or before 2026-03-09"):
        exchange_rate("EUR", "USD", date(2026, 3, 9))


def test_correcting_a_rate_replaces_it_and_is_audited():
    from core.models import AuditEvent

    _rate("eur", "usd", date(2026, 3, 1), "1.1000")
    _rate("EUR", "USD", date(2026, 3, 1), "1.1050")
    assert exchange_rate("EUR", "USD", date(2026, 3, 1)) == D("1.1050")
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "exchange_rate.created",
        "exchange_rate.changed",
    ]
