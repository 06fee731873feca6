"""What the AR modules share: argument checks, row locking and message formatting."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from core.errors import ValidationFailed
from core.money import quantize
from ledger.choices import PeriodStatus
from ledger.errors import PeriodClosed
from ledger.models import ArItem, Currency, LegalEntity
from ledger.selectors import period_for
from ledger.services.close import share_lock_periods

ZERO = Decimal(0)


def _lock(ids: Iterable[int]) -> dict[int, ArItem]:
    """Lock AR items in primary-key order (so concurrent allocators cannot deadlock) and re-read them."""
    return {
        item.pk: item for item in ArItem.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    }


def _check_open_period(legal_entity_id: int, on: date, field: str = "on") -> None:
    """Refuse AR changes dated in a closed period even when they post nothing: an allocation moves the
    open amounts that the closed month's aging and AR reconciliation were read from."""
    share_lock_periods([legal_entity_id], on, on)
    period = period_for(legal_entity_id, on)
    if period.status != PeriodStatus.OPEN:
        raise PeriodClosed(
            f"The period {period.start:%Y-%m} is closed; date it in an open period or reopen it.",
            fields={field: [f"{period.start:%Y-%m} is closed."]},
        )


def _check_client(client, legal_entity: LegalEntity) -> None:
    if client.legal_entity_id != legal_entity.pk:
        raise ValidationFailed(
            f"{client} is a client of another legal entity, not of {legal_entity}.",
            fields={"client": ["Belongs to another legal entity."]},
        )


def _check_currency(currency: str) -> None:
    if not Currency.objects.filter(code=currency, active=True).exists():
        raise ValidationFailed(
            f"Unknown currency '{currency}'.", fields={"currency": ["Not an active currency."]}
        )


def _check_amount(amount: Decimal, currency: str, field: str) -> None:
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise ValidationFailed(f"The {field} must be a Decimal.", fields={field: ["Not a decimal amount."]})
    if amount <= 0:
        raise ValidationFailed(
            f"The {field} must be positive, not {amount}.", fields={field: ["Must be positive."]}
        )
    if quantize(amount, currency) != amount:
        raise ValidationFailed(
            f"The {field} {amount} has more decimals than {currency} allows.",
            fields={field: [f"Round to {currency}'s minor unit."]},
        )


def _show(amount: Decimal, currency: str) -> str:
    """An amount for a message: 1,234.50 EUR."""
    return f"{quantize(amount, currency):,} {currency}"


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
