from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.models.fields import amount_field, currency_field, rate_field
from ledger.models.master import FiscalPeriod, GLAccount, LegalEntity


class EntrySequence(models.Model):
    """The next journal-entry number of a legal entity's fiscal year; locked while numbers are drawn."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    fiscal_year = models.PositiveSmallIntegerField()
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "fiscal_year"], name="entry_sequence_unique_year"
            ),
        ]


class JournalEntry(models.Model):
    """A posted, balanced, immutable double entry. Corrections are reversal entries, never edits.

    PostgreSQL enforces it: a deferred trigger checks the balance at commit, and UPDATE/DELETE are refused.
    """

    # Integrity of legal entity, period and (on lines) entry, account and client is checked by PostgreSQL
    # once per INSERT statement over all its rows (migration 0007), not by a foreign-key lookup per row:
    # posting millions of lines is dominated by those lookups otherwise.
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    fiscal_year = models.PositiveSmallIntegerField()
    # Gapless per legal entity and fiscal year.
    number = models.PositiveIntegerField()
    date = models.DateField()
    period = models.ForeignKey(
        FiscalPeriod, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    memo = models.CharField(max_length=500)
    # The business document that caused the entry, e.g. ("billing.invoice", "42").
    source_type = models.CharField(max_length=50)
    source_id = models.CharField(max_length=64)
    # One business event posts once: posting the same key again returns the first entry.
    posting_key = models.CharField(max_length=200, unique=True)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "fiscal_year", "number"], name="journal_entry_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["legal_entity", "date"], name="journal_entry_entity_date"),
            models.Index(fields=["source_type", "source_id"], name="journal_entry_source"),
        ]

    def __str__(self):
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"JE-{self.fiscal_year}-{self.number:06d}"


class JournalLine(models.Model):
    """One side of an entry: transaction currency amount, its functional amount and the dimensions.

    A line debits or credits, never both. Its transaction amount may be zero only for a line that
    carries a functional-currency difference alone (FX rounding, realized or unrealized FX).
    """

    # Checked set-wise per statement (see JournalEntry.legal_entity).
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="lines", db_constraint=False
    )
    # Copied from the entry so reports filter lines without a join.
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    date = models.DateField()
    account = models.ForeignKey(
        GLAccount, on_delete=models.PROTECT, related_name="lines", db_constraint=False
    )
    currency = currency_field()
    debit = amount_field(default=0)
    credit = amount_field(default=0)
    # Functional currency per transaction currency unit, as used for this line.
    rate = rate_field()
    functional_debit = amount_field(default=0)
    functional_credit = amount_field(default=0)
    client = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    person_id = models.BigIntegerField(null=True, blank=True)
    memo = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debit__gte=0, credit__gte=0, functional_debit__gte=0, functional_credit__gte=0),
                name="journal_line_non_negative",
            ),
            models.CheckConstraint(
                condition=(Q(debit=0) | Q(credit=0)) & (Q(functional_debit=0) | Q(functional_credit=0)),
                name="journal_line_one_side",
            ),
            models.CheckConstraint(
                condition=Q(debit__gt=0)
                | Q(credit__gt=0)
                | Q(functional_debit__gt=0)
                | Q(functional_credit__gt=0),
                name="journal_line_not_empty",
            ),
            models.CheckConstraint(
                condition=(Q(debit=0) | Q(functional_credit=0)) & (Q(credit=0) | Q(functional_debit=0)),
                name="journal_line_same_side",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "date"], name="journal_line_account_date"),
            models.Index(fields=["legal_entity", "date"], name="journal_line_entity_date"),
            models.Index(fields=["client", "date"], name="journal_line_client_date"),
        ]

    def __str__(self):
        side = f"Dr {self.debit}" if self.debit or self.functional_debit else f"Cr {self.credit}"
        return f"{self.account.code} {side} {self.currency}"


class AccountBalance(models.Model):
    """Running totals per account, day and transaction currency, kept in the posting transaction.

    A trial balance sums these rows (accounts × days with activity) instead of scanning journal lines.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="balances")
    date = models.DateField()
    currency = currency_field()
    debit = amount_field(default=0)
    credit = amount_field(default=0)
    functional_debit = amount_field(default=0)
    functional_credit = amount_field(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "date", "currency"], name="account_balance_unique_day"
            ),
        ]
        indexes = [models.Index(fields=["legal_entity", "date"], name="account_balance_entity_date")]
