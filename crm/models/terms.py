"""The commercial terms a line carries from opportunity to quote to contract, then to billing and revenue."""

from datetime import date
from decimal import Decimal

from django.db import models

from crm.choices import BillingModel, BillingPeriod, RevenueMethod, UnusedHours


class LineTerms(models.Model):
    """What one line sells and how it is billed: the fields opportunity, quote and contract lines share.

    Time and materials: `role`, `hours` at `rate` (`amount` = the estimate), optional not-to-exceed
    `cap_amount`. Fixed fee: `amount` in `instalments` equal dated payments (the last takes the rounding
    remainder), or on `milestones`. Milestone: `milestones` = [{"name", "due", "amount"}] summing to
    `amount`. Retainer and subscription: `period_amount` every `billing_period` from `start` to `end`
    (`amount` = the whole term); a retainer includes `period_hours`, bills more at `overage_rate`, and
    forfeits or carries over `unused_hours`; a subscription bills on `cycle_day`.
    """

    phase = models.CharField(max_length=100, blank=True, help_text="Project phase; blank: the line's name.")
    billing_model = models.CharField(max_length=20, choices=BillingModel.choices)
    role = models.ForeignKey(
        "projects.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hours = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    rate = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    start = models.DateField()
    end = models.DateField()
    cap_amount = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    # Blank: the billing model's usual method (crm.choices.DEFAULT_REVENUE_METHOD).
    revenue_method = models.CharField(max_length=20, choices=RevenueMethod.choices, blank=True)
    instalments = models.PositiveSmallIntegerField(default=1)
    milestones = models.JSONField(default=list, blank=True)
    billing_period = models.CharField(max_length=10, choices=BillingPeriod.choices, blank=True)
    period_amount = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    period_hours = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    overage_rate = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    unused_hours = models.CharField(max_length=12, choices=UnusedHours.choices, blank=True)
    cycle_day = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def label(self) -> str:
        return getattr(self, "service", "") or getattr(self, "description", "")

    @property
    def phase_name(self) -> str:
        return self.phase or self.label

    @property
    def milestone_rows(self) -> list[dict]:
        """The milestones with typed values, for display: [{"name", "due": date, "amount": Decimal}]."""
        return [
            {"name": m["name"], "due": date.fromisoformat(m["due"]), "amount": Decimal(m["amount"])}
            for m in self.milestones or []
        ]

    def revenue_method_or_default(self) -> str:
        from crm.choices import DEFAULT_REVENUE_METHOD

        return self.revenue_method or DEFAULT_REVENUE_METHOD[self.billing_model]
