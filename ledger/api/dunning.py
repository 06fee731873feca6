"""Dunning API: policies (levels nested), runs (start and poll), and the notices they created.

Finance writes; executives and integrators read; other roles are refused (admins pass every check). An
API key also needs the `ledger:read` / `ledger:write` scope. Every write calls `ledger.services.dunning`.
"""

from decimal import Decimal

import django_filters
from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.models import Account
from ledger.api.serializers import AmountField, invoice_id_of
from ledger.api.views import LedgerViewSet
from ledger.choices import DunningNoticeStatus, DunningRunStatus
from ledger.models import (
    DunningLevel,
    DunningNotice,
    DunningNoticeItem,
    DunningPolicy,
    DunningRun,
    LegalEntity,
)
from ledger.services.dunning import (
    InvalidDunningPolicy,
    LevelSpec,
    assign_dunning_policy,
    create_dunning_policy,
    delete_dunning_policy,
    resend_dunning_notice,
    start_dunning_run,
    update_dunning_policy,
)

# Policies


class DunningLevelSerializer(serializers.ModelSerializer):
    fee_amount = AmountField(currency="policy.fee_currency", help_text="In the policy's fee_currency.")
    annual_interest_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, normalize_output=True, read_only=True, allow_null=True
    )
    template = serializers.CharField(
        source="body_template", read_only=True, help_text="The e-mail body (Django template syntax)."
    )

    class Meta:
        model = DunningLevel
        fields = [
            "level", "days_overdue", "fee_amount", "annual_interest_percent", "subject_template", "template",
            "escalate_to_owner",
        ]  # fmt: skip
        read_only_fields = fields


class DunningPolicySerializer(serializers.ModelSerializer):
    levels = DunningLevelSerializer(many=True, read_only=True)

    class Meta:
        model = DunningPolicy
        fields = [
            "id", "legal_entity", "name", "fee_currency", "payment_instructions", "is_default", "active",
            "levels", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


TEMPLATE_HELP = (
    "Django template syntax. Context: client.name, legal_entity.name/address, level, as_of, currency, "
    "items (number, due_date, days_overdue, open_amount, interest), total_open, interest, fee, charges, "
    "total_due, payment_instructions."
)


class DunningLevelInputSerializer(serializers.Serializer):
    """One level; rules (numbering, increasing days, fees ≥ 0, templates compile) are the service's."""

    level = serializers.IntegerField(help_text="1, 2, 3… in order.")
    days_overdue = serializers.IntegerField(
        help_text="Days past due at which the level is reached; increasing."
    )
    fee_amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, default=Decimal(0), help_text="In fee_currency."
    )
    annual_interest_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, required=False, allow_null=True, default=None,
        help_text="Simple interest a year on the open amount for the days not charged before; null: none.",
    )  # fmt: skip
    subject_template = serializers.CharField(
        max_length=500, allow_blank=True, trim_whitespace=False, help_text=TEMPLATE_HELP
    )
    template = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"The e-mail body. {TEMPLATE_HELP}"
    )
    escalate_to_owner = serializers.BooleanField(
        required=False, default=False, help_text="Copy the client's owner and emit dunning.escalated."
    )


def _level_specs(rows: list[dict]) -> list[LevelSpec]:
    return [
        LevelSpec(
            level=row["level"],
            days_overdue=row["days_overdue"],
            fee_amount=row["fee_amount"],
            annual_interest_percent=row["annual_interest_percent"],
            subject_template=row["subject_template"],
            body_template=row["template"],
            escalate_to_owner=row["escalate_to_owner"],
        )
        for row in rows
    ]


@extend_schema_field(DunningLevelInputSerializer(many=True))
class LevelsField(serializers.Field):
    """The levels of a policy, all of them: checked as a whole list even inside a PATCH.

    (A nested serializer would inherit the PATCH's partial mode and accept levels with fields missing.)
    """

    def to_internal_value(self, data):
        levels = DunningLevelInputSerializer(data=data, many=True)
        if not levels.is_valid():
            raise serializers.ValidationError(levels.errors)
        return levels.validated_data

    def to_representation(self, value):
        return value


class DunningPolicyCreateSerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    name = serializers.CharField(max_length=200, allow_blank=True)
    fee_currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Defaults to the entity's functional currency."
    )
    payment_instructions = serializers.CharField(required=False, allow_blank=True, default="")
    is_default = serializers.BooleanField(
        required=False, default=False, help_text="The policy of the entity's clients without their own."
    )
    active = serializers.BooleanField(required=False, default=True)
    levels = DunningLevelInputSerializer(many=True, allow_empty=True)


class DunningPolicyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True)
    fee_currency = serializers.CharField(min_length=3, max_length=3, required=False)
    payment_instructions = serializers.CharField(required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)
    levels = LevelsField(help_text="Replaces all levels.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
        return attrs


class DunningAssignmentSerializer(serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    policy = serializers.PrimaryKeyRelatedField(
        queryset=DunningPolicy.objects.all(),
        allow_null=True,
        help_text="null: the client follows its legal entity's default policy.",
    )


class DunningAssignmentResultSerializer(serializers.Serializer):
    client = serializers.IntegerField(source="pk")
    client_name = serializers.CharField(source="name")
    policy = serializers.IntegerField(source="dunning_policy_id", allow_null=True)


def _policy_input(serializer_class, request, *, partial: bool = False) -> dict:
    """Parse a policy body; any problem is the same `invalid_dunning_policy` error the service raises."""
    payload = serializer_class(data=request.data, partial=partial)
    if not payload.is_valid():
        raise InvalidDunningPolicy("The dunning policy is invalid; see fields.", fields=payload.errors)
    return payload.validated_data


class DunningPolicyFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    active = django_filters.BooleanFilter()
    is_default = django_filters.BooleanFilter()

    class Meta:
        model = DunningPolicy
        fields = ["legal_entity", "active", "is_default"]


class DunningPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Dunning policies: ordered levels of days overdue, fee, interest and e-mail template."""

    model = DunningPolicy
    serializer_class = DunningPolicySerializer
    filterset_class = DunningPolicyFilterSet

    def visible(self):
        return DunningPolicy.objects.prefetch_related(
            Prefetch("levels", queryset=DunningLevel.objects.order_by("level"))
        )

    @extend_schema(request=DunningPolicyCreateSerializer, responses={201: DunningPolicySerializer})
    def create(self, request):
        """Create a policy with its levels; refused as `invalid_dunning_policy` with errors per level."""
        data = _policy_input(DunningPolicyCreateSerializer, request)
        policy = create_dunning_policy(
            actor=request.user,
            legal_entity=data["legal_entity"],
            name=data["name"],
            fee_currency=data.get("fee_currency"),
            payment_instructions=data["payment_instructions"],
            is_default=data["is_default"],
            active=data["active"],
            levels=_level_specs(data["levels"]),
        )
        return Response(self.get_serializer(self.reread(policy)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DunningPolicyUpdateSerializer, responses=DunningPolicySerializer)
    def update(self, request, pk=None):
        """Replace the policy's name and levels (and any other field given)."""
        return self._update(request, partial=False)

    @extend_schema(request=DunningPolicyUpdateSerializer, responses=DunningPolicySerializer)
    def partial_update(self, request, pk=None):
        """Change the fields given; `levels`, when given, replaces all levels."""
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        policy = self.get_object()
        data = _policy_input(DunningPolicyUpdateSerializer, request, partial=partial)
        if "levels" in data:
            data["levels"] = _level_specs(data["levels"])
        policy = update_dunning_policy(actor=request.user, policy=policy, **data)
        return Response(self.get_serializer(self.reread(policy)).data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="The policy is assigned to clients or has notices."),
        }
    )
    def destroy(self, request, pk=None):
        """Delete a policy no client follows and no notice came from; deactivate one in use instead."""
        delete_dunning_policy(actor=request.user, policy=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=DunningAssignmentSerializer, responses=DunningAssignmentResultSerializer)
    @action(detail=False, methods=["post"])
    def assign(self, request):
        """Assign a policy to a client (null: back to the entity's default). A policy charging fees in
        another currency than the client's is refused (`dunning_currency_mismatch`)."""
        payload = DunningAssignmentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        client = assign_dunning_policy(
            actor=request.user,
            client=payload.validated_data["client"],
            policy=payload.validated_data["policy"],
        )
        return Response(DunningAssignmentResultSerializer(client).data)


# Runs


class SkippedClientSerializer(serializers.Serializer):
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    kind = serializers.CharField(help_text="dispute, promise, or dispute/promise.")
    reason = serializers.CharField(help_text="Why the client's invoices were not noticed, in words.")
    items = serializers.ListField(child=serializers.CharField(), help_text="The invoice numbers on hold.")


class DunningRunSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    skipped = SkippedClientSerializer(
        many=True, read_only=True, help_text="Per client, the overdue invoices on hold and why."
    )

    class Meta:
        model = DunningRun
        fields = [
            "id", "legal_entity", "as_of", "trigger", "status", "progress", "clients_evaluated",
            "notices_created", "items_noticed", "items_on_hold", "skipped", "started_at", "finished_at",
            "error", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class DunningRunCreateSerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    as_of = serializers.DateField(required=False, help_text="Defaults to today; not after today.")


class DunningRunFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(choices=DunningRunStatus.choices)
    as_of = django_filters.DateFromToRangeFilter(help_text="Runs as of as_of_after..as_of_before.")

    class Meta:
        model = DunningRun
        fields = ["legal_entity", "status", "as_of"]


class DunningRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Dunning runs: start one for a legal entity and day, then poll it for status, progress and counters."""

    model = DunningRun
    serializer_class = DunningRunSerializer
    filterset_class = DunningRunFilterSet

    def visible(self):
        return DunningRun.objects.select_related("created_by")

    @extend_schema(request=DunningRunCreateSerializer, responses={201: DunningRunSerializer})
    def create(self, request):
        """Create a run and start it in the background. While one for the same entity and day is pending
        or running, another is refused with 409 `dunning_run_active`."""
        payload = DunningRunCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = start_dunning_run(
            actor=request.user,
            legal_entity=data["legal_entity"],
            as_of=data.get("as_of") or timezone.localdate(),
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)


# Notices


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; an error body is still sent as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class DunningNoticeItemSerializer(serializers.ModelSerializer):
    invoice = serializers.SerializerMethodField()
    number = serializers.CharField(source="ar_item.number", read_only=True)
    due_date = serializers.DateField(source="ar_item.due_date", read_only=True)
    open_amount = AmountField(currency="ar_item.currency")
    interest_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, normalize_output=True, read_only=True, allow_null=True
    )
    interest_amount = AmountField(currency="ar_item.currency")

    class Meta:
        model = DunningNoticeItem
        fields = [
            "ar_item", "invoice", "number", "due_date", "days_overdue", "open_amount", "interest_percent",
            "interest_days", "interest_amount",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="The billing invoice, if any."))
    def get_invoice(self, item):
        return invoice_id_of(item.ar_item)


class DunningNoticeSerializer(serializers.ModelSerializer):
    client_name = serializers.CharField(source="client.name", read_only=True)
    invoice = serializers.SerializerMethodField()
    invoices = serializers.SerializerMethodField()
    items = DunningNoticeItemSerializer(many=True, read_only=True)
    total_open = AmountField()
    interest_amount = AmountField()
    fee_amount = AmountField()
    charges_amount = AmountField(help_text="fee_amount + interest_amount, billed as the fee_item receivable.")
    total_due = AmountField(help_text="total_open + charges_amount.")

    class Meta:
        model = DunningNotice
        fields = [
            "id", "run", "legal_entity", "client", "client_name", "policy", "level", "invoice", "invoices",
            "items", "currency", "total_open", "interest_amount", "fee_amount", "charges_amount", "total_due",
            "fee_note", "fee_item", "subject", "body", "recipient", "escalated_to", "status",
            "failure_reason", "sent_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        serializers.IntegerField(allow_null=True, help_text="The billing invoice of the notice's first item.")
    )
    def get_invoice(self, notice):
        items = list(notice.items.all())
        return invoice_id_of(items[0].ar_item) if items else None

    @extend_schema_field(
        serializers.ListField(child=serializers.IntegerField(), help_text="All billing invoices.")
    )
    def get_invoices(self, notice):
        ids = (invoice_id_of(item.ar_item) for item in notice.items.all())
        return [invoice for invoice in ids if invoice is not None]


class DunningNoticeFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    client = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    run = django_filters.ModelChoiceFilter(queryset=DunningRun.objects.all())
    level = django_filters.NumberFilter()
    status = django_filters.ChoiceFilter(choices=DunningNoticeStatus.choices)

    class Meta:
        model = DunningNotice
        fields = ["legal_entity", "client", "run", "level", "status"]


class DunningNoticeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LedgerViewSet):
    """Notices sent (or not) to clients: their invoices at one level, the fee and interest billed."""

    model = DunningNotice
    serializer_class = DunningNoticeSerializer
    filterset_class = DunningNoticeFilterSet

    def visible(self):
        items = DunningNoticeItem.objects.select_related("ar_item").order_by("id")
        return DunningNotice.objects.select_related("client").prefetch_related(
            Prefetch("items", queryset=items)
        )

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def pdf(self, request, pk=None):
        """The reminder letter as a PDF: the invoices with days overdue and open, fee, interest, total due."""
        from ledger.services.dunning.letters import render_notice_pdf
        from ledger.services.dunning.notices import notice_filename

        notice = self.get_object()
        response = HttpResponse(render_notice_pdf(notice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{notice_filename(notice)}"'
        return response

    @extend_schema(request=None, responses=DunningNoticeSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """Send a failed notice again, e.g. after the client's billing e-mail was added."""
        notice = resend_dunning_notice(actor=request.user, notice=self.get_object())
        return Response(self.get_serializer(self.reread(notice)).data)
