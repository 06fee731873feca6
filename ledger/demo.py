"""Demo firm, ledger part: a US entity (USD) and an EU entity (EUR), daily FX rates, opening balances."""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model

from crm.models import Account
from ledger.models import ExchangeRate, GLAccount, LegalEntity, Payment
from ledger.services.ar import post_receivable, record_payment
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

# Clients billed before go-live, per entity: name, currency, payment terms, VAT %, how late they pay
# (days after due; None = the last invoices are still open).
CLIENTS = {
    "USD": [
        ("Northwind Health", "USD", 30, 0, 3),
        ("Contoso Retail Group", "USD", 45, 0, 18),
        ("Globex Manufacturing", "EUR", 30, 0, 41),
    ],
    "EUR": [
        ("Initech Software GmbH", "EUR", 30, 19, 0),
        ("Umbrella Pharma Ltd", "GBP", 60, 0, 27),
    ],
}

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
    finance = get_user_model().objects.filter(username="finance").first()
    for entity, _ in entities:
        _load_receivables(ctx, entity, finance)


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


def _months_back(today: date, months: int) -> date:
    month = today.month - months
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _load_receivables(ctx, entity: LegalEntity, finance) -> None:
    """Six months of invoices imported from the firm's previous system, and the payments against them.

    Billing's own invoices arrive with its demo; these give the AR pages (aging, statements, DSO,
    payments) real, consistent numbers from the first `make demo`.
    """
    revenue = GLAccount.objects.get(legal_entity=entity, role="revenue_tm")
    tax = GLAccount.objects.get(legal_entity=entity, role="tax_payable")
    for name, currency, terms, vat_percent, days_late in CLIENTS[entity.functional_currency]:
        client, _ = Account.objects.get_or_create(
            name=name,
            legal_entity=entity,
            defaults={
                "currency": currency,
                "payment_terms_days": terms,
                "billing_email": f"ap@{name.split()[0].lower()}.example.com",
            },
        )
        for months in range(6, 0, -1):
            issued = _months_back(ctx.today, months) + timedelta(days=2)
            net = Decimal(ctx.rng.randrange(800_000, 4_000_000)) / 100
            vat = (net * vat_percent / 100).quantize(Decimal("0.01"))
            number = f"{entity.invoice_prefix}IMP-{client.pk:03d}-{issued:%Y%m}"
            lines = [LineSpec(account=revenue, currency=currency, credit=net, client_id=client.pk)]
            if vat:
                lines.append(LineSpec(account=tax, currency=currency, credit=vat, client_id=client.pk))
            item = post_receivable(
                actor=None,
                legal_entity=entity,
                client=client,
                kind="invoice",
                document_type="ledger.imported_invoice",
                document_id=number,
                number=number,
                date=issued,
                due_date=issued + timedelta(days=terms),
                currency=currency,
                amount=net + vat,
                lines=lines,
                memo=f"Invoice {number} imported at go-live",
                posting_key=f"demo:invoice:{number}",
            )
            paid_on = item.due_date + timedelta(days=days_late)
            reference = f"DEMO-{number}"
            if (
                paid_on >= ctx.today
                or finance is None
                or Payment.objects.filter(reference=reference).exists()
            ):
                continue
            record_payment(
                actor=finance,
                legal_entity=entity,
                client=client,
                date=paid_on,
                amount=item.amount,
                currency=currency,
                reference=reference,
                allocations=[(item, item.amount)],
            )
