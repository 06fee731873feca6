"""Quotes: versioned price proposals for an opportunity, priced from the rate card, approved when risky."""

from django.conf import settings
from django.db import models

from crm.choices import QuoteStatus
from crm.models.terms import LineTerms


class Quote(models.Model):
    """One version of the price offered for an opportunity.

    `cost_amount` is hours × the average current cost rate of the people in each role; when the margin
    is under the policy's target or a discount exceeds its threshold, `approval_reasons` lists why and the
    quote must be approved by the policy's role before it can be accepted.
    """

    opportunity = models.ForeignKey("crm.Opportunity", on_delete=models.PROTECT, related_name="quotes")
    version = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    currency = models.CharField(max_length=3)
    valid_until = models.DateField()
    list_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    discount_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    total_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    # None when a role's cost rate is unknown (no people in it yet).
    cost_amount = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    margin_percent = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    approval_reasons = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["opportunity", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "version"], name="quote_version_unique"),
            models.UniqueConstraint(
                fields=["opportunity"], condition=models.Q(status="accepted"), name="quote_one_accepted"
            ),
        ]

    def __str__(self):
        return f"{self.opportunity} v{self.version}"

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval_reasons)


class QuoteLine(LineTerms):
    """A priced line: `rate` from the rate card, `list_amount` = hours × rate (or the fee), discounted."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    service = models.CharField(max_length=200)
    list_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    cost_rate = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    cost_amount = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.service
