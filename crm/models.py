from django.conf import settings
from django.db import models


class Account(models.Model):
    """A client firm (or a subsidiary of one) that the firm sells to and invoices."""

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subsidiaries"
    )
    # The firm's company that contracts with and invoices this client.
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="clients")
    currency = models.CharField(max_length=3)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    billing_email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    # Overdue reminders follow this policy; without one, the legal entity's default policy applies.
    dunning_policy = models.ForeignKey(
        "ledger.DunningPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="clients"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["legal_entity", "name"], name="crm_account_entity_name")]

    def __str__(self):
        return self.name


class BillingModel(models.TextChoices):
    TIME_AND_MATERIALS = "time_and_materials", "Time and materials"
    FIXED_FEE = "fixed_fee", "Fixed fee"
    MILESTONE = "milestone", "Milestone"
    RETAINER = "retainer", "Retainer"
    SUBSCRIPTION = "subscription", "Subscription"


class Opportunity(models.Model):
    """A deal in the pipeline; its lines carry what delivery and finance will need once it is won."""

    class Stage(models.TextChoices):
        QUALIFY = "qualify", "Qualify"
        PROPOSE = "propose", "Propose"
        NEGOTIATE = "negotiate", "Negotiate"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="opportunities")
    name = models.CharField(max_length=200)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.QUALIFY)
    # Percent, 0–100; defaults from the stage and may be overridden per deal.
    probability = models.PositiveSmallIntegerField(default=10)
    amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    currency = models.CharField(max_length=3)
    expected_close = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expected_close", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=100),
                name="opportunity_probability_range",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage not in (self.Stage.WON, self.Stage.LOST)


class OpportunityLine(models.Model):
    """One service sold: its billing model, role and hours at a rate (or an amount), and its dates."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    service = models.CharField(max_length=200)
    billing_model = models.CharField(max_length=20, choices=BillingModel.choices)
    role = models.ForeignKey(
        "projects.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hours = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    rate = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    start = models.DateField()
    end = models.DateField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="opportunity_line_dates"
            ),
        ]

    def __str__(self):
        return f"{self.service} ({self.get_billing_model_display()})"


class Contract(models.Model):
    """What the client signed: numbered per legal entity, in one currency, with dated terms."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="contracts")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="contracts")
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    number = models.CharField(max_length=50)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3)
    start = models.DateField()
    end = models.DateField()
    total_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "number"], name="contract_number_unique_per_entity"
            ),
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="contract_dates"),
        ]

    def __str__(self):
        return self.number
