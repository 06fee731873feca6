"""Statuses and kinds of the projects app's objects, and the defaults that go with them."""

from decimal import Decimal

from django.db import models


class ProjectStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    CLOSED = "closed", "Closed"


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    COMPLETED = "completed", "Completed"
    ACCEPTED = "accepted", "Accepted"


class EntryStatus(models.TextChoices):
    """The life of a time entry or an expense. `billed` and `written_off` are set by billing only."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    BILLED = "billed", "Billed"
    WRITTEN_OFF = "written_off", "Written off"


# The consultant may still change these (a rejected entry is back in their hands, with the reason).
EDITABLE_STATUSES = (EntryStatus.DRAFT, EntryStatus.REJECTED)
# Rates are snapshotted on save; these may be re-rated, approved work never is.
RERATABLE_STATUSES = (EntryStatus.DRAFT, EntryStatus.SUBMITTED, EntryStatus.REJECTED)
# Approved and beyond: locked for the consultant and the project manager alike.
LOCKED_STATUSES = (EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)


class TimesheetStatus(models.TextChoices):
    """A week's status, derived from its entries' statuses (see `timesheet_status`)."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    PARTIALLY_APPROVED = "partially_approved", "Partly approved"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


def timesheet_status(counts: dict[str, int]) -> str:
    """The week's status from how many of its entries are in each status.

    Any rejected entry makes the week rejected (it is back with the consultant); any draft makes it a
    draft; it is approved when every entry is approved (or billed or written off).
    """
    if not any(counts.values()):
        return TimesheetStatus.DRAFT
    if counts.get(EntryStatus.REJECTED):
        return TimesheetStatus.REJECTED
    if counts.get(EntryStatus.DRAFT):
        return TimesheetStatus.DRAFT
    if counts.get(EntryStatus.SUBMITTED):
        locked = sum(counts.get(s, 0) for s in LOCKED_STATUSES)
        return TimesheetStatus.PARTIALLY_APPROVED if locked else TimesheetStatus.SUBMITTED
    return TimesheetStatus.APPROVED


class ExpenseCategory(models.TextChoices):
    TRAVEL = "travel", "Travel"
    LODGING = "lodging", "Lodging"
    MEALS = "meals", "Meals"
    SOFTWARE = "software", "Software"
    SUBCONTRACTOR = "subcontractor", "Subcontractor"
    OTHER = "other", "Other"


# The markup a new expense gets in each category unless one is given: the firm rebills travel, lodging
# and meals at cost, and adds a handling margin on what it buys for the client.
DEFAULT_MARKUP_PERCENT = {
    ExpenseCategory.TRAVEL: Decimal("0"),
    ExpenseCategory.LODGING: Decimal("0"),
    ExpenseCategory.MEALS: Decimal("0"),
    ExpenseCategory.SOFTWARE: Decimal("10"),
    ExpenseCategory.SUBCONTRACTOR: Decimal("15"),
    ExpenseCategory.OTHER: Decimal("0"),
}


class ResourceRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"


class RateSource(models.TextChoices):
    """Where an entry's bill rate came from, most specific first."""

    PROJECT_OVERRIDE = "project_override", "Person's rate on the project"
    CONTRACT_CARD = "contract_card", "Contract rate card"
    CLIENT_CARD = "client_card", "Client rate card"
    STANDARD_CARD = "standard_card", "Standard rate card"
    NONE = "none", "No rate found"
