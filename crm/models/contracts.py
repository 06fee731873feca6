"""Contracts: what the client signed, numbered per legal entity, versioned by amendments."""

from django.conf import settings
from django.db import models

from crm.choices import ContractStatus, TriggerKind
from crm.models.terms import LineTerms


class Contract(models.Model):
    """What the client signed: numbered per legal entity, in one currency, with dated terms.

    `version` is the current version; its lines are the contract's lines. Older versions stay readable.
    """

    Status = ContractStatus

    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="contracts")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="contracts")
    opportunity = models.ForeignKey(
        "crm.Opportunity", null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    quote = models.ForeignKey(
        "crm.Quote", null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    number = models.CharField(max_length=50)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3)
    start = models.DateField()
    end = models.DateField()
    total_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    version = models.PositiveSmallIntegerField(default=1)
    # Copied from the client when signed, so invoices follow what was agreed.
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    tax_code = models.CharField(max_length=20, blank=True)
    # The client-specific rate card the handoff created in projects (an id: projects owns rate cards).
    rate_card_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "number"], name="contract_number_unique_per_entity"
            ),
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="contract_dates"),
            # Winning an opportunity twice, even concurrently, can never make a second contract.
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=models.Q(opportunity__isnull=False),
                name="contract_one_per_opportunity",
            ),
        ]

    def __str__(self):
        return self.number


class ContractSequence(models.Model):
    """The next contract number of a legal entity; the row is locked while a number is drawn."""

    legal_entity = models.OneToOneField("ledger.LegalEntity", on_delete=models.PROTECT, related_name="+")
    next_number = models.PositiveIntegerField(default=1)


class ContractVersion(models.Model):
    """One version of a contract's terms: version 1 as signed, each amendment (change order) the next.

    Who made it, when and why; old versions and their lines are kept, never edited.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    start = models.DateField()
    end = models.DateField()
    total_amount = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contract_version_unique"),
        ]

    def __str__(self):
        return f"{self.contract} v{self.number}"


class ContractLine(LineTerms):
    """A line of one contract version; `schedule` is what billing builds its plan from.

    `schedule` by billing model: time and materials {"frequency": "monthly"}; fixed fee {"instalments":
    [{"date", "amount"}]} or {"milestones": [...]}; milestone {"milestones": [{"name", "due", "amount"}]};
    retainer and subscription {"period", "periods": [{"start", "end", "amount"}], "period_amount",
    "period_hours", "overage_rate", "unused_hours", "cycle_day"}. Amounts are decimal strings.
    `origin` links a line to the one it continues in the previous version, so plans follow amendments.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="all_lines")
    contract_version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="lines")
    origin = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="continuations"
    )
    description = models.CharField(max_length=200)
    schedule = models.JSONField(default=dict, blank=True)
    # The rate card the line's time is billed at (projects owns rate cards; an id).
    rate_card_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.description


class RenewalTrigger(models.Model):
    """That a renewal trigger fired for a contract: at most once per contract and kind (nightly-safe)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="renewal_triggers")
    kind = models.CharField(max_length=12, choices=TriggerKind.choices)
    fired_at = models.DateTimeField(auto_now_add=True)
    consumption_percent = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    activity = models.ForeignKey(
        "crm.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "kind"], name="renewal_trigger_once"),
        ]
