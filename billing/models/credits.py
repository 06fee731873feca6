from django.conf import settings
from django.db import models

from billing.choices import CreditNoteStatus
from billing.models.fields import amount_field, hours_field


class CreditNote(models.Model):
    """A reduction of a released invoice, against specific lines (and, for time, specific entries).

    Released: numbered like invoices, posted as the invoice's mirror, entered into AR as a credit. The
    entries it credits return to unbilled (`rebill`) or are written off, and are recorded here.
    """

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="credit_notes")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=CreditNoteStatus.choices, default=CreditNoteStatus.DRAFT)
    reason = models.CharField(max_length=500)
    rebill = models.BooleanField(default=True)
    issue_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    subtotal_amount = amount_field(default=0)
    tax_amount = amount_field(default=0)
    total_amount = amount_field(default=0)
    journal_entry = models.ForeignKey(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ar_item = models.ForeignKey(
        "ledger.ArItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "number"],
                condition=~models.Q(number=""),
                name="credit_note_number_unique",
            ),
        ]

    def __str__(self):
        return self.number or f"Draft credit #{self.pk}"


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        "billing.InvoiceLine", on_delete=models.PROTECT, related_name="credit_lines"
    )
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=20, decimal_places=4)
    amount = amount_field()
    tax_code = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["credit_note", "id"]


class CreditedEntry(models.Model):
    """A time entry (or expense, or plan item) a credit note took back, and what became of it."""

    credit_line = models.ForeignKey(CreditNoteLine, on_delete=models.CASCADE, related_name="entries")
    time_entry = models.ForeignKey(
        "projects.TimeEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expense = models.ForeignKey(
        "projects.Expense", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan_item = models.ForeignKey(
        "billing.PlanItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hours = hours_field(null=True, blank=True)
    amount = amount_field()
    # "unbilled": back to billing; "written_off": never billed again.
    outcome = models.CharField(max_length=12)

    class Meta:
        ordering = ["id"]
