"""Statuses and kinds of revenue recognition's objects."""

from django.db import models

from crm.choices import RevenueMethod  # noqa: F401 - the methods are the CRM's line terms


class Measure(models.TextChoices):
    """How percent complete is measured."""

    COST = "cost", "Cost to cost"
    HOURS = "hours", "Hours"


class ObligationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class LineStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RECOGNIZED = "recognized", "Recognized"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class AmendmentTreatment(models.TextChoices):
    PROSPECTIVE = "prospective", "Prospectively"
    CATCH_UP = "catch_up", "With cumulative catch-up"
