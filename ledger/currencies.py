"""ISO 4217 currencies with their minor units, from py-moneyed's tables."""

import math


def iso_currencies() -> list[tuple[str, str, int]]:
    """(code, name, minor units) of every current ISO 4217 currency with a decimal minor unit."""
    import moneyed

    rows = []
    for code, currency in sorted(moneyed.CURRENCIES.items()):
        if len(code) != 3 or not code.isalpha() or code in {"XXX", "XTS"} or not currency.sub_unit:
            continue
        rows.append((code, currency.name, round(math.log10(currency.sub_unit))))
    return rows


def seed_currencies(**kwargs) -> None:
    """Create missing currency rows (reference data; safe to run after every migrate or flush)."""
    from ledger.models import Currency

    using = kwargs.get("using", "default")
    Currency.objects.using(using).bulk_create(
        [Currency(code=code, name=name, minor_units=units) for code, name, units in iso_currencies()],
        ignore_conflicts=True,
    )
