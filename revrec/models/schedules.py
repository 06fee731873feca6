from django.db import models
from django.db.models import Q

from revrec.choices import LineStatus


class RevenueScheduleLine(models.Model):
    """An obligation's revenue for one month: planned until a revenue run recognises it, then immutable
    (PostgreSQL refuses changes to recognised lines)."""

    obligation = models.ForeignKey(
        "revrec.PerformanceObligation", on_delete=models.CASCADE, related_name="schedule_lines"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.PLANNED)
    run = models.ForeignKey(
        "revrec.RevenueRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    journal_entry = models.ForeignKey(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recognized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["obligation", "period_start", "id"]
        constraints = [
            # One planned line per month; recognised lines accumulate (a catch-up is a further line).
            models.UniqueConstraint(
                fields=["obligation", "period_start"],
                condition=Q(status="planned"),
                name="revenue_line_one_planned_per_month",
            ),
        ]
        indexes = [models.Index(fields=["obligation", "status"], name="revenue_line_status")]
