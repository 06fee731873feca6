"""Month-end revaluation of open foreign-currency receivables, reversed on the next period's first day."""

from datetime import date
from decimal import Decimal

import pytest

from core.errors import PermissionDenied, ValidationFailed
from crm.models import Account
from ledger.errors import PeriodClosed
from ledger.models import FiscalPeriod, JournalEntry
from ledger.services.ar import post_receivable, record_payment
from ledger.services.posting import LineSpec
from ledger.services.revaluation import revalue_open_items
from tests.ledger.close_books import mark_closed

D = Decimal
MARCH_END = date(2026, 3, 31)


@pytest.fixture
def finance(make_user):
    return make_user("finance")


def _invoice(entity, client, account, number, amount, on, currency="EUR"):
    return post_receivable(
        actor=None,
        legal_entity=entity,
        client=client,
        kind="invoice",
        document_type="billing.invoice",
        document_id=number,
        number=number,
        date=on,
        due_date=on,
        currency=currency,
        amount=D(amount),
        lines=[LineSpec(account=account("4000"), currency=currency, credit=D(amount))],
        memo=number,
        posting_key=number,
    )


def _lines(entry):
    return [
        (
            line.account.code,
            line.currency,
            line.debit,
            line.credit,
            line.functional_debit,
            line.functional_credit,
        )
        for line in entry.lines.select_related("account").order_by("id")
    ]


def test_open_eur_invoice_revalued_at_month_end_and_reversed(
    usd_entity, client_account, account, eur_usd, finance
):
    eur_usd({date(2026, 3, 1): "1.1000", MARCH_END: "1.1500"})
    _invoice(usd_entity, client_account, account, "INV-1", "10000.00", date(2026, 3, 10))

    entry = revalue_open_items(actor=finance, legal_entity=usd_entity, period_end=MARCH_END)
    # 10,000.00 EUR booked at 1.1000 = 11,000.00 USD; at the closing 1.1500 it is 11,500.00: Dr AR 500.00 /
    # Cr unrealized FX 500.00, no EUR amounts.
    assert (entry.date, entry.posting_key) == (MARCH_END, f"fx-revaluation:{usd_entity.pk}:2026-03-31")
    assert _lines(entry) == [
        ("1100", "EUR", D("0"), D("0"), D("500.00"), D("0")),
        ("7010", "EUR", D("0"), D("0"), D("0"), D("500.00")),
    ]
    assert entry.lines.get(account__code="1100").client_id == client_account.pk
    reversal = JournalEntry.objects.get(reversal_of=entry)
    assert (reversal.date, reversal.posting_key) == (
        date(2026, 4, 1),
        f"fx-revaluation-reversal:{usd_entity.pk}:2026-03-31",
    )
    assert _lines(reversal) == [
        ("1100", "EUR", D("0"), D("0"), D("0"), D("500.00")),
        ("7010", "EUR", D("0"), D("0"), D("500.00"), D("0")),
    ]

    count = JournalEntry.objects.count()
    again = revalue_open_items(actor=finance, legal_entity=usd_entity, period_end=MARCH_END)
    assert again.pk == entry.pk
    assert JournalEntry.objects.count() == count


def test_revaluation_uses_open_amounts_as_of_period_end(
    usd_entity, client_account, account, eur_usd, finance
):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 3, 20): "1.1200", MARCH_END: "1.1500"})
    initech = Account.objects.create(name="Initech", legal_entity=usd_entity, currency="EUR")
    big = _invoice(usd_entity, client_account, account, "INV-1", "10000.00", date(2026, 3, 10))
    part = _invoice(usd_entity, client_account, account, "INV-2", "1000.00", date(2026, 3, 12))
    _invoice(usd_entity, client_account, account, "INV-3", "700.00", date(2026, 3, 12), currency="USD")
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 20),
        amount=D("400.00"),
        currency="EUR",
        allocations=[(part, D("400.00"))],
    )
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=initech,
        date=date(2026, 3, 25),
        amount=D("200.00"),
        currency="EUR",
        allocations=[],
    )
    # Paid in April: as of 31 March INV-1 was still fully open.
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 4, 5),
        amount=D("5000.00"),
        currency="EUR",
        allocations=[(big, D("5000.00"))],
    )

    entry = revalue_open_items(actor=None, legal_entity=usd_entity, period_end=MARCH_END)
    # Globex: INV-1 10,000.00 × 1.15 = 11,500.00 − 11,000.00 booked = +500.00;
    #         INV-2 open 600.00 × 1.15 = 690.00 − 600.00 × 1.10 = 660.00 → +30.00; INV-3 is USD: skipped.
    #         Dr AR 530.00.
    # Initech: unallocated payment −200.00 × 1.15 = −230.00 − (−200.00 × 1.12 = −224.00) → −6.00: Cr AR 6.00.
    # Unrealized FX: 530.00 − 6.00 = 524.00 credit.
    assert _lines(entry) == [
        ("1100", "EUR", D("0"), D("0"), D("530.00"), D("0")),
        ("1100", "EUR", D("0"), D("0"), D("0"), D("6.00")),
        ("7010", "EUR", D("0"), D("0"), D("0"), D("524.00")),
    ]
    assert list(
        entry.lines.filter(account__code="1100").order_by("id").values_list("client_id", flat=True)
    ) == [
        client_account.pk,
        initech.pk,
    ]


def test_nothing_to_revalue(usd_entity, client_account, account, eur_usd):
    eur_usd({date(2026, 3, 1): "1.1000"})
    _invoice(usd_entity, client_account, account, "INV-1", "100.00", date(2026, 3, 10), currency="USD")
    assert revalue_open_items(actor=None, legal_entity=usd_entity, period_end=date(2026, 2, 28)) is None
    # The EUR rate did not move: the difference is zero.
    _invoice(usd_entity, client_account, account, "INV-2", "100.00", date(2026, 3, 10))
    assert revalue_open_items(actor=None, legal_entity=usd_entity, period_end=MARCH_END) is None
    assert JournalEntry.objects.count() == 2


def test_refusals_post_nothing(usd_entity, client_account, account, eur_usd, finance, make_user):
    eur_usd({date(2026, 3, 1): "1.1000", MARCH_END: "1.1500"})
    _invoice(usd_entity, client_account, account, "INV-1", "100.00", date(2026, 3, 10))
    count = JournalEntry.objects.count()
    with pytest.raises(ValidationFailed, match="end of a period: 2026-03-31"):
        revalue_open_items(actor=finance, legal_entity=usd_entity, period_end=date(2026, 3, 30))
    april = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 4, 1))
    mark_closed(april, finance)
    # The reversal needs April open; without it, March is not revalued either.
    with pytest.raises(PeriodClosed):
        revalue_open_items(actor=finance, legal_entity=usd_entity, period_end=MARCH_END)
    with pytest.raises(PermissionDenied):
        revalue_open_items(actor=make_user("consultant"), legal_entity=usd_entity, period_end=MARCH_END)
    assert JournalEntry.objects.count() == count
