from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.choices import ArItemKind
from ledger.models.fields import amount_field, currency_field, rate_field
from ledger.models.journal import GLAccount, JournalEntry
from ledger.models.master import LegalEntity


class ArItem(models.Model):
    """An open item of the AR subledger: the seam between the ledger and billing's documents.

    Debit items (invoices) have a positive amount, credit items (payments, credit notes, write-offs) a
    negative one. Allocations match credit items to debit items; `open_amount` is what is left.
    `functional_amount` is the item's value at its booking rate: settling it at another rate makes
    the realized FX difference.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="ar_items")
    client = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="ar_items")
    kind = models.CharField(max_length=12, choices=ArItemKind.choices)
    # The business document behind the item, e.g. ("billing.invoice", "42").
    document_type = models.CharField(max_length=50)
    document_id = models.CharField(max_length=64)
    number = models.CharField(max_length=50)
    date = models.DateField()
    due_date = models.DateField()
    currency = currency_field()
    amount = amount_field()
    open_amount = amount_field()
    rate = rate_field()
    functional_amount = amount_field()
    journal_entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["document_type", "document_id"], name="ar_item_one_per_document"),
            models.CheckConstraint(condition=~Q(amount=0), name="ar_item_amount_not_zero"),
            # The open amount has the item's sign and never exceeds it.
            models.CheckConstraint(
                condition=(Q(amount__gt=0, open_amount__gte=0, open_amount__lte=models.F("amount")))
                | (Q(amount__lt=0, open_amount__lte=0, open_amount__gte=models.F("amount"))),
                name="ar_item_open_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["legal_entity", "client", "due_date"], name="ar_item_client_due"),
            models.Index(fields=["client"], condition=~Q(open_amount=0), name="ar_item_open"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_debit(self) -> bool:
        return self.amount > 0


class Allocation(models.Model):
    """Applies part of a credit item (payment, credit note, write-off) to a debit item (invoice).

    Append-only: undoing an allocation adds a reversing row (negative amount) pointing at it.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    debit_item = models.ForeignKey(ArItem, on_delete=models.PROTECT, related_name="allocations_received")
    credit_item = models.ForeignKey(ArItem, on_delete=models.PROTECT, related_name="allocations_made")
    date = models.DateField()
    # In the items' currency; positive applies, negative (a reversal) takes back.
    amount = amount_field()
    # The realized FX difference this allocation posted (functional currency; + is a loss), as the
    # journal entry with posting key "allocation:<id>".
    fx_difference = amount_field(default=0)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="allocation_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(reversal_of__isnull=True, amount__gt=0)
                | Q(reversal_of__isnull=False, amount__lt=0),
                name="allocation_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.amount} of {self.credit_item} to {self.debit_item}"


class Payment(models.Model):
    """Cash received from a client into a bank account; its AR credit item carries what is unallocated."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="payments")
    client = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="payments")
    date = models.DateField()
    amount = amount_field()
    currency = currency_field()
    bank_account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True)
    ar_item = models.OneToOneField(ArItem, on_delete=models.PROTECT, related_name="payment")
    journal_entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self):
        return f"Payment {self.reference or self.pk} {self.amount} {self.currency}"

    @property
    def unallocated_amount(self):
        return -self.ar_item.open_amount


class WriteOffRequest(models.Model):
    """A request to write off an invoice's residual; above the entity's threshold a second person approves."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        POSTED = "posted", "Posted"
        REJECTED = "rejected", "Rejected"

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    ar_item = models.ForeignKey(ArItem, on_delete=models.PROTECT, related_name="write_off_requests")
    amount = amount_field()
    date = models.DateField()
    reason = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    credit_item = models.OneToOneField(
        ArItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_amount_positive"),
            models.UniqueConstraint(
                fields=["ar_item"], condition=Q(status="pending"), name="write_off_one_pending_per_item"
            ),
        ]
