"""Collection holds API: disputes and promises to pay that pause dunning, and resolving them.

Finance and account managers (project managers, for the clients they own) write; executives and
integrators read too. Every write calls `ledger.services.collections`.
"""

import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.errors import ValidationFailed
from core.roles import Role
from crm.models import Account
from ledger.api.serializers import AmountField, invoice_id_of
from ledger.api.views import LedgerViewSet
from ledger.choices import ArItemKind, HoldKind, HoldStatus
from ledger.models import ArItem, CollectionHold, LegalEntity
from ledger.services.collections import open_dispute, record_promise_to_pay, resolve_hold

HOLD_PERMISSIONS = [
    *base.APIView.permission_classes,
    role_permission(
        read=(Role.FINANCE, Role.PROJECT_MANAGER, Role.EXECUTIVE, Role.INTEGRATOR),
        write=(Role.FINANCE, Role.PROJECT_MANAGER),
    ),
]


class CollectionHoldSerializer(serializers.ModelSerializer):
    client_name = serializers.CharField(source="client.name", read_only=True)
    number = serializers.CharField(source="ar_item.number", read_only=True, allow_null=True, default=None)
    invoice = serializers.SerializerMethodField()
    promised_amount = AmountField(allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = CollectionHold
        fields = [
            "id", "legal_entity", "client", "client_name", "ar_item", "number", "invoice", "kind", "status",
            "reason", "owner", "until", "promised_amount", "currency", "resolution", "resolved_at",
            "resolved_by", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="The billing invoice, if any."))
    def get_invoice(self, hold):
        return invoice_id_of(hold.ar_item) if hold.ar_item_id else None


def _open_invoices():
    return ArItem.objects.filter(kind=ArItemKind.INVOICE, amount__gt=0)


class CollectionHoldCreateSerializer(serializers.Serializer):
    """A dispute (`ar_item`, `reason`, optional `owner`) or a promise (`client`, `until`, `amount`, …)."""

    kind = serializers.ChoiceField(choices=HoldKind.choices)
    ar_item = serializers.PrimaryKeyRelatedField(
        queryset=_open_invoices(), required=False, help_text="Dispute: the AR item of the disputed invoice."
    )
    reason = serializers.CharField(required=False, allow_blank=True, help_text="Dispute: what is disputed.")
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Dispute: who works it (default: you).",
    )
    client = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, help_text="Promise: the client."
    )
    until = serializers.DateField(required=False, help_text="Promise: the day payment is promised by.")
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Promise: the amount promised."
    )
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Promise: defaults to the client's."
    )
    ar_items = serializers.PrimaryKeyRelatedField(
        queryset=_open_invoices(),
        many=True,
        required=False,
        help_text="Promise: the invoices it covers (the amount spread oldest due first); none: the account.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        needed = ("ar_item", "reason") if attrs["kind"] == HoldKind.DISPUTE else ("client", "until", "amount")
        missing = {name: ["This field is required."] for name in needed if attrs.get(name) in (None, "")}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(allow_blank=True, help_text="How it was resolved, or why withdrawn.")


class CollectionHoldFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    client = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    ar_item = django_filters.NumberFilter()
    kind = django_filters.ChoiceFilter(choices=HoldKind.choices)
    status = django_filters.ChoiceFilter(choices=HoldStatus.choices)

    class Meta:
        model = CollectionHold
        fields = ["legal_entity", "client", "ar_item", "kind", "status"]


class CollectionHoldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Disputes and promises to pay: while open, dunning skips what they cover and says why."""

    model = CollectionHold
    serializer_class = CollectionHoldSerializer
    filterset_class = CollectionHoldFilterSet
    permission_classes = HOLD_PERMISSIONS

    def visible(self):
        return CollectionHold.objects.select_related("client", "ar_item")

    @extend_schema(
        request=CollectionHoldCreateSerializer, responses={201: CollectionHoldSerializer(many=True)}
    )
    def create(self, request):
        """Open a dispute on an invoice, or record a promise to pay. Returns the holds created: one, or one
        per invoice of a promise on several. A second open dispute on an invoice is 409 `already_disputed`."""
        payload = CollectionHoldCreateSerializer(data=request.data)
        if not payload.is_valid():
            raise ValidationFailed("The hold is invalid; see fields.", fields=payload.errors)
        data = payload.validated_data
        if data["kind"] == HoldKind.DISPUTE:
            holds = [
                open_dispute(
                    actor=request.user,
                    ar_item=data["ar_item"],
                    reason=data["reason"],
                    owner=data.get("owner"),
                )
            ]
        else:
            holds = record_promise_to_pay(
                actor=request.user,
                client=data["client"],
                until=data["until"],
                amount=data["amount"],
                currency=data.get("currency"),
                ar_items=data.get("ar_items") or None,
                note=data["note"],
            )
        rows = self.visible().filter(pk__in=[hold.pk for hold in holds]).order_by("id")
        return Response(self.get_serializer(rows, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ResolveSerializer, responses=CollectionHoldSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolve an open dispute or withdraw an open promise (409 `invalid_transition` if not open)."""
        hold = self.get_object()
        payload = ResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hold = resolve_hold(actor=request.user, hold=hold, resolution=payload.validated_data["resolution"])
        return Response(self.get_serializer(self.reread(hold)).data)
