"""CRM API serializers: output shapes of clients, pipeline, quotes and contracts, and command inputs.

Inputs only parse and type-check; every rule is checked by the service the view calls.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import User
from crm.choices import (
    ActivityKind,
    BillingModel,
    BillingPeriod,
    RevenueMethod,
    UnusedHours,
)
from crm.models import (
    Account,
    Activity,
    Contact,
    Contract,
    ContractLine,
    ContractVersion,
    Opportunity,
    OpportunityLine,
    PipelineStage,
    Quote,
    QuoteLine,
    StageChange,
)
from crm.selectors import weighted
from ledger.api.serializers import AmountField
from projects.models import Role as DeliveryRole

DECIMAL = {"max_digits": 20, "decimal_places": 4}
HOURS = {"max_digits": 12, "decimal_places": 2}


def _user_name(user) -> str | None:
    return user.display_name if user else None


# Accounts, contacts, activities


class AccountSerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "parent",
            "currency",
            "legal_entity",
            "payment_terms_days",
            "tax_code",
            "billing_email",
            "billing_contact",
            "status",
            "owner",
            "owner_name",
            "industry",
            "domain",
            "dunning_policy",
            "created_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, account) -> str | None:
        return _user_name(account.owner)


class AccountWriteSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        max_length=10, required=False, help_text=f"One of: {', '.join(Account.Status.values)}."
    )

    class Meta:
        model = Account
        fields = [
            "name",
            "parent",
            "currency",
            "legal_entity",
            "payment_terms_days",
            "tax_code",
            "billing_email",
            "billing_contact",
            "status",
            "owner",
            "industry",
            "domain",
            "dunning_policy",
        ]
        extra_kwargs = {"currency": {"min_length": 3}}


class AccountCreateSerializer(AccountWriteSerializer):
    allow_duplicate = serializers.BooleanField(
        default=False,
        help_text="Create it even if a client with the same normalized name or domain exists (the 409 "
        "`possible_duplicate` response names the candidates).",
    )

    class Meta(AccountWriteSerializer.Meta):
        fields = [*AccountWriteSerializer.Meta.fields, "allow_duplicate"]


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "account", "name", "email", "phone", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class ContactUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["name", "email", "phone", "role"]


class ActivitySerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "id",
            "account",
            "opportunity",
            "contract",
            "contact",
            "kind",
            "subject",
            "notes",
            "due",
            "owner",
            "owner_name",
            "done",
            "done_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, activity) -> str | None:
        return _user_name(activity.owner)


class ActivityCreateSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    opportunity = serializers.PrimaryKeyRelatedField(queryset=Opportunity.objects.all(), required=False)
    contract = serializers.PrimaryKeyRelatedField(queryset=Contract.objects.all(), required=False)
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(), required=False)
    # Plain strings in requests: an enum named `kind` is already the AR item's in the schema.
    kind = serializers.CharField(max_length=10, help_text=f"One of: {', '.join(ActivityKind.values)}.")
    subject = serializers.CharField(max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    due = serializers.DateField()
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, help_text="Default: you."
    )


# Lines


class MilestoneSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    due = serializers.DateField()
    amount = serializers.DecimalField(**DECIMAL)


class LineInputSerializer(serializers.Serializer):
    """A line as sold. Amount defaults to hours × rate (T&M), Σ milestones, or periods × period amount."""

    service = serializers.CharField(max_length=200)
    phase = serializers.CharField(max_length=100, required=False, allow_blank=True)
    billing_model = serializers.ChoiceField(choices=BillingModel.choices)
    role = serializers.PrimaryKeyRelatedField(
        queryset=DeliveryRole.objects.all(), required=False, allow_null=True
    )
    hours = serializers.DecimalField(**HOURS, required=False, min_value=Decimal(0))
    rate = serializers.DecimalField(**DECIMAL, required=False, min_value=Decimal(0))
    amount = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    start = serializers.DateField()
    end = serializers.DateField()
    cap_amount = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    revenue_method = serializers.ChoiceField(choices=RevenueMethod.choices, required=False, allow_blank=True)
    instalments = serializers.IntegerField(required=False, min_value=1, max_value=120)
    milestones = MilestoneSerializer(many=True, required=False)
    billing_period = serializers.ChoiceField(choices=BillingPeriod.choices, required=False, allow_blank=True)
    period_amount = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    period_hours = serializers.DecimalField(**HOURS, required=False, allow_null=True)
    overage_rate = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    unused_hours = serializers.ChoiceField(choices=UnusedHours.choices, required=False, allow_blank=True)
    cycle_day = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=28)


def line_specs(items: list[dict]) -> list[dict]:
    """Validated line inputs as the services take them (roles as ids, milestones as plain dicts)."""
    specs = []
    for item in items:
        spec = dict(item)
        if spec.get("role") is not None:
            spec["role"] = spec["role"].pk
        if "milestones" in spec:
            spec["milestones"] = [dict(m) for m in spec["milestones"]]
        specs.append(spec)
    return specs


class QuoteLineInputSerializer(LineInputSerializer):
    discount_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100),
        help_text="Default: the quote's discount.",
    )


TERM_OUTPUT = [
    "phase",
    "billing_model",
    "role",
    "hours",
    "rate",
    "amount",
    "start",
    "end",
    "cap_amount",
    "revenue_method",
    "instalments",
    "milestones",
    "billing_period",
    "period_amount",
    "period_hours",
    "overage_rate",
    "unused_hours",
    "cycle_day",
]


class _TermsSerializer(serializers.ModelSerializer):
    """The terms every line shows; subclasses declare the money fields with their currency's path."""

    revenue_method = serializers.SerializerMethodField(
        help_text="Chosen, or the billing model's usual method."
    )
    milestones = MilestoneSerializer(many=True, read_only=True)
    # Blank on lines that are not retainers or subscriptions; declared so the schema says so.
    billing_period = serializers.ChoiceField(choices=BillingPeriod.choices, allow_blank=True, read_only=True)
    unused_hours = serializers.ChoiceField(choices=UnusedHours.choices, allow_blank=True, read_only=True)

    @extend_schema_field(serializers.ChoiceField(choices=RevenueMethod.choices))
    def get_revenue_method(self, line) -> str:
        return line.revenue_method_or_default()


class OpportunityLineSerializer(_TermsSerializer):
    amount = AmountField(currency="opportunity.currency")
    cap_amount = AmountField(currency="opportunity.currency", allow_null=True)
    period_amount = AmountField(currency="opportunity.currency", allow_null=True)
    overage_rate = AmountField(currency="opportunity.currency", allow_null=True)

    class Meta:
        model = OpportunityLine
        fields = ["id", "service", *TERM_OUTPUT]
        read_only_fields = fields


class QuoteLineSerializer(_TermsSerializer):
    amount = AmountField(currency="quote.currency")
    list_amount = AmountField(currency="quote.currency")
    cost_amount = AmountField(currency="quote.currency")
    cap_amount = AmountField(currency="quote.currency", allow_null=True)
    period_amount = AmountField(currency="quote.currency", allow_null=True)
    overage_rate = AmountField(currency="quote.currency", allow_null=True)

    class Meta:
        model = QuoteLine
        fields = [
            "id",
            "service",
            "discount_percent",
            "list_amount",
            "cost_rate",
            "cost_amount",
            *TERM_OUTPUT,
        ]
        read_only_fields = fields


class ContractLineSerializer(_TermsSerializer):
    amount = AmountField(currency="contract.currency")
    cap_amount = AmountField(currency="contract.currency", allow_null=True)
    period_amount = AmountField(currency="contract.currency", allow_null=True)
    overage_rate = AmountField(currency="contract.currency", allow_null=True)
    rate_card = serializers.IntegerField(
        source="rate_card_id",
        read_only=True,
        allow_null=True,
        help_text="The projects rate card time is billed at.",
    )
    schedule = serializers.JSONField(
        read_only=True,
        help_text="What billing builds its plan from: rates and cap, instalments, milestones or periods.",
    )

    class Meta:
        model = ContractLine
        fields = ["id", "description", "rate_card", "schedule", "origin", *TERM_OUTPUT]
        read_only_fields = fields


# Pipeline


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = PipelineStage
        fields = ["id", "code", "name", "position", "probability", "outcome"]
        read_only_fields = fields


class StageChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SerializerMethodField()

    class Meta:
        model = StageChange
        fields = ["from_stage", "to_stage", "probability", "changed_at", "changed_by", "reason"]
        read_only_fields = fields

    def get_changed_by(self, change) -> str | None:
        return _user_name(change.changed_by)


class OpportunitySerializer(serializers.ModelSerializer):
    amount = AmountField()
    weighted_amount = serializers.SerializerMethodField()
    lines = OpportunityLineSerializer(many=True, read_only=True)
    stage_history = StageChangeSerializer(source="stage_changes", many=True, read_only=True)
    contract = serializers.SerializerMethodField()
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "account",
            "name",
            "stage",
            "probability",
            "amount",
            "currency",
            "expected_close",
            "owner",
            "owner_name",
            "lines",
            "weighted_amount",
            "source",
            "description",
            "lost_reason",
            "renewal_of",
            "contract",
            "stage_changed_at",
            "closed_at",
            "created_at",
            "stage_history",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=4))
    def get_weighted_amount(self, opportunity) -> str:
        return format(weighted(opportunity.amount, opportunity.probability, opportunity.currency), "f")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_contract(self, opportunity):
        contracts = opportunity.contracts.all()
        return contracts[0].pk if contracts else None

    def get_owner_name(self, opportunity) -> str | None:
        return _user_name(opportunity.owner)


class OpportunityCreateSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    name = serializers.CharField(max_length=200)
    expected_close = serializers.DateField()
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Default: the client's."
    )
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    stage = serializers.CharField(max_length=20, required=False, default=Opportunity.Stage.QUALIFY)
    probability = serializers.IntegerField(required=False, min_value=0, max_value=100)
    amount = serializers.DecimalField(**DECIMAL, required=False, help_text="Ignored when lines are given.")
    source = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    lines = LineInputSerializer(many=True, required=False)


class OpportunityUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    expected_close = serializers.DateField(required=False)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    probability = serializers.IntegerField(required=False, min_value=0, max_value=100)
    amount = serializers.DecimalField(**DECIMAL, required=False)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    lines = LineInputSerializer(many=True, required=False, help_text="Replaces every line.")


class MoveSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=20)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    probability = serializers.IntegerField(required=False, min_value=0, max_value=100)


class CrmReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CrmOptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class WinSerializer(serializers.Serializer):
    quote = serializers.PrimaryKeyRelatedField(
        queryset=Quote.objects.all(),
        required=False,
        help_text="The accepted quote to contract (default: the "
        "opportunity's accepted quote, else its lines).",
    )
    lines = LineInputSerializer(
        many=True,
        required=False,
        help_text="Sell these lines instead (they replace the opportunity's lines).",
    )


# Quotes


class QuoteSerializer(serializers.ModelSerializer):
    lines = QuoteLineSerializer(many=True, read_only=True)
    list_amount = AmountField()
    discount_amount = AmountField()
    total_amount = AmountField()
    cost_amount = AmountField()
    needs_approval = serializers.BooleanField(read_only=True)

    class Meta:
        model = Quote
        fields = [
            "id",
            "opportunity",
            "version",
            "status",
            "lines",
            "total_amount",
            "currency",
            "list_amount",
            "discount_amount",
            "cost_amount",
            "margin_percent",
            "needs_approval",
            "approval_reasons",
            "valid_until",
            "notes",
            "created_at",
            "submitted_at",
            "approved_at",
            "approved_by",
            "accepted_at",
            "decision_reason",
        ]
        read_only_fields = fields


class QuoteCreateSerializer(serializers.Serializer):
    opportunity = serializers.PrimaryKeyRelatedField(queryset=Opportunity.objects.all())
    lines = QuoteLineInputSerializer(many=True, required=False, help_text="Default: the opportunity's lines.")
    discount_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        default=Decimal(0),
        min_value=Decimal(0),
        max_value=Decimal(100),
    )
    valid_until = serializers.DateField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


# Contracts


class ContractSerializer(serializers.ModelSerializer):
    total_amount = AmountField()
    lines = serializers.SerializerMethodField()
    rate_card = serializers.IntegerField(source="rate_card_id", read_only=True, allow_null=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "account",
            "opportunity",
            "quote",
            "number",
            "status",
            "currency",
            "start",
            "end",
            "total_amount",
            "lines",
            "version",
            "legal_entity",
            "payment_terms_days",
            "tax_code",
            "rate_card",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ContractLineSerializer(many=True))
    def get_lines(self, contract):
        lines = [
            line for line in contract.all_lines.all() if line.contract_version.number == contract.version
        ]
        return ContractLineSerializer(lines, many=True, context=self.context).data


class ContractVersionSerializer(serializers.ModelSerializer):
    total_amount = AmountField(currency="contract.currency")
    lines = ContractLineSerializer(many=True, read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ContractVersion
        fields = ["number", "reason", "start", "end", "total_amount", "created_by", "created_at", "lines"]
        read_only_fields = fields

    def get_created_by(self, version) -> str | None:
        return _user_name(version.created_by)


class AmendLineSerializer(LineInputSerializer):
    id = serializers.IntegerField(
        required=False, help_text="A current line to change; leave out to add a line."
    )
    service = serializers.CharField(
        max_length=200, required=False, help_text="The description of an added line."
    )
    description = serializers.CharField(max_length=200, required=False)
    billing_model = serializers.ChoiceField(choices=BillingModel.choices, required=False)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)


class AmendSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    lines = AmendLineSerializer(many=True, required=False, default=list)
    remove = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        help_text="Ids of current lines that end with this version.",
    )
    revenue_treatment = serializers.ChoiceField(
        choices=[("catch_up", "With cumulative catch-up"), ("prospective", "Prospectively")],
        required=False,
        default="catch_up",
        help_text="How revenue recognition re-allocates the changed price (recorded with the amendment).",
    )


class ForecastRowSerializer(serializers.Serializer):
    month = serializers.DateField(required=False)
    owner = serializers.CharField(required=False)
    owner_id = serializers.IntegerField(required=False, help_text="Null for deals without an owner.")
    currency = serializers.CharField()
    count = serializers.IntegerField()
    amount = AmountField(help_text="Open pipeline.")
    weighted = AmountField(help_text="Σ amount × probability.")


class ForecastSerializer(serializers.Serializer):
    by_month = ForecastRowSerializer(many=True)
    by_owner = ForecastRowSerializer(many=True)
    totals = ForecastRowSerializer(many=True)
