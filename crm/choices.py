"""Statuses and kinds of the CRM's objects."""

from django.db import models


class BillingModel(models.TextChoices):
    TIME_AND_MATERIALS = "time_and_materials", "Time and materials"
    FIXED_FEE = "fixed_fee", "Fixed fee"
    MILESTONE = "milestone", "Milestone"
    RETAINER = "retainer", "Retainer"
    SUBSCRIPTION = "subscription", "Subscription"


# Billing models billed per period (a retainer or subscription fee each month, quarter or year).
PERIODIC_MODELS = (BillingModel.RETAINER, BillingModel.SUBSCRIPTION)


class RevenueMethod(models.TextChoices):
    """How revenue recognition will recognise a line (the revrec issue's obligation methods)."""

    RATABLE = "ratable", "Ratable over the term"
    PERCENT_COMPLETE = "percent_complete", "Percent complete"
    MILESTONE = "milestone", "On milestone acceptance"
    AS_DELIVERED = "as_delivered", "As delivered"


# The method a line gets when the seller does not choose one.
DEFAULT_REVENUE_METHOD = {
    BillingModel.TIME_AND_MATERIALS: RevenueMethod.AS_DELIVERED,
    BillingModel.FIXED_FEE: RevenueMethod.PERCENT_COMPLETE,
    BillingModel.MILESTONE: RevenueMethod.MILESTONE,
    BillingModel.RETAINER: RevenueMethod.RATABLE,
    BillingModel.SUBSCRIPTION: RevenueMethod.RATABLE,
}


class BillingPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUAL = "annual", "Annual"


MONTHS_PER_PERIOD = {BillingPeriod.MONTHLY: 1, BillingPeriod.QUARTERLY: 3, BillingPeriod.ANNUAL: 12}


class UnusedHours(models.TextChoices):
    """What happens to retainer hours the client did not use in a period."""

    FORFEIT = "forfeit", "Forfeited"
    CARRY_OVER = "carry_over", "Carried over to the next period"
    REFUND = "refund", "Carried over, and refunded when the line ends"


class StageOutcome(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "E-mail"
    TASK = "task", "Task"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class TriggerKind(models.TextChoices):
    CONSUMPTION = "consumption", "Consumption over threshold"
    ENDING = "ending", "Ending soon"
