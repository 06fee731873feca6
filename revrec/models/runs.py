from django.conf import settings
from django.db import models

from revrec.choices import RunStatus


class RevenueRun(models.Model):
    """Recognise every obligation of a legal entity up to `period_end` and post it, contract by contract;
    `RevenueRunContract` rows make it resumable."""

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    total_contracts = models.PositiveIntegerField(default=0)
    done_contracts = models.PositiveIntegerField(default=0)
    recognized_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    reclassified_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    # Per-currency totals and flags (loss-making estimates) for the run page.
    totals = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
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
        return f"Revenue run #{self.pk} to {self.period_end}"

    @property
    def progress(self) -> int:
        if self.status == RunStatus.COMPLETED:
            return 100
        return min(100, self.done_contracts * 100 // self.total_contracts) if self.total_contracts else 0


class RevenueRunContract(models.Model):
    run = models.ForeignKey(RevenueRun, on_delete=models.CASCADE, related_name="contracts_done")
    contract = models.ForeignKey("crm.Contract", on_delete=models.PROTECT, related_name="+")
    journal_entry = models.ForeignKey(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "contract"], name="revenue_run_contract_once")]
