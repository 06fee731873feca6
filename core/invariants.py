"""The books' invariants, checked straight from the database with set-based queries.

Used by `manage.py check_invariants` (after a restore, after a soak, on demand) and by the reliability
tests. Each check counts violations: zero means it holds. `fingerprint()` summarises the books (row counts
and totals) so two databases, e.g. a source and its restored copy, can be compared.
"""

from dataclasses import dataclass

from django.db import connection

CHECKS = {
    "entries_balance": (
        "Every journal entry balances per currency, in transaction and functional amounts.",
        """SELECT count(*) FROM (
             SELECT entry_id, currency FROM ledger_journalline GROUP BY 1, 2
             HAVING sum(debit) <> sum(credit)) x""",
    ),
    "entries_balance_functional": (
        "Every journal entry balances in functional currency.",
        """SELECT count(*) FROM (
             SELECT entry_id FROM ledger_journalline GROUP BY 1
             HAVING sum(functional_debit) <> sum(functional_credit)) x""",
    ),
    "entries_have_two_lines": (
        "Every journal entry has at least two lines.",
        """SELECT count(*) FROM ledger_journalentry e
            WHERE (SELECT count(*) FROM ledger_journalline l WHERE l.entry_id = e.id) < 2""",
    ),
    "trial_balance_zero": (
        "Each legal entity's trial balance is 0.00 (functional debits = credits).",
        """SELECT count(*) FROM (
             SELECT legal_entity_id FROM ledger_journalline GROUP BY 1
             HAVING sum(functional_debit) <> sum(functional_credit)) x""",
    ),
    "account_balances_equal_lines": (
        "Each account's stored balance equals the sum of its lines.",
        """SELECT count(*) FROM (
             SELECT account_id, sum(functional_debit) d, sum(functional_credit) c
               FROM ledger_journalline GROUP BY 1) l
           FULL JOIN (
             SELECT account_id, sum(functional_debit) d, sum(functional_credit) c
               FROM ledger_accountbalance GROUP BY 1) b USING (account_id)
          WHERE coalesce(l.d, 0) <> coalesce(b.d, 0) OR coalesce(l.c, 0) <> coalesce(b.c, 0)""",
    ),
    "ar_subledger_equals_control": (
        "Per legal entity and currency, the AR items' open amounts equal the AR control account.",
        """SELECT count(*) FROM (
             SELECT legal_entity_id, currency, sum(open_amount) AS amount FROM ledger_aritem GROUP BY 1, 2) s
           FULL JOIN (
             SELECT l.legal_entity_id, l.currency, sum(l.debit - l.credit) AS amount
               FROM ledger_journalline l JOIN ledger_glaccount a ON a.id = l.account_id
              WHERE a.role = 'ar' GROUP BY 1, 2) g USING (legal_entity_id, currency)
          WHERE coalesce(s.amount, 0) <> coalesce(g.amount, 0)""",
    ),
    "ar_items_posted": (
        "Every AR item's journal entry exists.",
        """SELECT count(*) FROM ledger_aritem i
            WHERE NOT EXISTS (SELECT 1 FROM ledger_journalentry e WHERE e.id = i.journal_entry_id)""",
    ),
    "journal_numbers_gapless": (
        "Journal numbers run 1..n without gaps per legal entity and fiscal year.",
        """SELECT count(*) FROM (
             SELECT legal_entity_id, fiscal_year FROM ledger_journalentry GROUP BY 1, 2
             HAVING max(number) <> count(*) OR count(DISTINCT number) <> count(*)) x""",
    ),
    "entries_billed_once": (
        "No time entry is linked to two invoice lines (one bill-once link per entry).",
        """SELECT count(*) FROM (
             SELECT time_entry_id FROM billing_timeentrybilling GROUP BY 1 HAVING count(*) > 1) x""",
    ),
    "invoice_subtotals_equal_lines": (
        "Every invoice's subtotal is the sum of its lines; its total is subtotal plus tax.",
        """SELECT count(*) FROM billing_invoice i
             LEFT JOIN (SELECT invoice_id, sum(amount) AS total FROM billing_invoiceline GROUP BY 1) l
                    ON l.invoice_id = i.id
            WHERE i.subtotal_amount <> coalesce(l.total, 0)
               OR i.total_amount <> i.subtotal_amount + i.tax_amount""",
    ),
}

FINGERPRINT = {
    "journal_entries": "SELECT count(*) FROM ledger_journalentry",
    "journal_lines": "SELECT count(*) FROM ledger_journalline",
    "functional_debits": "SELECT coalesce(sum(functional_debit), 0) FROM ledger_journalline",
    "ar_items": "SELECT count(*) FROM ledger_aritem",
    "ar_open": "SELECT coalesce(sum(open_amount), 0) FROM ledger_aritem",
    "invoices": "SELECT count(*) FROM billing_invoice",
    "invoice_totals": "SELECT coalesce(sum(total_amount), 0) FROM billing_invoice",
    "time_entries": "SELECT count(*) FROM projects_timeentry",
    "billing_links": "SELECT count(*) FROM billing_timeentrybilling",
    "audit_rows": "SELECT count(*) FROM core_auditevent",
    "events": "SELECT count(*) FROM core_event",
}


@dataclass(frozen=True)
class Result:
    name: str
    description: str
    violations: int

    @property
    def ok(self) -> bool:
        return self.violations == 0


def check_invariants(using=None) -> list[Result]:
    """Run every check; a Result per check, in a stable order."""
    results = []
    with (using or connection).cursor() as cursor:
        for name, (description, sql) in CHECKS.items():
            cursor.execute(sql)
            results.append(Result(name, description, cursor.fetchone()[0]))
    return results


def fingerprint(using=None) -> dict[str, str]:
    """Row counts and totals of the books, as strings (Decimals compare exactly)."""
    found = {}
    with (using or connection).cursor() as cursor:
        for name, sql in FINGERPRINT.items():
            cursor.execute(sql)
            found[name] = str(cursor.fetchone()[0])
    return found
