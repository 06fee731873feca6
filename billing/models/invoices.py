from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.choices import HoldStatus, InvoiceStatus, SourceType
from billing.models.fields import amount_field, hours_field


class DocumentSequence(models.Model):
    """The next invoice (or credit note) number of a legal entity in a year; locked while drawn."""

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12)
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "year", "kind"], name="document_sequence_unique")
        ]


class Invoice(models.Model):
    """A bill to one client under one contract: drafted by a billing run (or by hand), reviewed,
    released (numbered, dated, posted to the ledger and AR), sent, paid or voided by a credit note.

    Amounts are in `currency` (the contract's); `rate` and `functional_total_amount` are fixed at
    release. `status` stores draft/released/sent/void; whether it is paid is read from its AR item.
    """

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    run = models.ForeignKey(
        "billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    number = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=15, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    period_end = models.DateField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    currency = models.CharField(max_length=3)
    subtotal_amount = amount_field(default=0)
    tax_amount = amount_field(default=0)
    total_amount = amount_field(default=0)
    rate = models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True)
    functional_total_amount = amount_field(null=True, blank=True)
    # Anomaly flags for the review workbench: [{"code", "message"}], refreshed whenever lines change.
    flags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    journal_entry = models.ForeignKey(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ar_item = models.ForeignKey(
        "ledger.ArItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=500, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "number"], condition=~Q(number=""), name="invoice_number_unique"
            ),
            # A run makes at most one invoice per contract, even if its task runs twice.
            models.UniqueConstraint(
                fields=["run", "contract"],
                condition=Q(run__isnull=False),
                name="invoice_one_per_run_contract",
            ),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(
                condition=Q(status="draft") | ~Q(number=""), name="invoice_released_has_number"
            ),
        ]
        indexes = [
            models.Index(fields=["legal_entity", "status"], name="invoice_entity_status"),
            models.Index(fields=["contract", "status"], name="invoice_contract_status"),
            models.Index(fields=["account", "issue_date"], name="invoice_account_issued"),
        ]

    def __str__(self):
        return self.number or f"Draft #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class InvoiceLine(models.Model):
    """One line of an invoice: `quantity × unit_price` rounded to the currency once, here.

    Time lines group a plan's entries by role and rate; expense lines by category; an item line is one
    milestone, instalment, period or retainer event. `original_*` keep what the run priced, so an edit
    (always with a reason) is a measurable write-up or write-down.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=300)
    source_type = models.CharField(max_length=20, choices=SourceType.choices, default=SourceType.MANUAL)
    plan = models.ForeignKey(
        "billing.BillingPlan", null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    role = models.ForeignKey(
        "projects.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=20, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=20, decimal_places=4)
    amount = amount_field()
    tax_code = models.CharField(max_length=20, blank=True)
    original_quantity = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    original_unit_price = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    original_amount = amount_field(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self):
        return self.description


class LineAdjustment(models.Model):
    """A change of a draft line's quantity or price, with why: a write-up or write-down (realization)."""

    line = models.ForeignKey(InvoiceLine, on_delete=models.CASCADE, related_name="adjustments")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="adjustments")
    quantity_before = models.DecimalField(max_digits=14, decimal_places=4)
    quantity_after = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price_before = models.DecimalField(max_digits=20, decimal_places=4)
    unit_price_after = models.DecimalField(max_digits=20, decimal_places=4)
    # after − before: positive is a write-up, negative a write-down.
    amount_change = amount_field()
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class TimeEntryBilling(models.Model):
    """The bill-once link: a time entry consumed by billing. The primary key *is* the entry, so the
    database itself refuses a second link, whichever run or process tries.

    `invoice_line` is the line that bills it (null when a retainer's balance absorbed it all). `amount`
    is what the line charges for it when that is not simply hours × the entry's rate (a split at a cap
    or at a retainer's balance). Rows are only appended by runs; removing an entry from a draft or
    crediting it deletes the row (the credit keeps its own record), which returns the entry to unbilled.
    """

    time_entry = models.OneToOneField(
        "projects.TimeEntry",
        primary_key=True,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="billing",
    )
    plan = models.ForeignKey(
        "billing.BillingPlan", on_delete=models.PROTECT, db_constraint=False, related_name="+"
    )
    invoice_line = models.ForeignKey(
        InvoiceLine,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="time_links",
    )
    run = models.ForeignKey(
        "billing.BillingRun",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    billed_hours = hours_field(null=True, blank=True)
    amount = amount_field(null=True, blank=True)
    drawn_hours = hours_field(null=True, blank=True)


class ExpenseBilling(models.Model):
    """The bill-once link of an expense (see `TimeEntryBilling`); `amount` is its rounded rebill value."""

    expense = models.OneToOneField(
        "projects.Expense", primary_key=True, on_delete=models.PROTECT, related_name="billing"
    )
    plan = models.ForeignKey("billing.BillingPlan", on_delete=models.PROTECT, related_name="+")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="expense_links")
    run = models.ForeignKey(
        "billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = amount_field()


class OverCapEntry(models.Model):
    """The part of a time entry a not-to-exceed cap stopped: held until finance writes it off or a
    change order raises the cap (then a run bills it)."""

    time_entry = models.OneToOneField(
        "projects.TimeEntry", primary_key=True, on_delete=models.PROTECT, related_name="over_cap"
    )
    plan = models.ForeignKey("billing.BillingPlan", on_delete=models.PROTECT, related_name="over_cap_entries")
    run = models.ForeignKey(
        "billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hours = hours_field()
    amount = amount_field()
    status = models.CharField(max_length=12, choices=HoldStatus.choices, default=HoldStatus.HELD)
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="over_cap_links"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "time_entry"]
        indexes = [models.Index(fields=["plan", "status"], name="over_cap_plan_status")]
