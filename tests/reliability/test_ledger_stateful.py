"""Ledger invariants under random operation (issue 11, item 5): a hypothesis state machine
(`ledger_machine.LedgerMachine`) runs postings, reversals, invoices, credit notes, voids, payments,
allocations, write-offs, rate moves, revaluations, revenue runs, closes and reopens through the services,
and after every step every check of `core.invariants` holds and every closed month's lines are as they
were at its close.

CI runs LEDGER_STATEFUL_STEPS (default 2,000) steps, deterministically; `make soak` runs 200,000. The test
counts the steps the machine really ran and fails if fewer ran than asked.
"""

import os
import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from core.invariants import check_invariants, closed_period_digests
from core.roles import Role as UserRole
from crm.models import Account
from ledger.choices import AccountRole
from ledger.models import JournalLine
from ledger.selectors import accounts_by_role
from ledger.services.ar import record_payment
from ledger.services.close import close_period
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from ledger.services.setup import set_exchange_rate
from tests.billing.conftest import tm_line
from tests.reliability.ledger_machine import Firm, LedgerMachine

D = Decimal
STEPS = int(os.environ.get("LEDGER_STATEFUL_STEPS", "2000"))
# Steps per example: long enough to close several months and reopen one, short enough that the books of
# one example (re-checked in full after every step) stay small.
STEPS_PER_EXAMPLE = 100


@pytest.fixture
def firm(entity, finance, make_user, roles, people, make_contract, client_account):
    eur_client = Account.objects.create(
        name="Initech GmbH",
        legal_entity=entity,
        currency="EUR",
        tax_code="VAT20",
        billing_email="ap@initech.example",
        payment_terms_days=14,
    )
    _, usd_project = make_contract([tm_line(roles.senior, "150.00")], code="SM-USD")
    _, eur_project = make_contract([tm_line(roles.analyst, "120.00")], account=eur_client, code="SM-EUR")
    make_contract(
        [
            {
                "description": "Managed service",
                "billing_model": "fixed_fee",
                "amount": D("9000.00"),
                "revenue_method": "ratable",
                "start": date(2026, 1, 16),
                "end": date(2026, 4, 15),
            }
        ],
        code="SM-FIX",
    )
    set_exchange_rate(
        actor=finance, from_currency="EUR", to_currency="USD", on=date(2026, 1, 1), rate=D("1.08")
    )
    return Firm(
        entity=entity,
        finance=finance,
        approver=make_user(UserRole.FINANCE, username="frank"),
        clients={"USD": client_account, "EUR": eur_client},
        projects={"USD": (people.sam, usd_project, "150.00"), "EUR": (people.ana, eur_project, "120.00")},
        accounts=accounts_by_role(entity),
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_ledger_invariants_hold_after_every_step_of_random_operation(firm):
    tally, seconds = Counter(), Counter()
    LedgerMachine.firm, LedgerMachine.tally, LedgerMachine.seconds = firm, tally, seconds
    started = time.monotonic()
    rounds = 0
    # Hypothesis ends some examples early (stopping is one of the branches it explores), so examples run
    # in rounds until the steps are done; round n is seeded with n, so the whole run is deterministic.
    while tally["steps"] < STEPS and rounds < 10:
        run_state_machine_as_test(
            seed(rounds)(LedgerMachine),
            settings=settings(
                max_examples=-(-(STEPS - tally["steps"]) // STEPS_PER_EXAMPLE),
                stateful_step_count=STEPS_PER_EXAMPLE,
                database=None,
                deadline=None,
                phases=(Phase.generate,),
                suppress_health_check=list(HealthCheck),
            ),
        )
        rounds += 1
    elapsed = time.monotonic() - started
    print(f"\n{tally['steps']} steps, {rounds} rounds, {elapsed:.1f} s ({tally['steps'] / elapsed:.1f}/s):")
    for name, count in sorted(tally.items()):
        print(f"  {name}: {count}")
    for name, spent in seconds.most_common():
        print(f"  {name}: {spent:.1f} s")
    assert tally["steps"] >= STEPS
    # The machine did what it is for: the books moved every way, months closed and reopened, closed
    # months refused writes.
    for action in (
        "manual entry",
        "reversal",
        "invoices released",
        "credit note release",
        "void",
        "payment",
        "allocation",
        "allocation reversal",
        "write-off",
        "write-off approval",
        "revaluation",
        "revenue run",
        "close",
        "reopen",
        "closed month refusal",
    ):
        assert tally[action] > 0, f"no successful {action} in {tally['steps']} steps"


def _behind_the_guards(sql: str, params=()) -> None:
    """Run `sql` with the database's triggers off for this session, as only a superuser could."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_checks_catch_a_journal_line_changed_behind_the_guards(entity, finance):
    """The oracle of the stateful test can fail: the database refuses to change a posted line, and a line
    changed with its triggers off breaks the balance, trial balance, account balance and closed-month
    checks."""
    accounts = accounts_by_role(entity)
    entry = post_manual_entry(
        actor=finance,
        legal_entity=entity,
        date=date(2026, 1, 20),
        memo="Office move",
        lines=[
            LineSpec(account=accounts[AccountRole.COST_OF_SERVICES], currency="USD", debit=D("1250.00")),
            LineSpec(account=accounts[AccountRole.CASH], currency="USD", credit=D("1250.00")),
        ],
    )
    january = close_period(actor=finance, period=entry.period, reason="Month end")
    # What commit checks (the entry's deferred balance check) happens now; the tampering comes "later".
    connection.check_constraints()
    digest = closed_period_digests()[january.pk]
    assert [result.name for result in check_invariants() if not result.ok] == []
    line = entry.lines.get(debit=D("1250.00"))

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE ledger_journalline SET debit = debit + 0.01 WHERE id = %s", [line.pk])
    assert JournalLine.objects.get(pk=line.pk).debit == D("1250.00")
    assert closed_period_digests()[january.pk] == digest

    _behind_the_guards(
        "UPDATE ledger_journalline SET debit = debit + 0.01, functional_debit = functional_debit + 0.01 "
        "WHERE id = %s",
        [line.pk],
    )
    assert {result.name: result.violations for result in check_invariants() if not result.ok} == {
        "entries_balance": 1,
        "entries_balance_functional": 1,
        "trial_balance_zero": 1,
        "account_balances_equal_lines": 1,
    }
    assert closed_period_digests()[january.pk] != digest


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_checks_catch_a_write_into_a_closed_month_and_an_ar_item_out_of_step(
    entity, finance, client_account
):
    payment = record_payment(
        actor=finance,
        legal_entity=entity,
        client=client_account,
        date=date(2026, 1, 20),
        amount=D("400.00"),
        currency="USD",
        allocations=[],
    )
    january = close_period(actor=finance, period=payment.journal_entry.period, reason="Month end")
    assert [result.name for result in check_invariants() if not result.ok] == []

    # As if the payment had been written after the close: the month's close time moved before it.
    _behind_the_guards(
        "UPDATE ledger_fiscalperiod SET closed_at = closed_at - interval '1 hour' WHERE id = %s", [january.pk]
    )
    # The payment's AR item shows 0.01 less open than it and its (no) allocations say.
    _behind_the_guards(
        "UPDATE ledger_aritem SET open_amount = open_amount + 0.01 WHERE id = %s", [payment.ar_item_id]
    )
    assert {result.name: result.violations for result in check_invariants() if not result.ok} == {
        # The payment's entry and its AR item, both dated in January.
        "closed_periods_unchanged": 2,
        "ar_subledger_equals_control": 1,
        "ar_items_open_equal_allocations": 1,
    }
