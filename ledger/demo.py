"""Demo firm, ledger part: a US entity (USD) and an EU entity (EUR), daily FX rates, opening balances."""

from datetime import date, timedelta
from decimal import Decimal

from ledger.models import ExchangeRate, GLAccount, LegalEntity
from ledger.services.posting import LineSpec, post_entry
from ledger.services.setup import create_legal_entity, ensure_fiscal_year, fiscal_year_of

ENTITIES = [
    # name, functional currency, invoice prefix, address, tax id, opening capital
    (
        "Ledgerline Consulting Inc.",
        "USD",
        "US-",
        "500 Market Street, San Francisco, CA 94105",
        "94-1234567",
        "750000.00",
    ),
    ("Ledgerline Europe GmbH", "EUR", "EU-", "Friedrichstraße 68, 10117 Berlin", "DE312345678", "400000.00"),
]

# Pairs stored daily; the others are found through their inverse. Starting level and daily drift bound.
RATE_PAIRS = [
    ("EUR", "USD", Decimal("1.0850")),
    ("GBP", "USD", Decimal("1.2700")),
    ("GBP", "EUR", Decimal("1.1700")),
]


def demo_start(today: date) -> date:
    """The first day of the demo's history: the first of the month twelve months back."""
    month = today.month - 12
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def load(ctx) -> None:
    start = demo_start(ctx.today)
    entities = []
    for name, currency, prefix, address, tax_id, capital in ENTITIES:
        entity = LegalEntity.objects.filter(name=name).first() or create_legal_entity(
            actor=None,
            name=name,
            functional_currency=currency,
            invoice_prefix=prefix,
            address=address,
            tax_id=tax_id,
            today=ctx.today,
        )
        for year in range(fiscal_year_of(entity, start), fiscal_year_of(entity, ctx.today) + 2):
            ensure_fiscal_year(legal_entity=entity, fiscal_year=year)
        entities.append((entity, Decimal(capital)))
    _load_rates(ctx, start)
    for entity, capital in entities:
        cash = GLAccount.objects.get(legal_entity=entity, role="cash")
        equity = GLAccount.objects.get(legal_entity=entity, code="3000")
        currency = entity.functional_currency
        post_entry(
            actor=None,
            legal_entity=entity,
            date=start,
            memo="Opening balance: paid-in capital",
            lines=[
                LineSpec(account=cash, currency=currency, debit=capital),
                LineSpec(account=equity, currency=currency, credit=capital),
            ],
            source_type="ledger.manual",
            source_id="demo-opening",
            posting_key=f"demo:opening:{entity.pk}",
        )
    ctx.data["legal_entities"] = [entity for entity, _ in entities]


def _load_rates(ctx, start: date) -> None:
    """A reproducible random walk per pair, one rate per calendar day up to today."""
    rows = []
    days = (ctx.today - start).days + 1
    for source, target, level in RATE_PAIRS:
        rate = level
        for offset in range(days):
            step = Decimal(ctx.rng.randint(-40, 40)) / Decimal(10000)
            rate = (rate * (1 + step / 10)).quantize(Decimal("0.0001"))
            rows.append(
                ExchangeRate(
                    from_currency=source, to_currency=target, date=start + timedelta(days=offset), rate=rate
                )
            )
    ExchangeRate.objects.bulk_create(rows, ignore_conflicts=True)
