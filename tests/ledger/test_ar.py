"""The AR subledger: receivables, payments, allocations with realized FX, reversals and write-offs."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from core.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import user_roles
from crm.models import Account
from ledger.models import (
    AccountBalance,
    Allocation,
    ArItem,
    JournalEntry,
    JournalLine,
    Payment,
    WriteOffRequest,
)
from ledger.services.ar import (
    allocate,
    allocate_payment,
    approve_write_off,
    item_balances,
    post_receivable,
    record_payment,
    reject_write_off,
    request_write_off,
    reverse_allocation,
)
from ledger.services.posting import LineSpec

D = Decimal


@pytest.fixture
def finance(make_user):
    return make_user("finance")


@pytest.fixture
def invoice(usd_entity, account):
    """Post an invoice (or credit note) with one revenue line: invoice("INV-1", "100.00", on=..., due=...)."""

    def post(
        number, amount, *, on, due=None, currency="EUR", client, kind="invoice", actor=None, entity=None
    ):
        amount = D(amount)
        side = {"credit": amount} if kind == "invoice" else {"debit": amount}
        return post_receivable(
            actor=actor,
            legal_entity=entity or usd_entity,
            client=client,
            kind=kind,
            document_type="billing.invoice" if kind == "invoice" else "billing.creditnote",
            document_id=number,
            number=number,
            date=on,
            due_date=due or on,
            currency=currency,
            amount=amount,
            lines=[LineSpec(account=account("4000", entity), currency=currency, **side)],
            memo=f"{kind} {number}",
            posting_key=f"{kind}:{number}",
        )

    return post


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


def _ar_of(client, code="1100"):
    """Net AR lines of one client per currency: {currency: (transaction net, functional net)}."""
    rows = (
        JournalLine.objects.filter(client=client, account__code=code)
        .values("currency")
        .annotate(d=Sum("debit"), c=Sum("credit"), fd=Sum("functional_debit"), fc=Sum("functional_credit"))
    )
    return {row["currency"]: (row["d"] - row["c"], row["fd"] - row["fc"]) for row in rows}


def _snapshot():
    """Everything the AR services write, to assert that a refused call changed nothing."""
    return (
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        list(AccountBalance.objects.order_by("id").values_list("debit", "credit", "functional_debit")),
        list(ArItem.objects.order_by("id").values_list("id", "open_amount")),
        Allocation.objects.count(),
        Payment.objects.count(),
        list(WriteOffRequest.objects.order_by("id").values_list("id", "status")),
        AuditEvent.objects.count(),
        Event.objects.count(),
    )


def test_issue_example_eur_invoice_paid_at_a_lower_rate(
    usd_entity, client_account, eur_usd, invoice, finance
):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 4, 1): "1.0800"})
    item = invoice("INV-1", "10000.00", on=date(2026, 3, 10), due=date(2026, 4, 9), client=client_account)
    # 10,000.00 EUR × 1.1000 = 11,000.00 USD receivable.
    assert (item.kind, item.amount, item.open_amount) == ("invoice", D("10000.00"), D("10000.00"))
    assert (item.rate, item.functional_amount) == (D("1.1"), D("11000.00"))
    assert _lines(item.journal_entry) == [
        ("1100", "EUR", D("10000.00"), D("0"), D("11000.00"), D("0")),
        ("4000", "EUR", D("0"), D("10000.00"), D("0"), D("11000.00")),
    ]
    assert item.journal_entry.lines.get(account__code="1100").client_id == client_account.pk

    payment = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 4, 15),
        amount=D("10000.00"),
        currency="EUR",
        reference="WIRE-778",
    )
    # Paid at 1.0800: the bank gets 10,800.00 USD, AR is credited 10,800.00 USD.
    assert _lines(payment.journal_entry) == [
        ("1000", "EUR", D("10000.00"), D("0"), D("10800.00"), D("0")),
        ("1100", "EUR", D("0"), D("10000.00"), D("0"), D("10800.00")),
    ]
    assert set(payment.journal_entry.lines.values_list("client_id", flat=True)) == {client_account.pk}
    paid = payment.ar_item
    assert (paid.kind, paid.amount, paid.open_amount, paid.due_date) == (
        "payment",
        D("-10000.00"),
        D("0"),
        date(2026, 4, 15),
    )
    assert (paid.rate, paid.functional_amount) == (D("1.08"), D("-10800.00"))

    allocation = Allocation.objects.get()
    # The invoice's share is 10,000.00 × 1.1000 = 11,000.00, the payment's 10,000.00 × 1.0800 = 10,800.00:
    # 200.00 USD realized loss, Dr realized FX / Cr AR, with no EUR amount.
    assert (allocation.amount, allocation.fx_difference, allocation.date) == (
        D("10000.00"),
        D("200.00"),
        date(2026, 4, 15),
    )
    fx = JournalEntry.objects.get(posting_key=f"allocation:{allocation.pk}")
    assert (fx.date, fx.source_type, fx.source_id) == (
        date(2026, 4, 15),
        "ledger.allocation",
        str(allocation.pk),
    )
    assert _lines(fx) == [
        ("1100", "EUR", D("0"), D("0"), D("0"), D("200.00")),
        ("7000", "EUR", D("0"), D("0"), D("200.00"), D("0")),
    ]
    item.refresh_from_db()
    assert item.open_amount == D("0")
    # The invoice's AR nets to zero in both currencies.
    assert _ar_of(client_account) == {"EUR": (D("0"), D("0"))}

    event = Event.objects.get(type="payment.received")
    assert event.data == {
        "payment": payment.pk,
        "legal_entity": usd_entity.pk,
        "client": client_account.pk,
        "amount": "10000.00",
        "currency": "EUR",
        "date": "2026-04-15",
        "unallocated": "0.00",
    }
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"ar_item.posted", "payment.recorded", "payment.allocated"} <= actions


def test_post_receivable_is_idempotent_by_posting_key(client_account, eur_usd, invoice):
    eur_usd({date(2026, 3, 1): "1.1000"})
    first = invoice("INV-1", "100.00", on=date(2026, 3, 10), client=client_account)
    again = invoice("INV-1", "100.00", on=date(2026, 3, 10), client=client_account)
    assert again.pk == first.pk
    assert (ArItem.objects.count(), JournalEntry.objects.count()) == (1, 1)


def test_credit_note_is_stored_negative_and_settles_an_invoice_with_fx(
    usd_entity, client_account, eur_usd, invoice, finance
):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 3, 20): "1.1500"})
    debit = invoice("INV-1", "1000.00", on=date(2026, 3, 10), client=client_account)
    credit = invoice("CN-1", "250.00", on=date(2026, 3, 25), client=client_account, kind="credit_note")
    # 250.00 EUR × 1.1500 = 287.50 USD: Cr AR, Dr revenue.
    assert (credit.kind, credit.amount, credit.open_amount, credit.functional_amount) == (
        "credit_note",
        D("-250.00"),
        D("-250.00"),
        D("-287.50"),
    )
    assert _lines(credit.journal_entry) == [
        ("1100", "EUR", D("0"), D("250.00"), D("0"), D("287.50")),
        ("4000", "EUR", D("250.00"), D("0"), D("287.50"), D("0")),
    ]
    allocation = allocate(
        actor=finance, credit_item=credit, debit_item=debit, amount=D("250.00"), on=date(2026, 3, 25)
    )
    # Invoice share 250 × 1.10 = 275.00, credit note share 287.50: 12.50 gain, Dr AR / Cr realized FX.
    assert allocation.fx_difference == D("-12.50")
    assert _lines(JournalEntry.objects.get(posting_key=f"allocation:{allocation.pk}")) == [
        ("1100", "EUR", D("0"), D("0"), D("12.50"), D("0")),
        ("7000", "EUR", D("0"), D("0"), D("0"), D("12.50")),
    ]
    debit.refresh_from_db()
    credit.refresh_from_db()
    assert (debit.open_amount, credit.open_amount) == (D("750.00"), D("0"))
    # Left in AR: 1,100.00 − 287.50 + 12.50 = 825.00 = the invoice's open 750.00 × 1.10.
    assert _ar_of(client_account) == {"EUR": (D("750.00"), D("825.00"))}
    assert item_balances([debit])[debit.pk].functional == D("825.00")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"amount": D("0")}, ValidationFailed, "must be positive"),
        ({"amount": D("-5.00")}, ValidationFailed, "must be positive"),
        ({"amount": D("10.001")}, ValidationFailed, "more decimals"),
        ({"currency": "USD"}, ValidationFailed, "every line of a USD document must be in USD"),
        ({"kind": "payment"}, ValidationFailed, "invoice or a credit note"),
        ({"amount": D("99.00")}, ValidationFailed, "differ from the document amount"),
        ({"due_date": date(2026, 3, 1)}, ValidationFailed, "due date"),
        ({"posting_key": "taken"}, Conflict, "belongs to another journal entry"),
    ],
)
def test_post_receivable_refusals_write_nothing(
    usd_entity, client_account, account, eur_usd, change, error, message
):
    eur_usd({date(2026, 3, 1): "1.1000"})
    record = {
        "actor": None,
        "legal_entity": usd_entity,
        "client": client_account,
        "kind": "invoice",
        "document_type": "billing.invoice",
        "document_id": "1",
        "number": "INV-1",
        "date": date(2026, 3, 10),
        "due_date": date(2026, 4, 9),
        "currency": "EUR",
        "amount": D("100.00"),
        "lines": [LineSpec(account=account("4000"), currency="EUR", credit=D("100.00"))],
        "memo": "Invoice INV-1",
        "posting_key": "invoice:1",
    }
    from ledger.services.posting import post_entry

    post_entry(
        actor=None,
        legal_entity=usd_entity,
        date=date(2026, 3, 2),
        memo="Other",
        source_type="test",
        source_id="1",
        posting_key="taken",
        lines=[
            LineSpec(account=account("1000"), currency="USD", debit=D("1.00")),
            LineSpec(account=account("3000"), currency="USD", credit=D("1.00")),
        ],
    )
    before = _snapshot()
    with pytest.raises(error, match=message):
        post_receivable(**{**record, **change})
    assert _snapshot() == before


def test_post_receivable_refuses_a_client_of_another_entity(usd_entity, eur_entity, account, eur_usd):
    eur_usd({date(2026, 3, 1): "1.1000"})
    foreign = Account.objects.create(name="Initech GmbH", legal_entity=eur_entity, currency="EUR")
    with pytest.raises(ValidationFailed, match="client of another legal entity"):
        post_receivable(
            actor=None,
            legal_entity=usd_entity,
            client=foreign,
            kind="invoice",
            document_type="billing.invoice",
            document_id="1",
            number="INV-1",
            date=date(2026, 3, 10),
            due_date=date(2026, 4, 9),
            currency="EUR",
            amount=D("100.00"),
            lines=[LineSpec(account=account("4000"), currency="EUR", credit=D("100.00"))],
            memo="Invoice",
            posting_key="invoice:1",
        )
    assert not JournalEntry.objects.exists()
    assert not ArItem.objects.exists()


def test_partial_payments_oldest_due_first_with_overpayment_unallocated(
    usd_entity, client_account, eur_usd, invoice, finance
):
    eur_usd({date(2026, 1, 1): "1.1000"})
    kwargs = {"currency": "USD", "client": client_account}
    invoice("INV-1", "1000.00", on=date(2026, 1, 1), due=date(2026, 1, 31), **kwargs)
    invoice("INV-3", "400.00", on=date(2026, 3, 1), due=date(2026, 3, 31), **kwargs)
    invoice("INV-2", "2500.00", on=date(2026, 1, 29), due=date(2026, 2, 28), **kwargs)
    # Neither a EUR invoice of the same client nor another client's invoice takes USD money.
    invoice("INV-4", "50.00", on=date(2026, 1, 2), due=date(2026, 1, 2), client=client_account)
    other_client = Account.objects.create(name="Initech", legal_entity=usd_entity, currency="USD")
    invoice("INV-5", "70.00", on=date(2026, 1, 2), due=date(2026, 1, 2), currency="USD", client=other_client)

    # 1,800.00 → INV-1 (due Jan 31) 1,000.00 in full, INV-2 (due Feb 28) 800.00 of 2,500.00.
    one = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 5),
        amount=D("1800.00"),
        currency="USD",
    )
    assert list(
        Allocation.objects.order_by("id").values_list("debit_item__number", "amount", "fx_difference")
    ) == [
        ("INV-1", D("1000.00"), D("0")),
        ("INV-2", D("800.00"), D("0")),
    ]
    # 2,500.00 → INV-2's remaining 1,700.00, INV-3 400.00, and 400.00 stays unallocated on the payment.
    two = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 20),
        amount=D("2500.00"),
        currency="USD",
    )
    assert list(
        Allocation.objects.filter(credit_item=two.ar_item)
        .order_by("id")
        .values_list("debit_item__number", "amount", "fx_difference")
    ) == [("INV-2", D("1700.00"), D("0")), ("INV-3", D("400.00"), D("0"))]
    opens = {item.number: item.open_amount for item in ArItem.objects.filter(kind="invoice")}
    assert opens == {
        "INV-1": D("0"),
        "INV-2": D("0"),
        "INV-3": D("0"),
        "INV-4": D("50.00"),
        "INV-5": D("70.00"),
    }
    one.refresh_from_db()
    two.ar_item.refresh_from_db()
    assert (one.unallocated_amount, two.unallocated_amount) == (D("0"), D("400.00"))
    # USD functional: no FX entries; AR of the client in USD = −400.00 (the unallocated credit).
    assert not JournalEntry.objects.filter(source_type="ledger.allocation").exists()
    assert _ar_of(client_account)["USD"] == (D("-400.00"), D("-400.00"))

    # Later, a new invoice takes the unallocated 400.00 when finance applies it.
    fourth = invoice("INV-6", "600.00", on=date(2026, 3, 25), due=date(2026, 4, 24), **kwargs)
    made = allocate_payment(actor=finance, payment=two, on=date(2026, 3, 26))
    assert [(row.debit_item_id, row.amount) for row in made] == [(fourth.pk, D("400.00"))]
    fourth.refresh_from_db()
    assert fourth.open_amount == D("200.00")


def test_explicit_and_empty_allocations(usd_entity, client_account, invoice, finance):
    kwargs = {"currency": "USD", "client": client_account}
    older = invoice("INV-1", "300.00", on=date(2026, 2, 1), due=date(2026, 2, 10), **kwargs)
    newer = invoice("INV-2", "500.00", on=date(2026, 2, 2), due=date(2026, 3, 4), **kwargs)
    payment = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 1),
        amount=D("600.00"),
        currency="USD",
        allocations=[(newer, D("500.00")), (older, D("50.00"))],
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    payment.ar_item.refresh_from_db()
    assert (older.open_amount, newer.open_amount, payment.unallocated_amount) == (
        D("250.00"),
        D("0"),
        D("50.00"),
    )

    parked = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 2),
        amount=D("75.00"),
        currency="USD",
        allocations=[],
    )
    assert parked.ar_item.open_amount == D("-75.00")
    assert not Allocation.objects.filter(credit_item=parked.ar_item).exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": D("0")}, "must be positive"),
        ({"currency": "XXY"}, "Unknown currency"),
        ({"bank_account": "1100"}, "not a bank account"),
        ({"bank_account": "4000"}, "not a bank account"),
        ({"allocations": "too much"}, "more than the 300.00 USD still open"),
        ({"allocations": "other currency"}, "allocate in one currency"),
    ],
)
def test_record_payment_refusals_change_nothing(
    usd_entity, client_account, account, eur_usd, invoice, finance, change, message
):
    eur_usd({date(2026, 1, 1): "1.1000"})
    usd = invoice("INV-1", "300.00", on=date(2026, 2, 1), currency="USD", client=client_account)
    eur = invoice("INV-2", "300.00", on=date(2026, 2, 1), client=client_account)
    change = dict(change)
    if "bank_account" in change:
        change["bank_account"] = account(change["bank_account"])
    if change.get("allocations") == "too much":
        change["allocations"] = [(usd, D("300.01"))]
    if change.get("allocations") == "other currency":
        change["allocations"] = [(eur, D("10.00"))]
    record = {
        "actor": finance,
        "legal_entity": usd_entity,
        "client": client_account,
        "date": date(2026, 3, 1),
        "amount": D("500.00"),
        "currency": "USD",
    }
    before = _snapshot()
    with pytest.raises(ValidationFailed, match=message):
        record_payment(**{**record, **change})
    assert _snapshot() == before


def test_record_payment_needs_finance(usd_entity, client_account, make_user):
    with pytest.raises(PermissionDenied):
        record_payment(
            actor=make_user("consultant"),
            legal_entity=usd_entity,
            client=client_account,
            date=date(2026, 3, 1),
            amount=D("1.00"),
            currency="USD",
        )
    assert not Payment.objects.exists()


def test_several_partial_payments_close_the_invoice_to_the_cent(
    usd_entity, client_account, eur_usd, invoice, finance
):
    # 10.00 EUR × 1.0050 = 10.05 USD. Paid in thirds at 1.0000:
    #   3.33: invoice share 3.33 × 1.005 = 3.34665 → 3.35, payment 3.33 → loss 0.02
    #   3.33: again 3.35 vs 3.33 → loss 0.02
    #   3.34: closes the invoice, so its share is what it has left, 10.05 − 3.35 − 3.35 = 3.35
    #         (not 3.34 × 1.005 = 3.36); payment 3.34 → loss 0.01.
    # Losses 0.05 = 10.05 − 10.00, and AR for the invoice is 0.00 USD, where amount × rate alone would
    # leave −0.01.
    eur_usd({date(2026, 3, 1): "1.0050", date(2026, 4, 1): "1.0000"})
    item = invoice("INV-1", "10.00", on=date(2026, 3, 10), client=client_account)
    assert item.functional_amount == D("10.05")
    for day, amount in ((2, "3.33"), (3, "3.33"), (4, "3.34")):
        record_payment(
            actor=finance,
            legal_entity=usd_entity,
            client=client_account,
            date=date(2026, 4, day),
            amount=D(amount),
            currency="EUR",
        )
    assert list(Allocation.objects.order_by("id").values_list("amount", "fx_difference")) == [
        (D("3.33"), D("0.02")),
        (D("3.33"), D("0.02")),
        (D("3.34"), D("0.01")),
    ]
    assert _ar_of(client_account) == {"EUR": (D("0"), D("0"))}
    assert _ar_of(client_account, code="7000") == {"EUR": (D("0"), D("0.05"))}


def test_reversing_an_allocation_restores_open_amounts_and_fx(
    usd_entity, client_account, eur_usd, invoice, finance
):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 4, 1): "1.0800"})
    item = invoice("INV-1", "10000.00", on=date(2026, 3, 10), client=client_account)
    payment = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 4, 15),
        amount=D("10000.00"),
        currency="EUR",
    )
    allocation = Allocation.objects.get()
    fx = JournalEntry.objects.get(posting_key=f"allocation:{allocation.pk}")

    reversal = reverse_allocation(
        actor=finance, allocation=allocation, reason="Wrong client", on=date(2026, 4, 20)
    )
    assert (reversal.amount, reversal.fx_difference, reversal.reversal_of_id, reversal.date) == (
        D("-10000.00"),
        D("-200.00"),
        allocation.pk,
        date(2026, 4, 20),
    )
    mirror = JournalEntry.objects.get(posting_key=f"allocation:{reversal.pk}")
    assert (mirror.reversal_of_id, mirror.date) == (fx.pk, date(2026, 4, 20))
    # The 200.00 loss is taken back: Dr AR / Cr realized FX.
    assert _lines(mirror) == [
        ("1100", "EUR", D("0"), D("0"), D("200.00"), D("0")),
        ("7000", "EUR", D("0"), D("0"), D("0"), D("200.00")),
    ]
    item.refresh_from_db()
    payment.ar_item.refresh_from_db()
    assert (item.open_amount, payment.ar_item.open_amount) == (D("10000.00"), D("-10000.00"))
    # AR: 11,000.00 invoice − 10,800.00 payment = 200.00 USD, both items fully open again.
    assert _ar_of(client_account) == {"EUR": (D("0"), D("200.00"))}
    audit = AuditEvent.objects.get(action="ar.allocation_reversed")
    assert audit.reason == "Wrong client"

    before = _snapshot()
    with pytest.raises(InvalidTransition, match="already reversed"):
        reverse_allocation(actor=finance, allocation=allocation, reason="Again", on=date(2026, 4, 21))
    with pytest.raises(InvalidTransition, match="itself a reversal"):
        reverse_allocation(actor=finance, allocation=reversal, reason="Again", on=date(2026, 4, 21))
    with pytest.raises(ValidationFailed, match="Say why"):
        reverse_allocation(actor=finance, allocation=allocation, reason=" ", on=date(2026, 4, 21))
    assert _snapshot() == before

    # Applied again, the invoice closes and AR nets to zero once more.
    allocate_payment(actor=finance, payment=payment, on=date(2026, 4, 22))
    assert _ar_of(client_account) == {"EUR": (D("0"), D("0"))}


def test_allocate_refusals_change_nothing(usd_entity, client_account, eur_usd, invoice, finance):
    eur_usd({date(2026, 3, 1): "1.1000"})
    debit = invoice("INV-1", "100.00", on=date(2026, 3, 10), client=client_account)
    other = invoice("INV-2", "100.00", on=date(2026, 3, 10), client=client_account)
    payment = record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 12),
        amount=D("150.00"),
        currency="EUR",
        allocations=[],
    )
    credit = payment.ar_item
    before = _snapshot()
    for kwargs, message in [
        (
            {"credit_item": credit, "debit_item": debit, "amount": D("100.01")},
            "more than the 100.00 EUR still open",
        ),
        ({"credit_item": debit, "debit_item": other, "amount": D("1.00")}, "not a payment"),
        ({"credit_item": credit, "debit_item": credit, "amount": D("1.00")}, "is a credit item"),
        ({"credit_item": credit, "debit_item": debit, "amount": D("0")}, "must be positive"),
        (
            {"credit_item": credit, "debit_item": debit, "amount": D("1.00"), "on": date(2026, 3, 11)},
            "before",
        ),
    ]:
        with pytest.raises(ValidationFailed, match=message):
            allocate(actor=finance, **{"on": date(2026, 3, 15), **kwargs})
    assert _snapshot() == before


def test_small_write_off_posts_at_once(usd_entity, client_account, eur_usd, invoice, finance):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 4, 1): "1.0800"})
    item = invoice("INV-1", "1000.00", on=date(2026, 3, 10), client=client_account)
    # 600.00 EUR at 1.08 = 648.00 USD against the invoice's 600 × 1.10 = 660.00: 12.00 loss.
    record_payment(
        actor=finance,
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 4, 2),
        amount=D("600.00"),
        currency="EUR",
    )
    # The residual 400.00 EUR is worth 400 × 1.10 = 440.00 USD ≤ the 500.00 threshold: posted at once.
    request = request_write_off(actor=finance, ar_item=item, reason="Short payment", on=date(2026, 4, 30))
    assert (request.status, request.amount, request.decided_by_id) == ("posted", D("400.00"), finance.pk)
    entry = JournalEntry.objects.get(posting_key=f"write-off:{request.pk}")
    # At the invoice's booking value: the remaining 1,100.00 − 660.00 = 440.00 USD, no FX.
    assert _lines(entry) == [
        ("7100", "EUR", D("400.00"), D("0"), D("440.00"), D("0")),
        ("1100", "EUR", D("0"), D("400.00"), D("0"), D("440.00")),
    ]
    credit = request.credit_item
    assert (credit.kind, credit.amount, credit.open_amount, credit.functional_amount) == (
        "write_off",
        D("-400.00"),
        D("0"),
        D("-440.00"),
    )
    last = Allocation.objects.get(credit_item=credit)
    assert (last.amount, last.fx_difference) == (D("400.00"), D("0"))
    assert not JournalEntry.objects.filter(posting_key=f"allocation:{last.pk}").exists()
    before = _snapshot()
    with pytest.raises(InvalidTransition, match="not reversed"):
        reverse_allocation(actor=finance, allocation=last, reason="Oops", on=date(2026, 5, 1))
    assert _snapshot() == before
    item.refresh_from_db()
    assert item.open_amount == D("0")
    assert _ar_of(client_account) == {"EUR": (D("0"), D("0"))}
    assert Event.objects.filter(type="write_off.posted", subject_id=str(request.pk)).exists()


def test_write_off_at_exactly_the_threshold_posts(usd_entity, client_account, invoice, finance):
    item = invoice("INV-1", "500.00", on=date(2026, 3, 10), currency="USD", client=client_account)
    request = request_write_off(actor=finance, ar_item=item, reason="Uncollectable", on=date(2026, 3, 31))
    assert request.status == "posted"


def test_large_write_off_needs_another_finance_user(usd_entity, client_account, eur_usd, invoice, make_user):
    eur_usd({date(2026, 3, 1): "1.1000"})
    requester, approver, consultant = make_user("finance"), make_user("finance"), make_user("consultant")
    item = invoice("INV-1", "2000.00", on=date(2026, 3, 10), client=client_account)
    # 2,000.00 EUR × 1.10 = 2,200.00 USD > 500.00: waits for approval, posts nothing.
    before = _snapshot()
    request = request_write_off(
        actor=requester, ar_item=item, reason="Client insolvent", on=date(2026, 3, 31)
    )
    assert request.status == "pending"
    assert JournalEntry.objects.count() == before[0]
    item.refresh_from_db()
    assert item.open_amount == D("2000.00")

    with pytest.raises(InvalidTransition, match="already waiting"):
        request_write_off(actor=requester, ar_item=item, reason="Again", on=date(2026, 3, 31))
    before = _snapshot()
    with pytest.raises(PermissionDenied, match="another finance user"):
        approve_write_off(actor=requester, request=request)
    with pytest.raises(PermissionDenied):
        approve_write_off(actor=consultant, request=request)
    assert _snapshot() == before

    approved = approve_write_off(actor=approver, request=request)
    assert (approved.status, approved.decided_by_id) == ("posted", approver.pk)
    assert _lines(JournalEntry.objects.get(posting_key=f"write-off:{request.pk}")) == [
        ("7100", "EUR", D("2000.00"), D("0"), D("2200.00"), D("0")),
        ("1100", "EUR", D("0"), D("2000.00"), D("0"), D("2200.00")),
    ]
    assert _ar_of(client_account) == {"EUR": (D("0"), D("0"))}
    before = _snapshot()
    with pytest.raises(InvalidTransition, match="not pending"):
        approve_write_off(actor=make_user("finance"), request=request)
    assert _snapshot() == before


def test_rejected_write_off_posts_nothing(usd_entity, client_account, invoice, make_user):
    requester, reviewer = make_user("finance"), make_user("finance")
    item = invoice("INV-1", "900.00", on=date(2026, 3, 10), currency="USD", client=client_account)
    before = _snapshot()
    for kwargs, error, message in [
        ({"reason": ""}, ValidationFailed, "Say why"),
        ({"amount": D("900.01")}, ValidationFailed, "more than the 900.00 USD still open"),
        ({"on": date(2026, 3, 1)}, ValidationFailed, "before the invoice"),
    ]:
        with pytest.raises(error, match=message):
            request_write_off(
                **{"actor": requester, "ar_item": item, "reason": "x", "on": date(2026, 3, 31), **kwargs}
            )
    with pytest.raises(PermissionDenied):
        request_write_off(actor=make_user("consultant"), ar_item=item, reason="x", on=date(2026, 3, 31))
    assert _snapshot() == before

    request = request_write_off(
        actor=requester, ar_item=item, reason="Dispute", on=date(2026, 3, 31), amount=D("600.00")
    )
    assert request.status == "pending"
    rejected = reject_write_off(actor=reviewer, request=request, reason="Still collectable")
    assert (rejected.status, rejected.decided_by_id) == ("rejected", reviewer.pk)
    assert AuditEvent.objects.get(action="write_off.rejected").reason == "Still collectable"
    with pytest.raises(InvalidTransition):
        reject_write_off(actor=reviewer, request=request, reason="Again")
    with pytest.raises(InvalidTransition):
        approve_write_off(actor=reviewer, request=request)
    item.refresh_from_db()
    assert item.open_amount == D("900.00")
    assert not JournalEntry.objects.filter(source_type="ledger.write_off_request").exists()


def test_auto_allocation_is_set_based(usd_entity, client_account, eur_usd, invoice, finance):
    # Settling 2 or 6 EUR invoices (each with realized FX) takes the same number of queries.
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 4, 1): "1.0800"})
    user_roles(finance)  # cached on the user: the role lookup is not part of the comparison
    counts = []
    for client_number, invoices in ((1, 2), (2, 6)):
        client = Account.objects.create(
            name=f"Client {client_number}", legal_entity=usd_entity, currency="EUR"
        )
        for n in range(invoices):
            invoice(f"INV-{client_number}-{n}", "100.00", on=date(2026, 3, 10), client=client)
        with CaptureQueriesContext(connection) as queries:
            record_payment(
                actor=finance,
                legal_entity=usd_entity,
                client=client,
                date=date(2026, 4, 2),
                amount=D("100.00") * invoices,
                currency="EUR",
            )
        counts.append(len(queries.captured_queries))
        assert Allocation.objects.filter(debit_item__client=client).count() == invoices
        # Each invoice: 100.00 × 1.10 − 100.00 × 1.08 = 2.00 USD realized loss.
        assert _ar_of(client) == {"EUR": (D("0"), D("0"))}
        assert _ar_of(client, code="7000") == {"EUR": (D("0"), D("2.00") * invoices)}
    assert counts[0] == counts[1]
