"""Money arithmetic for Ledgerline: the one place where amounts are rounded, split and formatted.

House rules (DESIGN.md):

* Amounts are ``Decimal`` (or ``int``), never ``float``, and always travel with an ISO 4217 currency code.
* Amounts in different currencies are never combined; trying raises :class:`CurrencyMismatch`.
* Rounding happens only at defined points (:func:`quantize` and the functions built on it), half-up
  (``ROUND_HALF_UP``, i.e. ties away from zero) to the currency's minor unit: JPY 0 decimals,
  USD/EUR/GBP 2, KWD/BHD 3.
* Splits give the remainder to the last piece, so the pieces always add up to the whole exactly.

Results never depend on the thread's decimal context (precision, rounding mode): ``quantize`` rounds in a
private context wide enough to be exact, and splits work on exact fractions of the minor unit, so a
share is never rounded twice.
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

import moneyed

if TYPE_CHECKING:
    # djmoney.money reads Django settings on import, so it is imported lazily where used: this module
    # must stay importable without configured settings (settings.py, scripts, plain unit tests).
    from djmoney.money import Money

__all__ = [
    "CurrencyMismatch",
    "ensure_same_currency",
    "format_money",
    "minor_unit_exponent",
    "quantize",
    "split_by_weights",
    "split_evenly",
    "sum_money",
    "to_money",
]

Amount = Decimal | int

# Exact arithmetic on Decimal("1E-100000000") would build a 100-million-digit integer; no real
# amount or weight comes anywhere near this many places either side of the decimal point.
_MAX_EXPONENT = 1000

# Display symbols; any other currency is shown as its code followed by a space.
_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CHF": "CHF",
    "CAD": "CA$",
    "AUD": "A$",
}


class CurrencyMismatch(ValueError):
    """Raised when amounts in two different currencies would be combined."""

    def __init__(self, expected: str, got: str) -> None:
        # Both codes go to args (not a pre-built message) so the exception survives pickling.
        super().__init__(expected, got)
        self.expected = expected
        self.got = got

    def __str__(self) -> str:
        return f"Currency mismatch: cannot combine {self.expected} with {self.got}"


@lru_cache(maxsize=512)
def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (USD 2, JPY 0, KWD 3)."""
    if not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
        and currency.isupper()
    ):
        raise ValueError(f"Currency code must be three upper-case letters (ISO 4217), got {currency!r}")
    try:
        sub_unit = moneyed.get_currency(currency).sub_unit
    except moneyed.CurrencyDoesNotExist:
        raise ValueError(f"Unknown currency code {currency!r}") from None
    exponent = len(str(sub_unit)) - 1
    if sub_unit != 10**exponent:
        raise ValueError(f"Currency {currency} has a minor unit of 1/{sub_unit}, which is not a power of ten")
    return exponent


# Enough digits that quantizing any sane amount is exact; Decimal.quantize rounds the exact value once.
_QUANTIZE_CONTEXT = Context(prec=_MAX_EXPONENT, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


@lru_cache(maxsize=16)
def _quantum(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


def quantize(amount: Amount, currency: str) -> Decimal:
    """Round ``amount`` half-up to ``currency``'s minor unit.

    This runs for every line of a billing or posting run, so it uses ``Decimal.quantize`` in a private
    context wide enough to be exact (never the thread's context), not fraction arithmetic.
    """
    exponent = minor_unit_exponent(currency)
    if type(amount) is not Decimal:
        _exact(amount)
        amount = Decimal(amount)
    elif not amount.is_finite() or abs(amount.as_tuple().exponent) > _MAX_EXPONENT:
        _exact(amount)
    result = amount.quantize(_quantum(exponent), context=_QUANTIZE_CONTEXT)
    # Never "-0.00": a zero amount has no sign.
    return result.copy_abs() if result.is_zero() else result


def split_evenly(amount: Amount, n: int, currency: str) -> list[Decimal]:
    """Split ``amount`` into ``n`` pieces as equal as the minor unit allows.

    Every piece but the last is the exact share rounded half-up; the last piece is the whole minus
    the others, so the pieces sum exactly to ``amount``. ``amount`` must already be quantized to
    ``currency``; it may be negative (credit notes). Where rounding up would leave the last piece with
    the opposite sign (a tiny amount over many pieces: 0.05 USD in 7), the other pieces are rounded
    toward zero instead, so 0.05 in 7 gives six 0.00 and 0.05: a schedule never has a negative period.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"Cannot split into {n} pieces: n must be at least 1")
    exponent = minor_unit_exponent(currency)
    whole = _to_minor(amount, currency, exponent)
    return [_from_minor(piece, exponent) for piece in _remainder_last(whole, [Fraction(whole, n)] * n)]


def split_by_weights(amount: Amount, weights: Iterable[Amount], currency: str) -> list[Decimal]:
    """Split ``amount`` in proportion to ``weights`` (one piece per weight, same order).

    Weights are non-negative Decimals or ints with a positive sum. Every piece but the last is its
    exact share rounded half-up; the last piece is the whole minus the others, so the pieces sum
    exactly to ``amount`` (a zero last weight can still get a remainder of a few minor units; the
    sign rule of ``split_evenly`` applies).
    ``amount`` must already be quantized to ``currency``; it may be negative.
    """
    exact_weights = [_weight(weight, index) for index, weight in enumerate(weights)]
    if not exact_weights:
        raise ValueError("Cannot split by weights: no weights given")
    total_weight = sum(exact_weights)
    if total_weight == 0:
        raise ValueError("Cannot split by weights: the weights sum to zero")
    exponent = minor_unit_exponent(currency)
    whole = _to_minor(amount, currency, exponent)
    shares = [whole * weight / total_weight for weight in exact_weights]
    return [_from_minor(piece, exponent) for piece in _remainder_last(whole, shares)]


def ensure_same_currency(*currencies_or_moneys: str | moneyed.Currency | moneyed.Money) -> str | None:
    """Check that all arguments (codes, Currency or Money objects) share one currency; return its code.

    Returns ``None`` when called with no arguments.
    """
    common = None
    for item in currencies_or_moneys:
        code = _currency_code(item)
        if common is None:
            common = code
        elif code != common:
            raise CurrencyMismatch(common, code)
    return common


def sum_money(amounts: Iterable[moneyed.Money], currency: str) -> "Money":
    """Add up Money amounts that must all be in ``currency``; an empty input gives zero.

    The total is exact, not rounded.
    """
    from djmoney.money import Money

    minor_unit_exponent(currency)
    total = Decimal(0)
    for money in amounts:
        if not isinstance(money, moneyed.Money):
            raise TypeError(f"sum_money() adds Money objects, not {type(money).__name__}")
        if money.currency.code != currency:
            raise CurrencyMismatch(currency, money.currency.code)
        total += money.amount
    return Money(total, currency)


def to_money(amount: Amount, currency: str) -> "Money":
    """A djmoney ``Money`` holding ``amount`` quantized to ``currency``."""
    from djmoney.money import Money

    return Money(quantize(amount, currency), currency)


def format_money(amount: Amount, currency: str) -> str:
    """Display string such as ``$1,234.50``, ``¥1,000``, ``-€5.00`` or ``KWD 1.250`` (rounded half-up)."""
    exponent = minor_unit_exponent(currency)
    value = quantize(amount, currency)
    symbol = _SYMBOLS.get(currency, currency)
    if symbol[-1].isalpha():
        symbol += " "
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.{exponent}f}"


def _exact(value: Amount, what: str = "Amount") -> Fraction:
    """``value`` as an exact fraction, after checking it is a finite, sane Decimal or int."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        hint = " (money is never a float)" if isinstance(value, float) else ""
        raise TypeError(f"{what} must be a Decimal or int, not {type(value).__name__}{hint}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{what} must be a finite number, got {value}")
        if abs(value.as_tuple().exponent) > _MAX_EXPONENT:
            raise ValueError(f"{what} {value} is out of range")
    return Fraction(value)


def _to_minor(amount: Amount, currency: str, exponent: int) -> int:
    """``amount`` as a whole number of minor units; refuses amounts that are not quantized yet."""
    scaled = _exact(amount) * 10**exponent
    if scaled.denominator != 1:
        raise ValueError(
            f"Amount {amount} is not quantized to {currency} ({exponent} decimal places); "
            "round it with quantize() before splitting"
        )
    return scaled.numerator


def _weight(weight: Amount, index: int) -> Fraction:
    exact = _exact(weight, f"Weight #{index}")
    if exact < 0:
        raise ValueError(f"Weight #{index} must not be negative, got {weight}")
    return exact


def _remainder_last(whole: int, shares: list[Fraction]) -> list[int]:
    """Pieces in minor units: all but the last rounded half-up, the last = whole - the others.

    Falls back to rounding toward zero when half-up would push the last piece past zero.
    """
    pieces = [_round_half_up(share) for share in shares[:-1]]
    last = whole - sum(pieces)
    if last * whole < 0 or (whole == 0 and last != 0):
        pieces = [int(share) for share in shares[:-1]]
        last = whole - sum(pieces)
    return [*pieces, last]


def _round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, ties away from zero (what ``ROUND_HALF_UP`` does)."""
    magnitude = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return -magnitude if value < 0 else magnitude


def _from_minor(minor: int, exponent: int) -> Decimal:
    # Built from a string so the Decimal is exact and always carries exactly `exponent` places.
    return Decimal(f"{minor}E-{exponent}")


def _currency_code(item: str | moneyed.Currency | moneyed.Money) -> str:
    if isinstance(item, str):
        minor_unit_exponent(item)
        return item
    if isinstance(item, moneyed.Currency):
        return item.code
    if isinstance(item, moneyed.Money):
        return item.currency.code
    raise TypeError(f"Expected a currency code, Currency or Money, not {type(item).__name__}")
