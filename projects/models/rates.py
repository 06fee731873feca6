from django.conf import settings
from django.db import models
from django.db.models import F, Q

from projects.models.fields import currency_field, money_field


class Role(models.Model):
    """A delivery role people are staffed and billed as (Senior consultant, Analyst, …)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RateCard(models.Model):
    """Bill rates per role in one currency, effective-dated.

    Its scope decides where it applies: a card with a `contract` prices that contract's projects; one with
    only an `account` prices that client's projects; one with neither is a standard card. Several cards
    of one scope may exist; for a role and day the most recently created card with a rate wins.
    """

    name = models.CharField(max_length=200)
    currency = currency_field()
    account = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="rate_cards"
    )
    contract = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="rate_cards"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["contract"], name="rate_card_contract"),
            models.Index(fields=["account"], name="rate_card_account"),
        ]

    def __str__(self):
        return self.name

    @property
    def scope(self) -> str:
        if self.contract_id:
            return "contract"
        return "client" if self.account_id else "standard"


class RateCardRate(models.Model):
    """The bill rate of a role on a card from `valid_from` to `valid_to` (open-ended when empty).

    A card's rates of one role never overlap in time (checked by the service that writes them).
    """

    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="rates")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")
    rate = money_field()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["rate_card", "role", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="rate_card_rate_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="rate_card_rate_dates",
            ),
            models.UniqueConstraint(
                fields=["rate_card", "role", "valid_from"], name="rate_card_rate_unique_start"
            ),
        ]

    def __str__(self):
        return f"{self.role}: {self.rate} from {self.valid_from}"


class ProjectRateOverride(models.Model):
    """A person's own bill rate on one project (in the project's currency), effective-dated; it beats
    every rate card."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rate_overrides")
    person = models.ForeignKey("projects.Person", on_delete=models.CASCADE, related_name="rate_overrides")
    rate = money_field()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "person", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="rate_override_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="rate_override_dates",
            ),
            models.UniqueConstraint(
                fields=["project", "person", "valid_from"], name="rate_override_unique_start"
            ),
        ]

    def __str__(self):
        return f"{self.person} on {self.project}: {self.rate}"


class CostRate(models.Model):
    """What an hour of a person costs the firm, in `currency`, from `valid_from` to `valid_to`."""

    person = models.ForeignKey("projects.Person", on_delete=models.CASCADE, related_name="cost_rates")
    rate = money_field()
    currency = currency_field()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="cost_rate_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="cost_rate_dates"
            ),
            models.UniqueConstraint(fields=["person", "valid_from"], name="cost_rate_unique_start"),
        ]

    def __str__(self):
        return f"{self.person}: {self.rate} {self.currency} from {self.valid_from}"
