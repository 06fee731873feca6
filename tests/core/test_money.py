"""Tests for core.money: rounding, splitting, currency checks and display formatting."""

import os
import pickle
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.conf import settings as django_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.money import (
    CurrencyMismatch,
    ensure_same_currency,
    format_money,
    minor_unit_exponent,
    quantize,
    split_by_weights,
    split_evenly,
    sum_money,
    to_money,
)

if not django_settings.configured and "DJANGO_SETTINGS_MODULE" not in os.environ:
    # djmoney reads Django settings on import; this lets the file run with `-p no:django`.
    django_settings.configure()

from djmoney.money import Money  # noqa: E402

PROPERTY_SETTINGS = hypothesis_settings(max_examples=200, deadline=None, database=None)
EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}


def assert_exact(actual, expected):
    """Same value *and* same number of decimal places (plain == treats 2.5 and 2.50 as equal)."""
    assert repr(actual) == repr(expected)


# --- minor_unit_exponent ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_unit_exponent(currency, exponent):
    assert minor_unit_exponent(currency) == exponent


def test_unknown_currency_is_refused():
    with pytest.raises(ValueError, match="Unknown currency code 'ZZZ'"):
        minor_unit_exponent("ZZZ")
    with pytest.raises(ValueError, match="Unknown currency code 'ZZZ'"):
        quantize(Decimal("1.00"), "ZZZ")


@pytest.mark.parametrize("currency", ["usd", "Usd", "US", "USDD", "", "U$D", " USD", None, 840])
def test_malformed_currency_code_is_refused(currency):
    with pytest.raises(ValueError, match="three upper-case letters"):
        minor_unit_exponent(currency)


# --- quantize --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("2.345"), "USD", Decimal("2.35")),
        (Decimal("2.344"), "USD", Decimal("2.34")),
        (Decimal("-2.345"), "USD", Decimal("-2.35")),
        (Decimal("-2.344"), "USD", Decimal("-2.34")),
        (Decimal("0.005"), "EUR", Decimal("0.01")),
        (Decimal("2.5"), "USD", Decimal("2.50")),
        (Decimal("-0.004"), "USD", Decimal("0.00")),
        (7, "USD", Decimal("7.00")),
        (-7, "GBP", Decimal("-7.00")),
        (Decimal("1234.5"), "JPY", Decimal("1235")),
        (Decimal("1234.4"), "JPY", Decimal("1234")),
        (Decimal("-0.5"), "JPY", Decimal("-1")),
        (Decimal("1.2345"), "KWD", Decimal("1.235")),
        (Decimal("1.2344"), "KWD", Decimal("1.234")),
        (Decimal("-1.2345"), "KWD", Decimal("-1.235")),
        (Decimal("1234.5"), "KWD", Decimal("1234.500")),
        (Decimal("0.0005"), "BHD", Decimal("0.001")),
        (Decimal("12345678901234567890123456789.125"), "USD", Decimal("12345678901234567890123456789.13")),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    assert_exact(quantize(amount, currency), expected)


@pytest.mark.parametrize("amount", [2.345, 1.0, "2.345", True, None])
def test_quantize_refuses_non_decimal_amounts(amount):
    with pytest.raises(TypeError, match="Decimal or int"):
        quantize(amount, "USD")


def test_float_refusal_says_why():
    with pytest.raises(TypeError, match="never a float"):
        quantize(0.1, "USD")


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_quantize_refuses_non_finite_amounts(amount):
    with pytest.raises(ValueError, match="finite"):
        quantize(amount, "USD")


@pytest.mark.parametrize("amount", [Decimal("1E-100000000"), Decimal("-1E+100000000")])
def test_quantize_refuses_absurd_exponents_quickly(amount):
    with pytest.raises(ValueError, match="out of range"):
        quantize(amount, "USD")


@given(
    amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(sorted(EXPONENTS)),
)
@PROPERTY_SETTINGS
def test_quantize_agrees_with_decimal_round_half_up(amount, currency):
    expected = amount.quantize(Decimal(1).scaleb(-EXPONENTS[currency]), rounding=ROUND_HALF_UP)
    result = quantize(amount, currency)
    assert result == expected
    assert result.as_tuple().exponent == -EXPONENTS[currency]


# --- split_evenly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "n", "currency", "expected"),
    [
        (Decimal("10000.00"), 3, "USD", [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]),
        (Decimal("0.01"), 3, "USD", [Decimal("0.00"), Decimal("0.00"), Decimal("0.01")]),
        (Decimal("100.00"), 12, "USD", [Decimal("8.33")] * 11 + [Decimal("8.37")]),
        (Decimal("0.05"), 2, "USD", [Decimal("0.03"), Decimal("0.02")]),
        (Decimal("12.34"), 1, "EUR", [Decimal("12.34")]),
        (Decimal("100"), 3, "JPY", [Decimal("33"), Decimal("33"), Decimal("34")]),
        (Decimal("10.000"), 3, "KWD", [Decimal("3.333"), Decimal("3.333"), Decimal("3.334")]),
        # Already-quantized values written with fewer or more places are fine; pieces get 2 places.
        (100, 3, "USD", [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]),
        (Decimal("10000"), 3, "USD", [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]),
        (Decimal("1.000"), 2, "USD", [Decimal("0.50"), Decimal("0.50")]),
    ],
)
def test_split_evenly(amount, n, currency, expected):
    assert_exact(split_evenly(amount, n, currency), expected)


@pytest.mark.parametrize(
    ("amount", "n", "expected"),
    [
        (Decimal("-10000.00"), 3, [Decimal("-3333.33"), Decimal("-3333.33"), Decimal("-3333.34")]),
        (Decimal("-0.05"), 2, [Decimal("-0.03"), Decimal("-0.02")]),
        (Decimal("-0.01"), 3, [Decimal("0.00"), Decimal("0.00"), Decimal("-0.01")]),
    ],
)
def test_split_evenly_negative_amount(amount, n, expected):
    assert_exact(split_evenly(amount, n, "USD"), expected)


def test_split_evenly_tiny_amount_never_leaves_a_negative_last_piece():
    # 0.05 / 7 = 0.00714... rounds half-up to 0.01, and six of those would overshoot the whole by a cent,
    # so the other pieces round toward zero and the last one takes the remainder.
    assert_exact(split_evenly(Decimal("0.05"), 7, "USD"), [Decimal("0.00")] * 6 + [Decimal("0.05")])
    assert_exact(split_evenly(Decimal("10.00"), 60, "USD")[-2:], [Decimal("0.16"), Decimal("0.56")])


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(Decimal("10.005"), "USD"), (Decimal("1.5"), "JPY"), (Decimal("0.0001"), "KWD")],
)
def test_split_evenly_refuses_unquantized_amount(amount, currency):
    with pytest.raises(ValueError, match="not quantized"):
        split_evenly(amount, 3, currency)


@pytest.mark.parametrize("n", [0, -1])
def test_split_evenly_refuses_fewer_than_one_piece(n):
    with pytest.raises(ValueError, match="at least 1"):
        split_evenly(Decimal("10.00"), n, "USD")


@pytest.mark.parametrize("n", [2.0, True, "3", Decimal("3")])
def test_split_evenly_refuses_non_int_n(n):
    with pytest.raises(TypeError, match="n must be an int"):
        split_evenly(Decimal("10.00"), n, "USD")


def test_split_evenly_refuses_float_amount():
    with pytest.raises(TypeError, match="never a float"):
        split_evenly(10.0, 3, "USD")


# --- split_by_weights ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "weights", "currency", "expected"),
    [
        (Decimal("1000.00"), [1, 1, 1], "USD", [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]),
        (Decimal("100.00"), [2, 1], "USD", [Decimal("66.67"), Decimal("33.33")]),
        # 1000 * 7/15 = 466.666... -> 466.67; the zero weight gets 0.00; last = 1000 - 666.67.
        (
            Decimal("1000.00"),
            [3, 7, 0, 5],
            "USD",
            [Decimal("200.00"), Decimal("466.67"), Decimal("0.00"), Decimal("333.33")],
        ),
        # Decimal weights: shares 50, 16.666..., 33.333... of 100.
        (
            Decimal("100.00"),
            [Decimal("1.5"), Decimal("0.5"), Decimal("1")],
            "EUR",
            [Decimal("50.00"), Decimal("16.67"), Decimal("33.33")],
        ),
        (Decimal("1000"), [1, 1, 1], "JPY", [Decimal("333"), Decimal("333"), Decimal("334")]),
        (Decimal("1.000"), [1, 2], "KWD", [Decimal("0.333"), Decimal("0.667")]),
        (Decimal("55.55"), [7], "USD", [Decimal("55.55")]),
    ],
)
def test_split_by_weights(amount, weights, currency, expected):
    assert_exact(split_by_weights(amount, weights, currency), expected)


def test_split_by_weights_zero_last_weight_still_takes_the_remainder():
    # The house rule puts the remainder on the last piece, whatever its weight.
    assert_exact(
        split_by_weights(Decimal("1000.00"), [1, 1, 1, 0], "USD"),
        [Decimal("333.33"), Decimal("333.33"), Decimal("333.33"), Decimal("0.01")],
    )


def test_split_by_weights_accepts_any_iterable():
    assert_exact(split_by_weights(Decimal("100.00"), (w for w in [1, 1]), "USD"), [Decimal("50.00")] * 2)


def test_split_by_weights_negative_amount():
    assert_exact(split_by_weights(Decimal("-100.00"), [2, 1], "USD"), [Decimal("-66.67"), Decimal("-33.33")])


def test_split_by_weights_refuses_unquantized_amount():
    with pytest.raises(ValueError, match="not quantized"):
        split_by_weights(Decimal("100.001"), [1, 1], "USD")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "no weights"),
        ([0, 0], "sum to zero"),
        ([1, -1, 2], "Weight #1 must not be negative"),
        ([Decimal("1"), Decimal("NaN")], "Weight #1 must be a finite number"),
        ([1, Decimal("Infinity")], "Weight #1 must be a finite number"),
        ([1, Decimal("1E-100000000")], "Weight #1 .* is out of range"),
    ],
)
def test_split_by_weights_refuses_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        split_by_weights(Decimal("10.00"), weights, "USD")


@pytest.mark.parametrize("weights", [[1.0, 2.0], [1, "2"], [True, 1]])
def test_split_by_weights_refuses_non_decimal_weights(weights):
    with pytest.raises(TypeError, match="must be a Decimal or int"):
        split_by_weights(Decimal("10.00"), weights, "USD")


# --- split properties ------------------------------------------------------------------------

currencies = st.sampled_from(sorted(EXPONENTS))
# Small amounts exercise the rounding edge cases; large ones the general case.
minor_amounts = st.one_of(st.integers(-300, 300), st.integers(-(10**12), 10**12))
weight_lists = st.lists(
    st.one_of(
        st.integers(0, 1000),
        st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=60,
).filter(lambda weights: sum(weights) > 0)


def check_pieces(pieces, amount, exact_shares, exponent):
    """Pieces sum to the whole, are quantized, share its sign, and all but the last are within half a
    minor unit of their exact share (one unit where rounding toward zero kept the last piece's sign)."""
    assert len(pieces) == len(exact_shares)
    assert sum(pieces) == amount
    assert all(piece.as_tuple().exponent == -exponent for piece in pieces)
    assert all(piece * amount >= 0 for piece in pieces)
    half_up = all(
        abs(Fraction(piece) - share) <= Fraction(1, 2 * 10**exponent)
        for piece, share in zip(pieces[:-1], exact_shares[:-1], strict=True)
    )
    toward_zero = all(
        abs(Fraction(piece)) <= abs(share) < abs(Fraction(piece)) + Fraction(1, 10**exponent)
        for piece, share in zip(pieces[:-1], exact_shares[:-1], strict=True)
    )
    assert half_up or toward_zero


@given(minor=minor_amounts, n=st.integers(1, 60), currency=currencies)
@PROPERTY_SETTINGS
def test_split_evenly_properties(minor, n, currency):
    exponent = EXPONENTS[currency]
    amount = Decimal(minor).scaleb(-exponent)
    pieces = split_evenly(amount, n, currency)
    check_pieces(pieces, amount, [Fraction(amount) / n] * n, exponent)
    assert split_evenly(-amount, n, currency) == [-piece for piece in pieces]


@given(minor=minor_amounts, weights=weight_lists, currency=currencies)
@PROPERTY_SETTINGS
def test_split_by_weights_properties(minor, weights, currency):
    exponent = EXPONENTS[currency]
    amount = Decimal(minor).scaleb(-exponent)
    total = sum(Fraction(weight) for weight in weights)
    pieces = split_by_weights(amount, weights, currency)
    check_pieces(
        pieces, amount, [Fraction(amount) * Fraction(weight) / total for weight in weights], exponent
    )
    assert split_by_weights(-amount, weights, currency) == [-piece for piece in pieces]


# --- currency checks and Money helpers -------------------------------------------------------


def test_currency_mismatch_names_both_currencies():
    error = CurrencyMismatch("USD", "EUR")
    assert isinstance(error, ValueError)
    assert str(error) == "Currency mismatch: cannot combine USD with EUR"
    assert (error.expected, error.got) == ("USD", "EUR")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301 (our own object)


def test_ensure_same_currency_returns_the_common_code():
    assert ensure_same_currency("USD") == "USD"
    assert (
        ensure_same_currency("EUR", Money(Decimal("1.00"), "EUR"), Money(Decimal("2.00"), "EUR").currency)
        == "EUR"
    )
    assert ensure_same_currency() is None


def test_ensure_same_currency_raises_on_mismatch():
    with pytest.raises(CurrencyMismatch, match="cannot combine USD with EUR"):
        ensure_same_currency("USD", "USD", "EUR")
    with pytest.raises(CurrencyMismatch, match="cannot combine GBP with JPY"):
        ensure_same_currency(Money(Decimal("1.00"), "GBP"), Money(Decimal("1"), "JPY"))


def test_ensure_same_currency_refuses_malformed_codes_and_other_objects():
    with pytest.raises(ValueError, match="three upper-case letters"):
        ensure_same_currency("USD", "usd")
    with pytest.raises(TypeError):
        ensure_same_currency("USD", Decimal("1.00"))


def test_sum_money():
    amounts = [Money(Decimal("1.10"), "USD"), Money(Decimal("2.20"), "USD"), Money(Decimal("3.30"), "USD")]
    total = sum_money(amounts, "USD")
    assert isinstance(total, Money)
    assert total.currency.code == "USD"
    assert total.amount == Decimal("6.60")


def test_sum_money_does_not_round():
    total = sum_money(iter([Money(Decimal("0.004"), "USD"), Money(Decimal("0.0005"), "USD")]), "USD")
    assert total.amount == Decimal("0.0045")


def test_sum_money_of_nothing_is_zero_in_the_given_currency():
    total = sum_money([], "JPY")
    assert total == Money(0, "JPY")
    assert total.currency.code == "JPY"


def test_sum_money_raises_currency_mismatch():
    with pytest.raises(CurrencyMismatch, match="cannot combine USD with EUR"):
        sum_money([Money(Decimal("1.00"), "USD"), Money(Decimal("1.00"), "EUR")], "USD")
    with pytest.raises(CurrencyMismatch, match="cannot combine EUR with USD"):
        sum_money([Money(Decimal("1.00"), "USD")], "EUR")


def test_sum_money_refuses_bare_amounts():
    with pytest.raises(TypeError, match="Money"):
        sum_money([Money(Decimal("1.00"), "USD"), Decimal("1.00")], "USD")


def test_to_money_quantizes():
    money = to_money(Decimal("2.345"), "USD")
    assert isinstance(money, Money)
    assert money.currency.code == "USD"
    assert_exact(money.amount, Decimal("2.35"))
    assert_exact(to_money(Decimal("1234.5"), "JPY").amount, Decimal("1235"))


def test_to_money_refuses_float():
    with pytest.raises(TypeError):
        to_money(2.345, "USD")


# --- format_money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("-1234.5"), "USD", "-$1,234.50"),
        (Decimal("1000"), "JPY", "¥1,000"),
        (Decimal("1234.5"), "JPY", "¥1,235"),
        (Decimal("-5"), "EUR", "-€5.00"),
        (Decimal("1234567.891"), "GBP", "£1,234,567.89"),
        (Decimal("999.995"), "USD", "$1,000.00"),
        (0, "USD", "$0.00"),
        (Decimal("-0.001"), "USD", "$0.00"),
        (Decimal("1234.5"), "CHF", "CHF 1,234.50"),
        (Decimal("-12"), "CHF", "-CHF 12.00"),
        (Decimal("12"), "CAD", "CA$12.00"),
        (Decimal("12"), "AUD", "A$12.00"),
        (Decimal("1234.5678"), "KWD", "KWD 1,234.568"),
        (Decimal("-0.5"), "BHD", "-BHD 0.500"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_format_money_refuses_float():
    with pytest.raises(TypeError):
        format_money(1234.5, "USD")


@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15, places=6),
    currency=currencies,
)
@PROPERTY_SETTINGS
def test_quantize_equals_exact_half_up_rounding(value, currency):
    exponent = EXPONENTS[currency]
    scaled = Fraction(value) * 10**exponent
    magnitude = (2 * abs(scaled.numerator) + scaled.denominator) // (2 * scaled.denominator)
    expected = Decimal(-magnitude if scaled < 0 else magnitude).scaleb(-exponent)
    result = quantize(value, currency)
    assert result == expected
    assert result.as_tuple().exponent == -exponent
    assert not result.is_signed() or result != 0
