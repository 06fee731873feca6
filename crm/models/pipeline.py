"""The sales pipeline: configurable stages, opportunities with the lines they sell, and stage history."""

from django.conf import settings
from django.db import models

from crm.choices import StageOutcome
from crm.models.terms import LineTerms


class PipelineStage(models.Model):
    """One step of the sales pipeline, with the win probability a deal gets when it enters it.

    Exactly one stage is the won stage and one the lost stage; the open ones are shown as board columns
    in `position` order. Admins configure them; opportunities refer to them by `code`.
    """

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0)
    probability = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=4, choices=StageOutcome.choices, default=StageOutcome.OPEN)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=100), name="stage_probability_range"
            ),
            models.UniqueConstraint(
                fields=["outcome"], condition=~models.Q(outcome="open"), name="stage_one_won_one_lost"
            ),
        ]

    def __str__(self):
        return self.name


class Opportunity(models.Model):
    """A deal in the pipeline; its lines carry what delivery and finance will need once it is won."""

    class Stage(models.TextChoices):
        """The codes of the stages every installation starts with (PipelineStage rows may add more)."""

        QUALIFY = "qualify", "Qualify"
        PROPOSE = "propose", "Propose"
        NEGOTIATE = "negotiate", "Negotiate"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="opportunities")
    name = models.CharField(max_length=200)
    # A PipelineStage code.
    stage = models.CharField(max_length=20, default=Stage.QUALIFY, db_index=True)
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
    # Where the deal came from: referral, website, renewal, …
    source = models.CharField(max_length=50, blank=True)
    description = models.TextField(blank=True)
    lost_reason = models.CharField(max_length=500, blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # A renewal or expansion opened by the renewal trigger of this contract (at most one per contract).
    renewal_of = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expected_close", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=100),
                name="opportunity_probability_range",
            ),
            models.UniqueConstraint(
                fields=["renewal_of"],
                condition=models.Q(renewal_of__isnull=False),
                name="opportunity_one_renewal_per_contract",
            ),
        ]
        indexes = [models.Index(fields=["owner", "stage"], name="crm_opp_owner_stage")]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage not in (self.Stage.WON, self.Stage.LOST)


class OpportunityLine(LineTerms):
    """One service sold: its billing model, role and hours at a rate (or an amount), and its dates."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    service = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="opportunity_line_dates"
            ),
        ]

    def __str__(self):
        return f"{self.service} ({self.get_billing_model_display()})"


class StageChange(models.Model):
    """Append-only stage history of an opportunity, for conversion and cycle-time analytics."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, blank=True)
    to_stage = models.CharField(max_length=20)
    probability = models.PositiveSmallIntegerField()
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["to_stage", "changed_at"], name="crm_stage_change_to")]

    def __str__(self):
        return f"{self.from_stage or '∅'} → {self.to_stage}"
