from django.conf import settings
from django.db import models

from ledger.models.master import FiscalPeriod


class PeriodCloseReport(models.Model):
    """What a period looked like when it was closed: the checklist's figures, trial balance and P&L.

    One per close; a period reopened and closed again has several, the latest being current.
    Stored as JSON of plain values (amounts as strings) so it never changes after the close.
    """

    period = models.ForeignKey(FiscalPeriod, on_delete=models.PROTECT, related_name="close_reports")
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    checklist = models.JSONField()
    trial_balance = models.JSONField()
    profit_and_loss = models.JSONField()

    class Meta:
        ordering = ["period", "-closed_at"]

    def __str__(self):
        return f"Close report of {self.period} at {self.closed_at:%Y-%m-%d %H:%M}"
