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
