from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.choices import EntryStatus, ExpenseCategory
from projects.models.fields import currency_field, money_field


def receipt_path(instance, filename: str) -> str:
    # The stored name never comes from the upload: the extension follows the sniffed content type.
    return f"receipts/{instance.date:%Y/%m}/{filename}"


class Expense(models.Model):
    """Money a person spent for a project, with its receipt, rebilled at `markup_percent` when billable.

    `amount` is in `currency`; `converted_amount` is the same in the project's currency at
    `exchange_rate`, the rate of the expense's date (snapshotted when saved, shown beside the amount).
    Billing reads approved billable expenses set-wise and moves them to `billed` / `written_off`.
    """

    person = models.ForeignKey("projects.Person", on_delete=models.PROTECT, related_name="expenses")
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="expenses")
    date = models.DateField()
    category = models.CharField(max_length=15, choices=ExpenseCategory.choices)
    amount = money_field()
    currency = currency_field()
    billable = models.BooleanField(default=True)
    markup_percent = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    notes = models.CharField(max_length=500, blank=True)
    receipt = models.FileField(upload_to=receipt_path, blank=True, max_length=200)
    receipt_name = models.CharField(max_length=200, blank=True)
    receipt_content_type = models.CharField(max_length=50, blank=True)
    receipt_size = models.PositiveIntegerField(null=True, blank=True)
    project_currency = currency_field()
    exchange_rate = models.DecimalField(max_digits=24, decimal_places=12)
    converted_amount = money_field()
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejection_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="expense_amount_positive"),
            models.CheckConstraint(
                condition=Q(markup_percent__gte=0, markup_percent__lte=1000), name="expense_markup_range"
            ),
            models.CheckConstraint(condition=Q(status__in=EntryStatus.values), name="expense_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["status", "project", "date"], condition=Q(billable=True), name="expense_billing_scan"
            ),
            models.Index(fields=["person", "date"], name="expense_person_date"),
        ]

    def __str__(self):
        return f"{self.get_category_display()} {self.amount} {self.currency} on {self.date}"

    @property
    def billable_amount(self):
        """What billing would charge, in the project's currency, before rounding at the invoice line."""
        return self.converted_amount * (1 + self.markup_percent / 100) if self.billable else 0
