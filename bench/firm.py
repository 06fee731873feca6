"""The benchmark firm's master data, made through the production services (a few rows; no shortcut)."""

from datetime import date, timedelta
from decimal import Decimal

YEAR = 2026


def bench_entity(name: str = "Bench Consulting Inc."):
    from ledger.models import ExchangeRate, LegalEntity
    from ledger.services.setup import create_legal_entity

    entity = LegalEntity.objects.filter(name=name).first()
    if entity is None:
        entity = create_legal_entity(
            actor=None, name=name, functional_currency="USD", invoice_prefix="BN-", today=date(YEAR, 1, 15)
        )
        start = date(YEAR, 1, 1)
        ExchangeRate.objects.bulk_create(
            [
                ExchangeRate(
                    from_currency="EUR",
                    to_currency="USD",
                    date=start + timedelta(days=day),
                    rate=Decimal("1.0800") + Decimal(day % 50) / Decimal(10000),
                )
                for day in range(366)
            ],
            ignore_conflicts=True,
        )
    return entity
