"""Statuses and kinds of billing's objects."""

from django.db import models


class TaxKind(models.TextChoices):
    STANDARD = "standard", "Standard rate"
    ZERO_RATED = "zero_rated", "Zero-rated"
    EXEMPT = "exempt", "Exempt"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class UnusedBalance(models.TextChoices):
    """What happens to a retainer's unused balance when the line ends."""

    EXPIRE = "expire", "Expires"
    ROLL_OVER = "roll_over", "Rolls over to the next period"
    REFUND = "refund", "Refunded (credit note)"


class ItemKind(models.TextChoices):
    """A scheduled billable event of a plan."""

    INSTALMENT = "instalment", "Fixed-fee instalment"
    MILESTONE = "milestone", "Milestone"
    SUBSCRIPTION = "subscription", "Subscription period"
    RETAINER_FEE = "retainer_fee", "Retainer fee"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RELEASED = "released", "Released"
    SENT = "sent", "Sent"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


# Statuses stored on the row; partially_paid and paid are read from the AR item's open amount.
STORED_STATUSES = (InvoiceStatus.DRAFT, InvoiceStatus.RELEASED, InvoiceStatus.SENT, InvoiceStatus.VOID)


class CreditNoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RELEASED = "released", "Released"


class SourceType(models.TextChoices):
    """Where an invoice line's amount comes from (`source_ids` name the rows)."""

    TIME = "time", "Time entries"
    EXPENSE = "expense", "Expenses"
    MILESTONE = "milestone", "Milestone"
    INSTALMENT = "instalment", "Fixed-fee instalment"
    SUBSCRIPTION = "subscription", "Subscription period"
    RETAINER_FEE = "retainer_fee", "Retainer fee"
    RETAINER_OVERAGE = "retainer_overage", "Retainer overage"
    MANUAL = "manual", "Manual"


ITEM_SOURCE = {
    ItemKind.INSTALMENT: SourceType.INSTALMENT,
    ItemKind.MILESTONE: SourceType.MILESTONE,
    ItemKind.SUBSCRIPTION: SourceType.SUBSCRIPTION,
    ItemKind.RETAINER_FEE: SourceType.RETAINER_FEE,
}


class HoldStatus(models.TextChoices):
    """An over-cap part of a time entry, waiting for a decision."""

    HELD = "held", "Over cap, waiting"
    RELEASED = "released", "Cap raised, bills in the next run"
    BILLED = "billed", "Billed after a change order"
    WRITTEN_OFF = "written_off", "Written off"


class DrawdownKind(models.TextChoices):
    FEE = "fee", "Fee invoiced (balance added)"
    USAGE = "usage", "Time drawn down"
    OVERAGE = "overage", "Overage billed"
    EXPIRED = "expired", "Unused balance expired"
    ROLLED_OVER = "rolled_over", "Unused balance rolled over"
    REFUNDED = "refunded", "Unused balance refunded"


class ExceptionKind(models.TextChoices):
    NO_PLAN = "no_plan", "Billable work without a billing plan"
    OVER_CAP = "over_cap", "Over the not-to-exceed cap"
    NO_TAX_CODE = "no_tax_code", "Tax code missing"
    LOCKED = "locked", "Contract busy in another run"
    FAILED = "failed", "Contract failed"
    CURRENCY = "currency", "Currency mismatch"
