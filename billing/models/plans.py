from django.db import models
from django.db.models import Q

from billing.choices import ItemKind, PlanStatus, UnusedBalance
from billing.models.fields import amount_field, hours_field


class BillingPlan(models.Model):
    """How one contract line is billed; created by the win handoff, moved to each amended version.

    Time and materials and retainers take approved time (a plan with a `role` takes that role's time; the
    contract's first such plan takes the rest); fixed fee, milestone, subscription and retainer fees are
    scheduled `PlanItem`s. `billed_amount` is what the plan has billed so far (the cap's consumption).
    """

    contract = models.ForeignKey("crm.Contract", on_delete=models.PROTECT, related_name="billing_plans")
    contract_line = models.ForeignKey("crm.ContractLine", on_delete=models.PROTECT, related_name="+")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="billing_plans")
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="billing_plans"
    )
    billing_model = models.CharField(max_length=20)
    description = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    start = models.DateField()
    end = models.DateField()
    role = models.ForeignKey(
        "projects.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Time and materials: the not-to-exceed cap (null: none); what it has used is read from the lines.
    cap_amount = amount_field(null=True, blank=True)
    # Retainer: hours included per period, the rate they are drawn down at, overage and unused balance.
    period_hours = hours_field(null=True, blank=True)
    drawdown_rate = amount_field(null=True, blank=True)
    overage_rate = amount_field(null=True, blank=True)
    unused_balance = models.CharField(max_length=10, choices=UnusedBalance.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["contract", "id"]
        indexes = [models.Index(fields=["contract", "status"], name="billing_plan_contract")]
        constraints = [
            models.CheckConstraint(
                condition=Q(cap_amount__isnull=True) | Q(cap_amount__gt=0), name="billing_plan_cap_positive"
            ),
        ]

    def __str__(self):
        return f"{self.contract} · {self.description}"

    @property
    def takes_time(self) -> bool:
        return self.billing_model in ("time_and_materials", "retainer")


class PlanItem(models.Model):
    """One scheduled billable event: an instalment, a milestone, a subscription or retainer period.

    Billable from `date` (a milestone: once accepted). `invoice_line` is set when a run bills it and is
    cleared only when its draft line is removed or a credit note returns it; the unique `key` per plan
    means a period exists once, so it can never be invoiced twice.
    """

    plan = models.ForeignKey(BillingPlan, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=14, choices=ItemKind.choices)
    key = models.CharField(max_length=120)
    description = models.CharField(max_length=200)
    date = models.DateField()
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    amount = amount_field()
    hours = hours_field(null=True, blank=True)
    milestone = models.ForeignKey(
        "projects.Milestone", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invoice_line = models.ForeignKey(
        "billing.InvoiceLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="plan_items"
    )
    # Left out of billing (the amendment dropped it, or a credit note cancelled it for good).
    cancelled = models.BooleanField(default=False)

    class Meta:
        ordering = ["plan", "date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_item_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="plan_item_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["date"], condition=Q(invoice_line__isnull=True), name="plan_item_open")
        ]

    def __str__(self):
        return self.description
