"""Reads of the ledger: exchange rates, periods, accounts by role."""

import bisect
from datetime import date
from decimal import Decimal

from django.db.models import Q

from ledger.errors import MissingExchangeRate, PeriodMissing
from ledger.models import ExchangeRate, FiscalPeriod, GLAccount, LegalEntity

RATE_PLACES = Decimal("1E-12")


def exchange_rate(from_currency: str, to_currency: str, on: date) -> Decimal:
    """Units of `to_currency` per `from_currency` on `on`: the latest rate on or before that day.

    Uses the inverse of a stored to→from rate when that one is more recent (or the only one).
    """
    if from_currency == to_currency:
        return Decimal(1)
    candidates = (
        ExchangeRate.objects.filter(
            Q(from_currency=from_currency, to_currency=to_currency)
            | Q(from_currency=to_currency, to_currency=from_currency),
            date__lte=on,
        )
        .order_by("-date", "from_currency")
        .values_list("from_currency", "rate", "date")[:2]
    )
    best = None
    for row in candidates:
        if best is None or (row[2] == best[2] and row[0] == from_currency):
            best = row
    if best is None:
        raise MissingExchangeRate(
            f"No exchange rate {from_currency}→{to_currency} on or before {on.isoformat()}.",
            fields={
                "currency": [f"Add a {from_currency}/{to_currency} rate dated on or before {on.isoformat()}."]
            },
        )
    source, rate, _ = best
    return rate if source == from_currency else (Decimal(1) / rate).quantize(RATE_PLACES)


def exchange_rates(wanted: set[tuple[str, str, date]]) -> dict[tuple[str, str, date], Decimal]:
    """`exchange_rate` for many (from, to, day) at once: one query per currency pair, not one per day."""
    found: dict[tuple[str, str, date], Decimal] = {}
    by_pair: dict[tuple[str, str], list[date]] = {}
    for source, target, day in wanted:
        by_pair.setdefault((source, target), []).append(day)
    for (source, target), days in by_pair.items():
        rows = list(
            ExchangeRate.objects.filter(
                Q(from_currency=source, to_currency=target) | Q(from_currency=target, to_currency=source),
                date__lte=max(days),
            )
            .order_by("date", "-from_currency")
            .values_list("from_currency", "rate", "date")
        )
        # Per day the usable rate: direct preferred over the inverse of the same day.
        latest: list[tuple[date, Decimal]] = []
        for row_source, rate, day in rows:
            value = rate if row_source == source else (Decimal(1) / rate).quantize(RATE_PLACES)
            if latest and latest[-1][0] == day:
                if row_source == source:
                    latest[-1] = (day, value)
                continue
            latest.append((day, value))
        dates = [day for day, _ in latest]
        for day in days:
            index = bisect.bisect_right(dates, day) - 1
            if index < 0:
                exchange_rate(source, target, day)  # raises MissingExchangeRate naming the pair and day
            found[(source, target, day)] = latest[index][1]
    return found


def period_for(legal_entity: LegalEntity | int, on: date) -> FiscalPeriod:
    entity_id = getattr(legal_entity, "pk", legal_entity)
    period = FiscalPeriod.objects.filter(legal_entity_id=entity_id, start__lte=on, end__gte=on).first()
    if period is None:
        raise PeriodMissing(
            f"No fiscal period covers {on.isoformat()} for this legal entity; "
            "generate its fiscal year first.",
            fields={"date": ["No fiscal period covers this date."]},
        )
    return period


def account_by_role(legal_entity: LegalEntity | int, role: str) -> GLAccount:
    entity_id = getattr(legal_entity, "pk", legal_entity)
    return GLAccount.objects.get(legal_entity_id=entity_id, role=role)


def accounts_by_role(legal_entity: LegalEntity | int) -> dict[str, GLAccount]:
    entity_id = getattr(legal_entity, "pk", legal_entity)
    return {a.role: a for a in GLAccount.objects.filter(legal_entity_id=entity_id, role__isnull=False)}
