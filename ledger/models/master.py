from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.choices import AccountRole, AccountType, NormalBalance, PeriodStatus
from ledger.models.fields import currency_field, rate_field


class Currency(models.Model):
    """An ISO 4217 currency and its minor unit (JPY 0, USD 2, KWD 3)."""

    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=100)
    minor_units = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self):
        return self.code


class LegalEntity(models.Model):
    """A company of the firm that books its own ledger in its functional currency."""

    name = models.CharField(max_length=200, unique=True)
    functional_currency = currency_field()
    address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=50, blank=True)
    # Invoice numbers of this entity start with this, e.g. "US-" → US-2026-000123.
    invoice_prefix = models.CharField(max_length=10)
    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    # Write-offs above this (in functional currency) need a second person's approval.
    write_off_approval_threshold = models.DecimalField(max_digits=20, decimal_places=4, default=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "legal entities"
        constraints = [
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="legal_entity_fiscal_month_valid",
            ),
        ]

    def __str__(self):
        return self.name


class ExchangeRate(models.Model):
    """How many `to_currency` one `from_currency` buys on `date` (1 EUR = 1.08 USD: from EUR, to USD)."""

    from_currency = currency_field()
    to_currency = currency_field()
    date = models.DateField()
    rate = rate_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "from_currency", "to_currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_currency", "to_currency", "date"], name="exchange_rate_unique_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(
                condition=~Q(from_currency=models.F("to_currency")), name="exchange_rate_two_currencies"
            ),
        ]

    def __str__(self):
        return f"1 {self.from_currency} = {self.rate} {self.to_currency} on {self.date}"


class GLAccount(models.Model):
    """An account of a legal entity's chart. `role` marks the accounts services post to automatically."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="accounts")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=AccountType.choices)
    normal_balance = models.CharField(max_length=6, choices=NormalBalance.choices)
    role = models.CharField(max_length=30, choices=AccountRole.choices, null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "code"], name="gl_account_code_unique"),
            models.UniqueConstraint(
                fields=["legal_entity", "role"],
                condition=Q(role__isnull=False),
                name="gl_account_role_unique",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class FiscalPeriod(models.Model):
    """A month of a legal entity's fiscal year; nothing posts into it once closed."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="periods")
    fiscal_year = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField()
    start = models.DateField()
    end = models.DateField()
    status = models.CharField(max_length=6, choices=PeriodStatus.choices, default=PeriodStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The last reopening, shown on the period; every reopening is also in the audit trail.
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reopen_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["legal_entity", "start"]
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "start"], name="fiscal_period_unique_start"),
            models.UniqueConstraint(
                fields=["legal_entity", "fiscal_year", "number"], name="fiscal_period_unique_number"
            ),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="fiscal_period_ordered"),
        ]

    def __str__(self):
        return f"{self.legal_entity} {self.start:%Y-%m}"

    @property
    def is_open(self) -> bool:
        return self.status == PeriodStatus.OPEN
