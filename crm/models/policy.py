"""The sales policy: quote approval rules and renewal thresholds, one row admins edit."""

from decimal import Decimal

from django.db import models

from core.roles import Role


class SalesPolicy(models.Model):
    """Thresholds of the quote approval rule and the renewal triggers (a single row, pk 1)."""

    # A quote whose margin is under this percent needs approval.
    margin_target_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("30"))
    # A quote line discounted by more than this percent needs approval.
    max_discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("10"))
    approver_role = models.CharField(max_length=20, choices=Role.choices, default=Role.FINANCE)
    quote_valid_days = models.PositiveSmallIntegerField(default=30)
    # Renewal triggers: consumption of a contract's total or cap at or above this percent …
    renewal_consumption_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("80"))
    # … or its end date within this many days.
    renewal_days_before_end = models.PositiveSmallIntegerField(default=60)

    class Meta:
        verbose_name_plural = "sales policy"

    def __str__(self):
        return "Sales policy"

    @classmethod
    def current(cls) -> "SalesPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy
