"""Insights: findings the nightly (or on-demand) detectors raise, each explained in words with its numbers.

A finding is identified by its `fingerprint` (kind, rule, subject and the period it concerns), so running the
detectors again updates the open insight instead of raising a second one, and a dismissed insight stays
dismissed. An open insight no detector reports any more is cleared.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class InsightKind(models.TextChoices):
    TIMESHEET_ANOMALY = "timesheet_anomaly", "Timesheet anomaly"
    INVOICE_ANOMALY = "invoice_anomaly", "Invoice anomaly"
    MARGIN_RISK = "margin_risk", "Margin risk"
    COLLECTIONS_RISK = "collections_risk", "Collections risk"
    OPPORTUNITY_SCORE = "opportunity_score", "Opportunity score"
    STAFFING = "staffing", "Staffing"


class InsightSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class InsightStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    CLEARED = "cleared", "Cleared"


class InsightRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class InsightRun(models.Model):
    """One pass of the detectors (nightly by beat, or started by a user), with what it raised."""

    status = models.CharField(
        max_length=10, choices=InsightRunStatus.choices, default=InsightRunStatus.PENDING
    )
    as_of = models.DateField()
    # Empty: every kind.
    kinds = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Percent of the run's kinds done; each kind is written in its own transaction.
    progress = models.PositiveSmallIntegerField(default=0)
    raised = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    cleared = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Insight run {self.pk} as of {self.as_of.isoformat()}"


class Insight(models.Model):
    """One thing worth a look, raised by a detector, shown in the inbox of its audience and its owner."""

    kind = models.CharField(max_length=20, choices=InsightKind.choices)
    # The detector's rule within the kind, e.g. "day_above_norm", "rate_mismatch", "late_payment_risk".
    rule = models.CharField(max_length=40)
    severity = models.CharField(
        max_length=10, choices=InsightSeverity.choices, default=InsightSeverity.WARNING
    )
    status = models.CharField(max_length=10, choices=InsightStatus.choices, default=InsightStatus.OPEN)
    fingerprint = models.CharField(max_length=200, unique=True)
    # What it is about: an app_label.model label and id, with a name to show and a page to open.
    subject_type = models.CharField(max_length=60)
    subject_id = models.BigIntegerField()
    subject_label = models.CharField(max_length=200)
    url = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=200)
    # Why, in words, with the numbers behind it ("Ann logged 14.0 h on 3 Nov; her median day is 8.0 h …").
    explanation = models.TextField()
    # The numbers behind the explanation, as JSON-safe values (decimals as strings).
    figures = models.JSONField(default=dict, blank=True)
    # Top contributing factors, most important first: [{"factor", "value", "effect"}].
    factors = models.JSONField(default=list, blank=True)
    # The roles whose inbox shows it (Role values).
    audience = models.JSONField(default=list)
    # A person it concerns most (the consultant, the project manager, the account owner), if any.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        InsightRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="insights"
    )
    first_raised_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dismissed_reason = models.CharField(max_length=500, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [
            models.Index(fields=["status", "kind"], name="insight_status_kind"),
            models.Index(fields=["subject_type", "subject_id"], name="insight_subject"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="dismissed") | ~Q(dismissed_reason=""),
                name="insight_dismissed_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.title}"
