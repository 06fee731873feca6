from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.choices import DunningNoticeStatus, DunningRunStatus, DunningRunTrigger
from ledger.models.ar import ArItem
from ledger.models.fields import amount_field, currency_field
from ledger.models.master import LegalEntity


class DunningPolicy(models.Model):
    """How a legal entity reminds clients of overdue invoices: ordered levels with fee, interest, e-mail.

    A client follows the policy assigned to it, else its entity's default. Fees are billed in
    `fee_currency` only; a client billed in another currency cannot be given a policy that charges fees.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="dunning_policies")
    name = models.CharField(max_length=200)
    # The currency the levels' fees are in; fees are never converted (DESIGN.md "Money").
    fee_currency = currency_field()
    # Rendered into every notice as `payment_instructions` (bank details, payment link).
    payment_instructions = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    # An inactive policy pauses dunning for the clients assigned to it; it cannot be the default.
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_entity", "name"]
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "name"], name="dunning_policy_unique_name"),
            models.UniqueConstraint(
                fields=["legal_entity"], condition=Q(is_default=True), name="dunning_policy_one_default"
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(active=True), name="dunning_policy_default_active"
            ),
        ]

    def __str__(self):
        return self.name


class DunningLevel(models.Model):
    """One step of a policy: reached when an invoice is `days_overdue` days past due.

    Levels are numbered 1..n with strictly increasing days (checked by the service that saves them).
    Interest is simple: open × percent ÷ 100 ÷ 365 × days not charged before.
    """

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField()
    days_overdue = models.PositiveIntegerField()
    fee_amount = amount_field(default=0)
    annual_interest_percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    # Django template syntax, rendered with plain values only (see services.dunning.render_context).
    subject_template = models.CharField(max_length=500)
    body_template = models.TextField()
    # Copy the account owner on the notice and emit `dunning.escalated`.
    escalate_to_owner = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy", "level"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="dunning_level_unique"),
            models.CheckConstraint(condition=Q(level__gte=1), name="dunning_level_positive"),
            models.CheckConstraint(condition=Q(days_overdue__gte=1), name="dunning_level_days_positive"),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="dunning_level_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(annual_interest_percent__isnull=True)
                | Q(annual_interest_percent__gte=0, annual_interest_percent__lte=100),
                name="dunning_level_percent_range",
            ),
        ]

    def __str__(self):
        return f"{self.policy} level {self.level}"


class DunningRun(models.Model):
    """One evaluation of a legal entity's overdue AR as of a day; a long job with progress and counters.

    At most one run per entity and day is pending or running, and the scheduler starts at most one
    nightly run per entity and day; both are guaranteed by partial unique constraints.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="dunning_runs")
    as_of = models.DateField()
    trigger = models.CharField(
        max_length=7, choices=DunningRunTrigger.choices, default=DunningRunTrigger.MANUAL
    )
    status = models.CharField(
        max_length=9, choices=DunningRunStatus.choices, default=DunningRunStatus.PENDING
    )
    # Clients with overdue open invoices as of `as_of`, whether or not they got a notice this time.
    clients_evaluated = models.PositiveIntegerField(default=0)
    notices_created = models.PositiveIntegerField(default=0)
    items_noticed = models.PositiveIntegerField(default=0)
    # Overdue invoices that reached a level but were not noticed: on a dispute or a promise to pay.
    items_on_hold = models.PositiveIntegerField(default=0)
    # Why, per client: [{"client", "client_name", "kind", "reason", "items": [numbers]}], set at the start.
    skipped = models.JSONField(default=list, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk; a running run whose heartbeat is stale may be claimed again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "as_of"],
                condition=Q(status__in=[DunningRunStatus.PENDING, DunningRunStatus.RUNNING]),
                name="dunning_run_one_active",
            ),
            models.UniqueConstraint(
                fields=["legal_entity", "as_of"],
                condition=Q(trigger=DunningRunTrigger.NIGHTLY),
                name="dunning_run_one_nightly",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="dunning_run_progress_range"),
        ]

    def __str__(self):
        return f"Dunning run {self.pk} of {self.legal_entity} as of {self.as_of}"


class DunningNotice(models.Model):
    """One reminder to a client: its invoices that reached one level, in one currency, with the charges.

    Amounts are in `currency` (the items'). `fee_amount + interest_amount` is billed as a fee receivable
    (`fee_item`) so it shows in AR and aging. Subject and body are rendered when the notice is created.
    """

    run = models.ForeignKey(DunningRun, on_delete=models.PROTECT, related_name="notices")
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="dunning_notices")
    policy = models.ForeignKey(DunningPolicy, on_delete=models.PROTECT, related_name="notices")
    # The level row as it was applied; kept as a number too, since a policy's levels may be edited later.
    policy_level = models.ForeignKey(
        DunningLevel, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    level = models.PositiveSmallIntegerField()
    currency = currency_field()
    total_open = amount_field()
    interest_amount = amount_field(default=0)
    fee_amount = amount_field(default=0)
    total_due = amount_field()
    # Why no fee was billed although the level has one (the policy's fee currency differs).
    fee_note = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    recipient = models.EmailField(blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=7, choices=DunningNoticeStatus.choices, default=DunningNoticeStatus.PENDING
    )
    failure_reason = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    fee_item = models.OneToOneField(
        ArItem, null=True, blank=True, on_delete=models.PROTECT, related_name="dunning_notice"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_amount__gte=0, interest_amount__gte=0), name="dunning_notice_charges_positive"
            ),
        ]
        indexes = [models.Index(fields=["client", "level"], name="dunning_notice_client_level")]

    def __str__(self):
        return f"Level {self.level} notice to {self.client}"

    @property
    def charges_amount(self):
        """What the notice bills on top of the open invoices: fee plus interest."""
        return self.fee_amount + self.interest_amount


class DunningNoticeItem(models.Model):
    """An invoice on a notice, at a level. Unique per (invoice item, level): the database guarantees that
    an invoice reaches each level once, so no second or concurrent run notices or charges it twice."""

    notice = models.ForeignKey(DunningNotice, on_delete=models.PROTECT, related_name="items")
    ar_item = models.ForeignKey(ArItem, on_delete=models.PROTECT, related_name="dunning_items")
    level = models.PositiveSmallIntegerField()
    days_overdue = models.PositiveIntegerField()
    open_amount = amount_field()
    # Interest is charged for the days past due not charged by an earlier notice of this invoice.
    interest_percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    interest_days = models.PositiveIntegerField(default=0)
    interest_amount = amount_field(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["ar_item", "level"], name="dunning_item_once_per_level"),
        ]

    def __str__(self):
        return f"{self.ar_item} at level {self.level}"
