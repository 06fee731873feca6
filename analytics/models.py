"""Rollup tables the KPIs and dashboards read instead of scanning time entries and journal lines.

Two layers: a fact row per approved time entry / expense (what it contributes, keyed by its own id, so a
refresh knows which day/person/project cell it used to count in), and the daily cell per
(day, person, project) the pages aggregate, summed again per month for periods of whole months. GL
revenue is rolled up per month, account, client and project from journal lines. All are derived data:
`rebuild_rollups` recreates them from scratch, and the incremental refresh must always agree with it
(tests prove it).
"""

from django.db import models

# Hours (2 places) × rate (4 places) is exact at 6 places; amounts stay exact until shown.
AMOUNT = {"max_digits": 24, "decimal_places": 6, "default": 0}
HOURS = {"max_digits": 12, "decimal_places": 2, "default": 0}


class TimeFact(models.Model):
    """What one approved (or billed / written-off) time entry contributes, in the project's currency.

    `standard_value` is hours × the standard rate card's rate for the entry's role on its day (the entry's
    own bill rate when no standard card prices the role). `billed_value` is the entry's share of its
    invoice line once the invoice is released (not draft, not void), scaled by the line's write-up or
    write-down. `wip_value` is hours × bill rate while approved, billable, unlinked and not held over a cap.
    """

    time_entry_id = models.BigIntegerField(primary_key=True)
    person_id = models.BigIntegerField()
    project_id = models.BigIntegerField()
    date = models.DateField()
    currency = models.CharField(max_length=3)
    billable = models.BooleanField()
    hours = models.DecimalField(**HOURS)
    standard_value = models.DecimalField(**AMOUNT)
    cost = models.DecimalField(**AMOUNT)
    billed_value = models.DecimalField(**AMOUNT)
    # The standard value of work whose billing is settled (on a released invoice, or written off): what
    # realization divides by, so work not billed yet does not read as a write-down.
    billed_standard_value = models.DecimalField(**AMOUNT)
    wip_value = models.DecimalField(**AMOUNT)
    # The invoice that bills it (draft ones included), so touching that invoice re-reads this entry.
    invoice_id = models.BigIntegerField(null=True, blank=True)
    approved_on = models.DateField(null=True, blank=True)
    # Days from approval to the release of the invoice that bills it; null until released.
    days_to_invoice = models.IntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["invoice_id"], name="time_fact_invoice"),
            models.Index(fields=["date", "person_id", "project_id"], name="time_fact_cell"),
            # Days to invoice of the time approved in a range, read from the index alone.
            models.Index(
                fields=["approved_on", "days_to_invoice"],
                condition=models.Q(days_to_invoice__isnull=False),
                name="time_fact_days_to_invoice",
            ),
        ]


class ExpenseFact(models.Model):
    """An approved expense's cost to the firm (its converted amount) and, while approved, billable and not
    on an invoice, its WIP at rebill value (cost × (1 + markup), rounded as billing rebills it); project
    currency."""

    expense_id = models.BigIntegerField(primary_key=True)
    person_id = models.BigIntegerField()
    project_id = models.BigIntegerField()
    date = models.DateField()
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(**AMOUNT)
    wip_value = models.DecimalField(**AMOUNT)
    invoice_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["invoice_id"], name="expense_fact_invoice"),
            models.Index(fields=["date", "person_id", "project_id"], name="expense_fact_cell"),
        ]


class DailyRollup(models.Model):
    """One person's approved work on one project on one day, summed from the facts (project currency)."""

    date = models.DateField()
    person = models.ForeignKey(
        "projects.Person", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    currency = models.CharField(max_length=3)
    hours = models.DecimalField(**HOURS)
    billable_hours = models.DecimalField(**HOURS)
    standard_value = models.DecimalField(**AMOUNT)
    billed_standard_value = models.DecimalField(**AMOUNT)
    time_cost = models.DecimalField(**AMOUNT)
    expense_cost = models.DecimalField(**AMOUNT)
    billed_value = models.DecimalField(**AMOUNT)
    wip_value = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["date", "person", "project"], name="daily_rollup_cell"),
        ]
        indexes = [
            models.Index(fields=["person", "date"], name="daily_rollup_person"),
            models.Index(fields=["project", "date"], name="daily_rollup_project"),
            # WIP is summed over all time, not the period: only the few cells that still hold some.
            models.Index(fields=["date"], condition=~models.Q(wip_value=0), name="daily_rollup_wip"),
            # The currencies worked in, found one index probe each rather than by a scan of every cell.
            models.Index(fields=["currency", "date"], name="daily_rollup_currency"),
        ]


class MonthlyRollup(models.Model):
    """The daily cells of one person on one project in one month, summed (project currency).

    Whole months of a KPI period read these instead of every day: a person books a project on many days
    of a month, so a year by month reads a fraction of the daily cells. Derived from `DailyRollup` by the
    same refresh, for exactly the months whose days it touched.
    """

    month = models.DateField()
    person = models.ForeignKey(
        "projects.Person", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    currency = models.CharField(max_length=3)
    hours = models.DecimalField(**HOURS)
    billable_hours = models.DecimalField(**HOURS)
    standard_value = models.DecimalField(**AMOUNT)
    billed_standard_value = models.DecimalField(**AMOUNT)
    time_cost = models.DecimalField(**AMOUNT)
    expense_cost = models.DecimalField(**AMOUNT)
    billed_value = models.DecimalField(**AMOUNT)
    wip_value = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "person", "project"], name="monthly_rollup_cell"),
        ]
        indexes = [models.Index(fields=["person", "month"], name="monthly_rollup_person")]


class InvoiceLagRollup(models.Model):
    """How many time entries approved on a day were invoiced how many days later: the firm's days-to-
    invoice histogram, so its median and p90 over a range read a few rows per day, not every fact."""

    approved_on = models.DateField()
    days_to_invoice = models.IntegerField()
    entries = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["approved_on", "days_to_invoice"], name="invoice_lag_rollup_cell"
            ),
        ]


class GLMonthRollup(models.Model):
    """Functional debits and credits of one account in one month, per client and project dimension.

    `client_id` / `project_id` are 0 when the journal lines carry none (0, not null, so the unique key
    holds: NULLs never collide).
    """

    legal_entity_id = models.BigIntegerField()
    account_id = models.BigIntegerField()
    month = models.DateField()
    client_id = models.BigIntegerField(default=0)
    project_id = models.BigIntegerField(default=0)
    functional_debit = models.DecimalField(**AMOUNT)
    functional_credit = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account_id", "month", "client_id", "project_id"], name="gl_month_rollup_cell"
            ),
        ]
        indexes = [models.Index(fields=["legal_entity_id", "month"], name="gl_month_rollup_entity")]


class RollupState(models.Model):
    """How far a rollup has read its sources: the source rows changed after `watermark` are re-read."""

    name = models.CharField(max_length=30, primary_key=True)
    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # What the last refresh re-read, shown on the dashboards' freshness line.
    last_entries = models.PositiveIntegerField(default=0)
    last_cells = models.PositiveIntegerField(default=0)
