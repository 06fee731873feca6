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
        "Each account's stored per-day balances equal the sum of its lines that day, per currency, in "
        "transaction and functional amounts.",
        """SELECT count(*) FROM (
             SELECT account_id, date, currency, sum(debit) d, sum(credit) c,
                    sum(functional_debit) fd, sum(functional_credit) fc
               FROM ledger_journalline GROUP BY 1, 2, 3) l
           FULL JOIN (
             SELECT account_id, date, currency, debit d, credit c, functional_debit fd, functional_credit fc
               FROM ledger_accountbalance) b USING (account_id, date, currency)
          WHERE coalesce(l.d, 0) <> coalesce(b.d, 0) OR coalesce(l.c, 0) <> coalesce(b.c, 0)
             OR coalesce(l.fd, 0) <> coalesce(b.fd, 0) OR coalesce(l.fc, 0) <> coalesce(b.fc, 0)""",
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
    "ar_subledger_equals_control_functional": (
        "Per legal entity, the AR items' booked functional amounts less the realized FX of their "
        "allocations equal the AR control account in functional currency (revaluations and their "
        "reversals cancel out).",
        """SELECT count(*) FROM (
             SELECT legal_entity_id, sum(amount) AS amount FROM (
               SELECT legal_entity_id, functional_amount AS amount FROM ledger_aritem
               UNION ALL
               SELECT legal_entity_id, -fx_difference FROM ledger_allocation) x
             GROUP BY 1) s
           FULL JOIN (
             SELECT l.legal_entity_id, sum(l.functional_debit - l.functional_credit) AS amount
               FROM ledger_journalline l JOIN ledger_glaccount a ON a.id = l.account_id
              WHERE a.role = 'ar' GROUP BY 1) g USING (legal_entity_id)
          WHERE coalesce(s.amount, 0) <> coalesce(g.amount, 0)""",
    ),
    "ar_items_open_equal_allocations": (
        "Every AR item's open amount is its amount less what its allocations (net of reversals) applied.",
        """SELECT count(*) FROM (
             SELECT i.id FROM ledger_aritem i
               LEFT JOIN (SELECT debit_item_id AS item_id, sum(amount) AS applied FROM ledger_allocation
                           GROUP BY 1
                          UNION ALL
                          SELECT credit_item_id, -sum(amount) FROM ledger_allocation GROUP BY 1) a
                      ON a.item_id = i.id
              GROUP BY i.id, i.amount, i.open_amount
             HAVING i.open_amount <> i.amount - coalesce(sum(a.applied), 0)) x""",
    ),
    "contract_positions_equal_revenue_accounts": (
        "Per legal entity and currency, what invoices billed less credit notes and recognised revenue "
        "(the contracts' net positions) equals the deferred plus unbilled revenue accounts.",
        """SELECT count(*) FROM (
             SELECT legal_entity_id, currency, sum(amount) AS amount FROM (
               SELECT i.legal_entity_id, i.currency, l.amount
                 FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id
                WHERE i.status <> 'draft'
               UNION ALL
               SELECT n.legal_entity_id, n.currency, -l.amount
                 FROM billing_creditnoteline l JOIN billing_creditnote n ON n.id = l.credit_note_id
                WHERE n.status = 'released'
               UNION ALL
               SELECT o.legal_entity_id, o.currency, -s.amount
                 FROM revrec_revenuescheduleline s
                 JOIN revrec_performanceobligation o ON o.id = s.obligation_id
                WHERE s.status = 'recognized') x
             GROUP BY 1, 2) p
           FULL JOIN (
             SELECT l.legal_entity_id, l.currency, sum(l.credit - l.debit) AS amount
               FROM ledger_journalline l JOIN ledger_glaccount a ON a.id = l.account_id
              WHERE a.role IN ('deferred_revenue', 'unbilled_revenue') GROUP BY 1, 2) g
                 USING (legal_entity_id, currency)
          WHERE coalesce(p.amount, 0) <> coalesce(g.amount, 0)""",
    ),
    "closed_periods_unchanged": (
        "Nothing dated in a closed period was written after its close: no journal entry, AR item or "
        "allocation (posted lines themselves are append-only).",
        """SELECT count(*) FROM ledger_fiscalperiod p
             JOIN (SELECT legal_entity_id, date, posted_at AS written_at FROM ledger_journalentry
                   UNION ALL
                   SELECT legal_entity_id, date, created_at FROM ledger_aritem
                   UNION ALL
                   SELECT legal_entity_id, date, created_at FROM ledger_allocation) w
               ON w.legal_entity_id = p.legal_entity_id AND w.date BETWEEN p.start AND p."end"
            WHERE p.status = 'closed' AND w.written_at > p.closed_at""",
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
    "allocations": "SELECT count(*) FROM ledger_allocation",
    "allocated": "SELECT coalesce(sum(amount), 0) FROM ledger_allocation",
    "credit_notes": "SELECT count(*) FROM billing_creditnote",
    "write_off_requests": "SELECT count(*) FROM ledger_writeoffrequest",
    "audit_rows": "SELECT count(*) FROM core_auditevent",
    "events": "SELECT count(*) FROM core_event",
}


# One digest per closed period over every line dated in it: taken at the close and compared later, it shows
# that nothing in the period was added, removed or altered while it stayed closed.
CLOSED_PERIOD_DIGESTS = """
    SELECT p.id, md5(coalesce(string_agg(
             concat_ws(':', l.id, l.entry_id, l.account_id, l.currency, l.debit, l.credit,
                       l.functional_debit, l.functional_credit, l.client_id, l.project_id),
             ',' ORDER BY l.id), ''))
      FROM ledger_fiscalperiod p
      LEFT JOIN ledger_journalline l
             ON l.legal_entity_id = p.legal_entity_id AND l.date BETWEEN p.start AND p."end"
     WHERE p.status = 'closed'
     GROUP BY p.id"""


@dataclass(frozen=True)
class Result:
    name: str
    description: str
    violations: int

    @property
    def ok(self) -> bool:
        return self.violations == 0


def _scalars(queries: dict[str, str], using=None) -> dict[str, object]:
    """Each query's one value, all in one statement (one round trip: the stateful test runs these after
    every step)."""
    columns = ",\n".join(f"({sql}) AS {name}" for name, sql in queries.items())
    with (using or connection).cursor() as cursor:
        cursor.execute(f"SELECT {columns}")  # noqa: S608 - our own constant queries and names
        return dict(zip(queries, cursor.fetchone(), strict=True))


def check_invariants(using=None) -> list[Result]:
    """Run every check; a Result per check, in a stable order."""
    violations = _scalars({name: sql for name, (_, sql) in CHECKS.items()}, using)
    return [Result(name, description, violations[name]) for name, (description, _) in CHECKS.items()]


def fingerprint(using=None) -> dict[str, str]:
    """Row counts and totals of the books, as strings (Decimals compare exactly)."""
    return {name: str(value) for name, value in _scalars(FINGERPRINT, using).items()}


def closed_period_digests(using=None) -> dict[int, str]:
    """Period id → digest of the journal lines dated in it, for each closed period."""
    with (using or connection).cursor() as cursor:
        cursor.execute(CLOSED_PERIOD_DIGESTS)
        return dict(cursor.fetchall())
