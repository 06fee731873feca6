"""Properties of the ledger and the AR subledger that hold after any sequence of business actions.

Hypothesis runs random sequences of postings, invoices, credit notes, payments, allocations, reversals of
allocations, manual entries and their reversals, and write-offs, with the EUR rate moving every day, and
checks the invariants after every step.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import Account
from ledger.choices import AccountRole
from ledger.models import (
    AccountBalance,
    Allocation,
    ArItem,
    ExchangeRate,
    JournalEntry,
    JournalLine,
    WriteOffRequest,
)
from ledger.selectors import accounts_by_role
from ledger.services.ar import (
    allocate,
    approve_write_off,
    item_balances,
    post_receivable,
    record_payment,
    request_write_off,
    reverse_allocation,
)
from ledger.services.entries import post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec

D = Decimal
START = date(2026, 1, 5)
# Weighted towards the AR flow: invoices, payments, allocations and their reversals.
ACTIONS = (
    *("invoice",) * 3,
    *("payment",) * 3,
    *("allocate",) * 2,
    *("reverse_allocation",) * 2,
    "credit_note",
    "manual",
    "reverse_manual",
    "write_off",
    "approve_write_off",
)
RATES = ("1.0850", "1.1000", "0.9137", "1.23456", "1.3333", "1.0050", "1.1973")

step = st.tuples(
    st.sampled_from(ACTIONS),
    st.integers(0, 10**6),  # picks which client / item / allocation / entry the action applies to
    st.integers(1, 400_000),  # an amount in cents
    st.sampled_from(("EUR", "EUR", "EUR", "USD")),
    st.sampled_from(RATES),  # the day's EUR→USD rate
    st.sampled_from((1, 2, 3, 0)),  # days until the next step (and its rate)
)


def _add(totals: tuple, amounts: list) -> tuple:
    return tuple(a + b for a, b in zip(totals, amounts, strict=True))


def _check_invariants(entity, clients):
    """The ledger balances and the AR control account equals the AR subledger, to the cent.

    Ledger: Σ functional debits = Σ functional credits over all lines and within every entry; each entry
    balances per transaction currency; AccountBalance sums equal the journal lines per account and currency.

    AR: by construction each item's AR line books its functional amount F; an allocation takes a share off
    each side (amount × the item's booking rate, or all the item has left when it closes the item) and posts
    the difference ds − cs (= Allocation.fx_difference, + is a loss) as Cr AR / Dr realized FX; a reversal
    mirrors both. So, per client, with all AR lines carrying the client:
        AR functional balance = Σ F − Σ fx_difference                       (independent of the replay)
                              = Σ per-item remaining functional value        (item_balances' replay)
    and in transaction currency AR per client and currency = Σ open_amount. A closed item's remaining value
    is exactly 0 and a fully open item's exactly F, however many allocations came and were reversed.

    The sums are done here in Python over plain rows (exact Decimals), independently of the SQL the code uses.
    """
    zero = (D(0),) * 4
    per_entry: dict = defaultdict(lambda: D(0))
    per_entry_currency: dict = defaultdict(lambda: D(0))
    per_account: dict = defaultdict(lambda: zero)
    ar_per_client: dict = defaultdict(lambda: (D(0), D(0)))
    ar = accounts_by_role(entity)[AccountRole.AR]
    for entry, account, currency, client, *amounts in JournalLine.objects.values_list(
        "entry", "account", "currency", "client", "debit", "credit", "functional_debit", "functional_credit"
    ):
        debit, credit, functional_debit, functional_credit = amounts
        per_entry[entry] += functional_debit - functional_credit
        per_entry_currency[(entry, currency)] += debit - credit
        per_account[(account, currency)] = _add(per_account[(account, currency)], amounts)
        if account == ar.pk:
            assert client is not None
            net, functional = ar_per_client[(client, currency)]
            ar_per_client[(client, currency)] = (
                net + debit - credit,
                functional + functional_debit - functional_credit,
            )
    assert sum(per_entry.values(), D(0)) == 0
    assert {entry: v for entry, v in per_entry.items() if v} == {}
    assert {key: v for key, v in per_entry_currency.items() if v} == {}
    balances_per_account: dict = defaultdict(lambda: zero)
    for account, currency, *amounts in AccountBalance.objects.values_list(
        "account", "currency", "debit", "credit", "functional_debit", "functional_credit"
    ):
        key = (account, currency)
        balances_per_account[key] = _add(balances_per_account[key], amounts)
    assert balances_per_account == per_account

    items = list(ArItem.objects.filter(legal_entity=entity))
    balances = item_balances(items)
    fx = defaultdict(lambda: D(0))
    for client, difference in Allocation.objects.values_list("debit_item__client", "fx_difference"):
        fx[client] += difference
    for client in clients:
        mine = [item for item in items if item.client_id == client.pk]
        functional = sum((f for (c, _), (_, f) in ar_per_client.items() if c == client.pk), D(0))
        assert functional == sum((i.functional_amount for i in mine), D(0)) - fx[client.pk]
        assert functional == sum((balances[i.pk].functional for i in mine), D(0))
        for currency in ("EUR", "USD"):
            net = ar_per_client.get((client.pk, currency), (D(0), D(0)))[0]
            assert net == sum((i.open_amount for i in mine if i.currency == currency), D(0))
        for item in mine:
            assert balances[item.pk].open_amount == item.open_amount
            if item.open_amount == 0:
                assert balances[item.pk].functional == 0
            elif item.open_amount == item.amount:
                assert balances[item.pk].functional == item.functional_amount


@pytest.fixture
def world(usd_entity, client_account, make_user):
    initech = Account.objects.create(name="Initech", legal_entity=usd_entity, currency="USD")
    return {
        "entity": usd_entity,
        "clients": [client_account, initech],
        "finance": make_user("finance"),
        "approver": make_user("finance"),
        "accounts": accounts_by_role(usd_entity),
    }


# What a step does instead when it finds nothing to act on, so that no step is wasted.
FALLBACK = {
    "reverse_allocation": "allocate",
    "allocate": "payment",
    "approve_write_off": "write_off",
    "write_off": "invoice",
    "reverse_manual": "manual",
}


def _run(world, action, pick, cents, currency, day):
    """Perform one business action; returns False when there is nothing to act on."""
    entity, finance, accounts = world["entity"], world["finance"], world["accounts"]
    # Mostly one client, so that payments and credits meet invoices often.
    client = world["clients"][1 if pick % 5 == 4 else 0]
    amount = D(cents) / 100
    if action in ("invoice", "credit_note"):
        number = f"{action}-{ArItem.objects.count() + 1}"
        side = {"credit": amount} if action == "invoice" else {"debit": amount}
        post_receivable(
            actor=None,
            legal_entity=entity,
            client=client,
            kind=action,
            document_type="billing.document",
            document_id=number,
            number=number,
            date=day,
            due_date=day + timedelta(days=pick % 45),
            currency=currency,
            amount=amount,
            lines=[LineSpec(account=accounts[AccountRole.REVENUE_TM], currency=currency, **side)],
            memo=number,
            posting_key=number,
        )
    elif action == "payment":
        # Pay an open invoice's client in its currency: automatically, explicitly, or not at all.
        invoices = list(ArItem.objects.filter(amount__gt=0, open_amount__gt=0).order_by("id"))
        allocations = None
        if invoices:
            target = invoices[pick % len(invoices)]
            client, currency = target.client, target.currency
            mode = pick % 3
            allocations = (
                [] if mode == 1 else [(target, min(amount, target.open_amount))] if mode == 2 else None
            )
        record_payment(
            actor=finance,
            legal_entity=entity,
            client=client,
            date=day,
            amount=amount,
            currency=currency,
            allocations=allocations,
        )
    elif action == "allocate":
        open_items = list(ArItem.objects.exclude(open_amount=0).order_by("id"))
        pairs = [
            (credit, debit)
            for credit in open_items
            for debit in open_items
            if credit.open_amount < 0 < debit.open_amount
            and (credit.client_id, credit.currency) == (debit.client_id, debit.currency)
        ]
        if not pairs:
            return False
        credit, debit = pairs[pick % len(pairs)]
        most = min(-credit.open_amount, debit.open_amount)
        allocate(actor=finance, credit_item=credit, debit_item=debit, amount=min(amount, most), on=day)
    elif action == "reverse_allocation":
        candidates = list(
            Allocation.objects.filter(reversal_of__isnull=True, reversed_by__isnull=True)
            .exclude(credit_item__kind="write_off")
            .order_by("id")
        )
        if not candidates:
            return False
        reverse_allocation(
            actor=finance, allocation=candidates[pick % len(candidates)], reason="Test", on=day
        )
    elif action == "manual":
        post_manual_entry(
            actor=finance,
            legal_entity=entity,
            date=day,
            memo="Office rent",
            lines=[
                LineSpec(account=accounts[AccountRole.COST_OF_SERVICES], currency=currency, debit=amount),
                LineSpec(account=accounts[AccountRole.CASH], currency=currency, credit=amount),
            ],
        )
    elif action == "reverse_manual":
        candidates = list(
            JournalEntry.objects.filter(
                source_type="ledger.manual", reversal_of__isnull=True, reversed_by__isnull=True
            ).order_by("id")
        )
        if not candidates:
            return False
        reverse_entry(actor=finance, entry=candidates[pick % len(candidates)], on=day)
    elif action == "write_off":
        candidates = list(
            ArItem.objects.filter(amount__gt=0, open_amount__gt=0)
            .exclude(write_off_requests__status=WriteOffRequest.Status.PENDING)
            .order_by("id")
        )
        if not candidates:
            return False
        item = candidates[pick % len(candidates)]
        request_write_off(
            actor=finance, ar_item=item, reason="Test", on=day, amount=min(amount, item.open_amount)
        )
    elif action == "approve_write_off":
        pending = [
            request
            for request in WriteOffRequest.objects.filter(
                status=WriteOffRequest.Status.PENDING
            ).select_related("ar_item")
            if request.amount <= request.ar_item.open_amount
        ]
        if not pending:
            return False
        approve_write_off(actor=world["approver"], request=pending[pick % len(pending)])
    return True


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=4, max_size=10))
def test_ledger_and_ar_subledger_stay_in_balance(world, steps):
    # Each example runs in a savepoint that is rolled back, so examples do not see each other's rows.
    with transaction.atomic():
        days, day = [], START
        for *_, gap in steps:
            days.append(day)
            day += timedelta(days=gap)
        # The day's EUR rate is the one drawn with the day's first step.
        rates = {}
        for day, (*_, rate, _gap) in zip(days, steps, strict=True):
            rates.setdefault(day, D(rate))
        ExchangeRate.objects.bulk_create(
            ExchangeRate(from_currency="EUR", to_currency="USD", date=day, rate=rate)
            for day, rate in rates.items()
        )
        for day, (action, pick, cents, currency, _rate, _gap) in zip(days, steps, strict=True):
            while not _run(world, action, pick, cents, currency, day):
                action = FALLBACK[action]
            if connection.vendor == "postgresql":
                # Fire PostgreSQL's deferred balance triggers now, then defer again for the next step.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            _check_invariants(world["entity"], world["clients"])
        transaction.set_rollback(True)
