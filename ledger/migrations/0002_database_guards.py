"""PostgreSQL guards of the ledger: balanced at commit, immutable once posted, no posting into closed periods."""

from django.db import migrations

from core.db import append_only_trigger_sql, postgres_only_sql

ENTRY_TXID = (
    # The top-level transaction that posted the entry; lines may only be added by that transaction.
    "ALTER TABLE ledger_journalentry ADD COLUMN created_txid bigint NOT NULL DEFAULT txid_current();",
    "ALTER TABLE ledger_journalentry DROP COLUMN created_txid;",
)

OPEN_PERIOD = (
    """
    CREATE FUNCTION ledger_entry_period_open() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        period_status text;
    BEGIN
        -- FOR SHARE: a concurrent close waits for this posting to commit, and vice versa.
        SELECT status INTO period_status FROM ledger_fiscalperiod
         WHERE id = NEW.period_id AND legal_entity_id = NEW.legal_entity_id
           AND NEW.date BETWEEN start AND "end"
           FOR SHARE;
        IF period_status IS NULL THEN
            RAISE EXCEPTION 'period_missing: no fiscal period of legal entity % covers %', NEW.legal_entity_id, NEW.date
                USING ERRCODE = 'check_violation';
        ELSIF period_status <> 'open' THEN
            RAISE EXCEPTION 'period_closed: the period covering % is closed', NEW.date
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER ledger_entry_period_open BEFORE INSERT ON ledger_journalentry
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_period_open();
    """,
    """
    DROP TRIGGER IF EXISTS ledger_entry_period_open ON ledger_journalentry;
    DROP FUNCTION IF EXISTS ledger_entry_period_open();
    """,
)

BALANCED_AT_COMMIT = (
    """
    CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        line_count integer;
        functional_difference numeric;
        unbalanced_currency text;
    BEGIN
        SELECT count(*), coalesce(sum(functional_debit) - sum(functional_credit), 0)
          INTO line_count, functional_difference
          FROM ledger_journalline WHERE entry_id = NEW.id;
        IF line_count < 2 THEN
            RAISE EXCEPTION 'unbalanced_entry: journal entry % has % line(s); at least 2 are required', NEW.id, line_count
                USING ERRCODE = 'check_violation';
        END IF;
        IF functional_difference <> 0 THEN
            RAISE EXCEPTION 'unbalanced_entry: journal entry % functional debits and credits differ by %',
                NEW.id, functional_difference USING ERRCODE = 'check_violation';
        END IF;
        SELECT currency INTO unbalanced_currency FROM ledger_journalline WHERE entry_id = NEW.id
         GROUP BY currency HAVING sum(debit) <> sum(credit) LIMIT 1;
        IF unbalanced_currency IS NOT NULL THEN
            RAISE EXCEPTION 'unbalanced_entry: journal entry % does not balance in %', NEW.id, unbalanced_currency
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
    """,
    """
    DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_journalentry;
    DROP FUNCTION IF EXISTS ledger_entry_balanced();
    """,
)

LINES_BELONG_TO_NEW_ENTRY = (
    """
    CREATE FUNCTION ledger_lines_join_new_entries() RETURNS trigger LANGUAGE plpgsql
    -- The transition table has no statistics: keep the planner on primary-key lookups of the entries
    -- instead of hashing the whole (large) entry table for every statement.
    SET enable_hashjoin = off SET enable_mergejoin = off
    AS $$
    DECLARE
        offending bigint;
    BEGIN
        -- Checked once per statement over the inserted rows, not once per line.
        SELECT n.entry_id INTO offending
          FROM new_lines n JOIN ledger_journalentry e ON e.id = n.entry_id
         WHERE e.created_txid <> txid_current()
            OR n.legal_entity_id <> e.legal_entity_id
            OR n.date <> e.date
         LIMIT 1;
        IF offending IS NOT NULL THEN
            RAISE EXCEPTION 'posted_entry_immutable: lines cannot be added to posted journal entry %, or differ from its entity/date', offending
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER ledger_lines_join_new_entries AFTER INSERT ON ledger_journalline
        REFERENCING NEW TABLE AS new_lines
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_lines_join_new_entries();
    """,
    """
    DROP TRIGGER IF EXISTS ledger_lines_join_new_entries ON ledger_journalline;
    DROP FUNCTION IF EXISTS ledger_lines_join_new_entries();
    """,
)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial"), ("core", "0002_audit_append_only")]

    operations = [
        postgres_only_sql(*ENTRY_TXID),
        postgres_only_sql(*append_only_trigger_sql("ledger_journalentry")),
        postgres_only_sql(*append_only_trigger_sql("ledger_journalline")),
        postgres_only_sql(*append_only_trigger_sql("ledger_allocation")),
        postgres_only_sql(*OPEN_PERIOD),
        postgres_only_sql(*BALANCED_AT_COMMIT),
        postgres_only_sql(*LINES_BELONG_TO_NEW_ENTRY),
    ]
