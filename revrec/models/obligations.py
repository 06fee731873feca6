from django.conf import settings
from django.db import models
from django.db.models import Q

from revrec.choices import AmendmentTreatment, Measure, ObligationStatus, RevenueMethod


class PerformanceObligation(models.Model):
    """A promise to the client that revenue is recognised for: one per contract line, following the line
    through amendments (`contract_line` is the current version's line).

    `standalone_price` (SSP) is what the promise sells for alone; the contract's price is allocated over
    its obligations by relative SSP into `allocated_amount`. Time-and-materials obligations priced by the
    time delivered are `excluded` from allocation (right-to-invoice practical expedient) by default.
    """

    contract = models.ForeignKey("crm.Contract", on_delete=models.PROTECT, related_name="obligations")
    contract_line = models.ForeignKey("crm.ContractLine", on_delete=models.PROTECT, related_name="+")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="obligations")
    description = models.CharField(max_length=200)
    method = models.CharField(max_length=20, choices=RevenueMethod.choices)
    measure = models.CharField(max_length=5, choices=Measure.choices, default=Measure.COST)
    billing_model = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    standalone_price = models.DecimalField(max_digits=20, decimal_places=4)
    allocated_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    excluded = models.BooleanField(default=False)
    # Percent complete: the estimate at completion (cost in the contract currency, or hours).
    estimated_total_cost = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    estimated_total_hours = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # As delivered: the not-to-exceed cap revenue may not pass (the billing cap).
    cap_amount = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    role = models.ForeignKey(
        "projects.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_start = models.DateField()
    service_end = models.DateField()
    # The revenue account it recognises into, by role (ledger.choices.AccountRole).
    revenue_role = models.CharField(max_length=30)
    status = models.CharField(max_length=8, choices=ObligationStatus.choices, default=ObligationStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["contract", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(standalone_price__gte=0), name="obligation_ssp_not_negative"),
            models.CheckConstraint(
                condition=Q(service_end__gte=models.F("service_start")), name="obligation_dates"
            ),
            models.CheckConstraint(
                condition=Q(estimated_total_cost__isnull=True) | Q(estimated_total_cost__gt=0),
                name="obligation_estimate_positive",
            ),
        ]
        indexes = [models.Index(fields=["legal_entity", "status"], name="obligation_entity_status")]

    def __str__(self):
        return f"{self.contract} · {self.description}"


class Allocation(models.Model):
    """One allocation of a contract's price over its obligations: at signing and at each amendment,
    recording how the amendment is treated (prospectively or with cumulative catch-up)."""

    contract = models.ForeignKey("crm.Contract", on_delete=models.PROTECT, related_name="allocations")
    contract_version = models.PositiveSmallIntegerField()
    treatment = models.CharField(
        max_length=12, choices=AmendmentTreatment.choices, default=AmendmentTreatment.CATCH_UP
    )
    transaction_price = models.DecimalField(max_digits=20, decimal_places=4)
    # {obligation id: allocated amount (string)}.
    shares = models.JSONField(default=dict)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "id"]
