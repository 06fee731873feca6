from django.db import models
from django.db.models import Q

from billing.choices import TaxKind


class TaxCode(models.Model):
    """A sales tax (VAT, GST) a legal entity charges: a rate and the liability account it posts to.

    Tax is `rate × Σ lines with the code`, rounded half-up once per code per invoice. Zero-rated and
    exempt codes charge nothing (and need no account); invoices still show them in the tax summary.
    """

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="tax_codes")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=TaxKind.choices, default=TaxKind.STANDARD)
    rate_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    account = models.ForeignKey(
        "ledger.GLAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="tax_codes"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "code"], name="tax_code_unique_per_entity"),
            models.CheckConstraint(
                condition=Q(rate_percent__gte=0, rate_percent__lte=100), name="tax_code_rate_range"
            ),
            models.CheckConstraint(
                condition=~Q(kind="standard") | Q(account__isnull=False, rate_percent__gt=0),
                name="tax_code_standard_has_rate_and_account",
            ),
            models.CheckConstraint(
                condition=Q(kind="standard") | Q(rate_percent=0), name="tax_code_zero_when_not_standard"
            ),
        ]

    def __str__(self):
        return f"{self.code} ({self.rate_percent.normalize()}%)"
