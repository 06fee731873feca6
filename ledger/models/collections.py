from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.choices import HoldKind, HoldStatus
from ledger.models.ar import ArItem
from ledger.models.fields import amount_field, currency_field
from ledger.models.master import LegalEntity


class CollectionHold(models.Model):
    """A pause on collecting: a disputed invoice, or a client's promise to pay by a date.

    An open hold on an item (or, with no item, on the whole client) makes dunning skip it and say why.
    A dispute lasts until resolved; a promise until `until`, after which it is kept (paid) or broken.
    """

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="collection_holds")
    # None: the hold covers every open item of the client.
    ar_item = models.ForeignKey(
        ArItem, null=True, blank=True, on_delete=models.PROTECT, related_name="collection_holds"
    )
    kind = models.CharField(max_length=7, choices=HoldKind.choices)
    status = models.CharField(max_length=8, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    reason = models.TextField()
    # Who works the dispute or follows up the promise.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Promises: the date payment is promised by, and how much (in `currency`).
    until = models.DateField(null=True, blank=True)
    promised_amount = amount_field(null=True, blank=True)
    currency = currency_field(blank=True)
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=HoldKind.DISPUTE) | Q(until__isnull=False),
                name="collection_hold_promise_date",
            ),
            models.CheckConstraint(
                condition=Q(promised_amount__isnull=True) | Q(promised_amount__gt=0),
                name="collection_hold_promised_positive",
            ),
            # One open dispute per invoice: a second one would only hide the first.
            models.UniqueConstraint(
                fields=["ar_item"],
                condition=Q(kind=HoldKind.DISPUTE, status=HoldStatus.OPEN, ar_item__isnull=False),
                name="collection_hold_one_open_dispute",
            ),
        ]
        indexes = [
            models.Index(fields=["client"], condition=Q(status=HoldStatus.OPEN), name="collection_hold_open"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.client}"
