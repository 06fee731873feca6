"""Clients (accounts) with their hierarchy, the people there (contacts) and sales activities with them."""

from django.conf import settings
from django.db import models

from crm.choices import ActivityKind


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
    # Open AR (in the client's currency) above which new invoices are flagged for review; null: no limit.
    credit_limit = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    # The tax code invoices to this client carry by default (billing's tax codes, by code).
    tax_code = models.CharField(max_length=20, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    # The client's web domain ("contoso.com"), for duplicate detection and matching e-mail senders.
    domain = models.CharField(max_length=200, blank=True)
    # Name folded for duplicate detection: lower case, no punctuation, legal suffixes dropped.
    normalized_name = models.CharField(max_length=200, blank=True, db_index=True)
    billing_contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["legal_entity", "name"], name="crm_account_entity_name"),
            models.Index(fields=["domain"], name="crm_account_domain"),
        ]

    def __str__(self):
        return self.name


class Contact(models.Model):
    """A person at a client: the buyer, the project sponsor, the one who receives the invoices."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    # Their role at the client, e.g. "CFO" or "Project sponsor".
    role = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Activity(models.Model):
    """A call, meeting, e-mail or task with a client, due on a day, owned by one person until done."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="activities")
    opportunity = models.ForeignKey(
        "crm.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    contract = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    subject = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    due = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due", "id"]
        indexes = [models.Index(fields=["owner", "done", "due"], name="crm_activity_owner_open")]

    def __str__(self):
        return self.subject
