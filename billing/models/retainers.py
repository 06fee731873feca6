from django.db import models

from billing.choices import DrawdownKind
from billing.models.fields import amount_field, hours_field


class RetainerMovement(models.Model):
    """A movement of a retainer plan's prepaid balance (in hours): a fee adds, time draws down, overage
    bills beyond it, the end of the line expires, rolls over or refunds what is left."""

    plan = models.ForeignKey(
        "billing.BillingPlan", on_delete=models.CASCADE, related_name="retainer_movements"
    )
    run = models.ForeignKey(
        "billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=DrawdownKind.choices)
    date = models.DateField()
    hours = hours_field()
    amount = amount_field()
    balance_hours = hours_field()
    invoice_line = models.ForeignKey(
        "billing.InvoiceLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "id"]
