"""PostgreSQL itself refuses to unbalance, edit or back-date the ledger, whatever the code does."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from ledger.models import FiscalPeriod, JournalLine
from ledger.services.posting import LineSpec, post_entry

pytestmark = pytest.mark.postgres
D = Decimal


@pytest.fixture
def entry(usd_entity, account):
    return post_entry(
        actor=None,
        legal_entity=usd_entity,
        date=date(2026, 3, 10),
        memo="Invoice",
        source_type="test.doc",
        source_id="1",
        posting_key="guard",
        lines=[
            LineSpec(account=account("1100"), currency="USD", debit=D("100.00")),
            LineSpec(account=account("4000"), currency="USD", credit=D("100.00")),
        ],
    )


def _refused(sql, params, match):
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_update_of_a_posted_line_is_refused(entry):
    line = entry.lines.first()
    _refused(
        "UPDATE ledger_journalline SET debit = 1, functional_debit = 1 WHERE id = %s",
        [line.pk],
        "append-only",
    )
    assert JournalLine.objects.get(pk=line.pk).debit == D("100.00")


def test_orm_update_of_a_posted_line_is_refused(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).update(memo="edited")


def test_delete_of_posted_lines_and_entries_is_refused(entry):
    _refused("DELETE FROM ledger_journalline WHERE entry_id = %s", [entry.pk], "append-only")
    _refused("DELETE FROM ledger_journalentry WHERE id = %s", [entry.pk], "append-only")
    _refused("UPDATE ledger_journalentry SET memo = 'x' WHERE id = %s", [entry.pk], "append-only")
    assert entry.lines.count() == 2


def _insert_entry(cursor, entity, period, key, on=date(2026, 3, 12)):
    cursor.execute(
        """INSERT INTO ledger_journalentry (legal_entity_id, fiscal_year, number, date, period_id, memo,
               source_type, source_id, posting_key, posted_at)
           VALUES (%s, 2026, 999, %s, %s, 'raw', 'raw', '1', %s, now()) RETURNING id""",
        [entity.pk, on, period.pk, key],
    )
    return cursor.fetchone()[0]


def _insert_line(cursor, entity, entry_id, account, debit, credit, on=date(2026, 3, 12)):
    cursor.execute(
        """INSERT INTO ledger_journalline (entry_id, legal_entity_id, date, account_id, currency,
               debit, credit, rate, functional_debit, functional_credit, memo)
           VALUES (%s, %s, %s, %s, 'USD', %s, %s, 1, %s, %s, '')""",
        [entry_id, entity.pk, on, account.pk, debit, credit, debit, credit],
    )


def test_unbalanced_entry_is_refused_at_commit(usd_entity, account):
    period = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    with (
        pytest.raises(DatabaseError, match="unbalanced_entry"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        entry_id = _insert_entry(c, usd_entity, period, "raw-1")
        _insert_line(c, usd_entity, entry_id, account("1100"), 100, 0)
        _insert_line(c, usd_entity, entry_id, account("4000"), 0, 90)
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_single_line_entry_is_refused_at_commit(usd_entity, account):
    period = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    with pytest.raises(DatabaseError, match="at least 2"), transaction.atomic(), connection.cursor() as c:
        entry_id = _insert_entry(c, usd_entity, period, "raw-2")
        _insert_line(c, usd_entity, entry_id, account("1100"), 100, 0)
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_line_with_debit_and_credit_is_refused(usd_entity, account, entry):
    refused = pytest.raises(DatabaseError, match="journal_line_one_side|posted_entry")
    with refused, transaction.atomic(), connection.cursor() as c:
        _insert_line(c, usd_entity, entry.pk, account("1100"), 5, 5, on=entry.date)


def test_adding_lines_to_an_entry_posted_earlier_is_refused(usd_entity, account, entry):
    # The fixture's entry was created in this test's transaction; pretend it came from an older one.
    with connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")
        c.execute("ALTER TABLE ledger_journalentry DISABLE TRIGGER ledger_journalentry_append_only")
        c.execute("UPDATE ledger_journalentry SET created_txid = 1 WHERE id = %s", [entry.pk])
        c.execute("ALTER TABLE ledger_journalentry ENABLE TRIGGER ledger_journalentry_append_only")
    with (
        pytest.raises(DatabaseError, match="posted_entry_immutable"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        _insert_line(c, usd_entity, entry.pk, account("1100"), 10, 0, on=entry.date)
        _insert_line(c, usd_entity, entry.pk, account("4000"), 0, 10, on=entry.date)


def test_entry_into_a_closed_period_is_refused_by_the_database(usd_entity, account):
    period = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    FiscalPeriod.objects.filter(pk=period.pk).update(status="closed")
    with pytest.raises(DatabaseError, match="period_closed"), transaction.atomic(), connection.cursor() as c:
        _insert_entry(c, usd_entity, period, "raw-3")


def test_entry_dated_outside_its_period_is_refused(usd_entity):
    period = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    with pytest.raises(DatabaseError, match="period_missing"), transaction.atomic(), connection.cursor() as c:
        _insert_entry(c, usd_entity, period, "raw-4", on=date(2026, 4, 2))
