from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.choices import EntryStatus, RateSource, TimesheetStatus
from projects.models.fields import currency_field, hours_field, money_field


class Timesheet(models.Model):
    """A person's week (Monday to Sunday) gathering their time entries.

    `status` is derived from the entries' statuses and kept current by the services that change them;
    the row is also the lock that serialises writes to one person's week (the 24-hours-a-day rule).
    `rows` are the grid rows the consultant added before typing any hours: [{"task": id, "billable": b}].
    """

    person = models.ForeignKey("projects.Person", on_delete=models.PROTECT, related_name="timesheets")
    week_start = models.DateField()
    status = models.CharField(max_length=20, choices=TimesheetStatus.choices, default=TimesheetStatus.DRAFT)
    rows = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start", "person"]
        constraints = [
            models.UniqueConstraint(fields=["person", "week_start"], name="timesheet_one_per_week"),
        ]
        indexes = [models.Index(fields=["status", "week_start"], name="timesheet_status_week")]

    def __str__(self):
        return f"{self.person}, week of {self.week_start}"


class TimeEntry(models.Model):
    """Hours a person worked on a project task on a day.

    The bill rate and cost rate (both in the project's `currency`) are resolved when the entry is saved
    and stored here, so later rate changes never re-price it; `rate_source` says which source won.
    Billing records the bill-once link in its own append-only table keyed by this entry's id and moves
    the status to `billed` / `written_off`; approved entries are locked.
    """

    person = models.ForeignKey("projects.Person", on_delete=models.PROTECT, related_name="time_entries")
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="time_entries")
    task = models.ForeignKey("projects.Task", on_delete=models.PROTECT, related_name="time_entries")
    timesheet = models.ForeignKey(Timesheet, on_delete=models.PROTECT, related_name="entries")
    # The role the hours are billed as: the assignment's on that day, else the person's primary role.
    role = models.ForeignKey("projects.Role", on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    hours = hours_field(max_digits=5)
    billable = models.BooleanField(default=True)
    notes = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.DRAFT)
    currency = currency_field()
    bill_rate = money_field(default=0)
    cost_rate = money_field(default=0)
    rate_source = models.CharField(max_length=20, choices=RateSource.choices, default=RateSource.NONE)
    rated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejection_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "id"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0, hours__lte=24), name="time_entry_hours_range"),
            models.CheckConstraint(
                condition=Q(status__in=EntryStatus.values), name="time_entry_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(bill_rate__gte=0, cost_rate__gte=0), name="time_entry_rates_not_negative"
            ),
            # One cell of the week grid: a person's hours on a task on a day, billable or not.
            models.UniqueConstraint(
                fields=["person", "task", "date", "billable"], name="time_entry_one_per_cell"
            ),
        ]
        indexes = [
            # Billing's scan: approved billable time of a project up to a date.
            models.Index(
                fields=["status", "project", "date"],
                condition=Q(billable=True),
                name="time_entry_billing_scan",
            ),
            models.Index(fields=["person", "date"], name="time_entry_person_date"),
            models.Index(fields=["project", "date"], name="time_entry_project_date"),
            # The API's cursor pages (newest first, id as tie-break), read backwards: without it the first
            # page of a firm's million entries sorted all of them (1.6 s).
            models.Index(fields=["date", "id"], name="time_entry_date_id"),
        ]

    def __str__(self):
        return f"{self.person} {self.date} {self.hours}h"


class MissingTimeReminder(models.Model):
    """That a person was reminded about a week logged under capacity: at most once per person and week."""

    person = models.ForeignKey("projects.Person", on_delete=models.CASCADE, related_name="time_reminders")
    week_start = models.DateField()
    hours_logged = hours_field()
    capacity_hours = hours_field()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week_start", "person"]
        constraints = [
            models.UniqueConstraint(fields=["person", "week_start"], name="time_reminder_once_per_week"),
        ]

    def __str__(self):
        return f"{self.person}, week of {self.week_start}"
