from django.conf import settings
from django.db import models

from billing.choices import ExceptionKind, RunStatus


class BillingRun(models.Model):
    """One run of "bill everything billable up to `period_end`" for a legal entity (optionally some
    clients or contracts). Works a contract at a time; `RunContract` rows record what is done, so a run
    that was killed resumes where it stopped."""

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    period_end = models.DateField()
    # {"accounts": [ids], "contracts": [ids]}; empty lists: everything of the legal entity.
    scope = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    total_contracts = models.PositiveIntegerField(default=0)
    done_contracts = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    entries_billed = models.PositiveIntegerField(default=0)
    expenses_billed = models.PositiveIntegerField(default=0)
    items_billed = models.PositiveIntegerField(default=0)
    exceptions_count = models.PositiveIntegerField(default=0)
    # {"USD": "123.45", ...}: the drafts' totals per currency.
    totals = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Billing run #{self.pk} to {self.period_end}"

    @property
    def progress(self) -> int:
        """Percent of the run's contracts done (100 once completed)."""
        if self.status == RunStatus.COMPLETED:
            return 100
        if not self.total_contracts:
            return 0
        return min(100, self.done_contracts * 100 // self.total_contracts)


class RunContract(models.Model):
    """That a run finished one contract (with the draft invoice it made, if any): the resume point."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="contracts_done")
    contract = models.ForeignKey("crm.Contract", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "contract"], name="run_contract_once")]


class RunException(models.Model):
    """Something a run could not bill, or billed with a warning, for finance to act on."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=12, choices=ExceptionKind.choices)
    contract = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
