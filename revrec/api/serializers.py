"""Revenue recognition API serializers: output shapes of obligations, schedules, runs, the run preview and
the revenue reports, and command and query inputs.

Inputs only parse and type-check; every rule is checked by the service the view calls. Money is a decimal
string in its currency, rounded to the currency's minor unit.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import quantize
from crm.models import Contract
from ledger.api.serializers import AmountField
from ledger.models import LegalEntity
from revrec.choices import RevenueMethod, RunStatus
from revrec.models import PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.reports.waterfall import GROUPS

REPORT_FORMATS = ("json", "csv")


def _hours(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, normalize_output=True, read_only=True, **kwargs
    )


def _totals_field(help_text: str):
    return extend_schema_field(
        serializers.DictField(
            child=serializers.DecimalField(max_digits=20, decimal_places=4), help_text=help_text
        )
    )


def _quantized_totals(totals: dict) -> dict:
    """Per-currency totals (Decimals, or the decimal strings a run keeps in JSON) in minor units."""
    return {
        currency: format(quantize(Decimal(str(total)), currency), "f")
        for currency, total in sorted(totals.items())
    }


# Performance obligations

# The methods worded for obligations (an enum of their own in the schema, beside the contract lines').
METHOD_CHOICES = [
    (RevenueMethod.RATABLE, "Ratable: straight line by day over the service period"),
    (RevenueMethod.PERCENT_COMPLETE, "Percent complete: cost or hours to date over the estimate"),
    (RevenueMethod.MILESTONE, "Milestone: its allocated share at acceptance"),
    (RevenueMethod.AS_DELIVERED, "As delivered: the billable value of time and expenses delivered"),
]


class PerformanceObligationSerializer(serializers.ModelSerializer):
    method = serializers.ChoiceField(choices=METHOD_CHOICES, read_only=True)
    standalone_price = AmountField(help_text="Standalone selling price (SSP); finance may change it.")
    allocated_amount = AmountField(
        help_text="The contract price allocated by relative SSP (excluded obligations: their own value)."
    )
    estimated_total_cost = AmountField(
        allow_null=True, help_text="Percent complete (cost): the estimate of the cost at completion."
    )
    estimated_total_hours = _hours(
        allow_null=True, help_text="Percent complete (hours): the estimate of the hours at completion."
    )
    cap_amount = AmountField(allow_null=True, help_text="As delivered: revenue never passes this cap.")
    recognized_to_date = AmountField(help_text="Revenue recognised so far by revenue runs.")

    class Meta:
        model = PerformanceObligation
        fields = [
            "id", "contract", "contract_line", "account", "legal_entity", "description", "method", "measure",
            "billing_model", "revenue_role", "currency", "standalone_price", "allocated_amount", "excluded",
            "estimated_total_cost", "estimated_total_hours", "cap_amount", "service_start", "service_end",
            "status", "recognized_to_date", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class StandalonePriceSerializer(serializers.Serializer):
    price = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=0, help_text="The new SSP, in the obligation's currency."
    )
    reason = serializers.CharField(max_length=500, help_text="Why; kept in the audit trail.")


class EstimateSerializer(serializers.Serializer):
    total_cost = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Estimated cost at completion (> 0)."
    )
    total_hours = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, help_text="Estimated hours at completion (> 0)."
    )
    reason = serializers.CharField(max_length=500, help_text="Why; kept in the audit trail.")

    def validate(self, attrs):
        if "total_cost" not in attrs and "total_hours" not in attrs:
            raise serializers.ValidationError({"total_cost": ["Give total_cost or total_hours."]})
        return attrs


# Revenue schedules


class ScheduleLineSerializer(serializers.ModelSerializer):
    amount = AmountField(currency="obligation.currency")

    class Meta:
        model = RevenueScheduleLine
        fields = [
            "id",
            "period_start",
            "period_end",
            "amount",
            "status",
            "run",
            "journal_entry",
            "recognized_at",
        ]
        read_only_fields = fields


class RevenueScheduleSerializer(serializers.ModelSerializer):
    """An obligation's schedule: the schedule's id is the obligation's."""

    obligation = serializers.IntegerField(source="pk", read_only=True)
    method = serializers.ChoiceField(choices=METHOD_CHOICES, read_only=True)
    lines = ScheduleLineSerializer(source="schedule_lines", many=True, read_only=True)

    class Meta:
        model = PerformanceObligation
        fields = ["id", "obligation", "contract", "description", "method", "currency", "lines"]
        read_only_fields = fields


# Revenue runs

# The run statuses worded for revenue runs (an enum of their own in the schema).
RUN_STATUS_CHOICES = [
    (RunStatus.PENDING, "Pending: queued, not started"),
    (RunStatus.RUNNING, "Running: recognising contracts"),
    (RunStatus.COMPLETED, "Completed: every contract done"),
    (RunStatus.FAILED, "Failed: see error; resume it"),
]


class RevenueRunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RUN_STATUS_CHOICES, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent of the run's contracts done.")
    recognized_amount = AmountField(
        currency="legal_entity.functional_currency",
        help_text="Revenue the run recognised, over all its contracts; per currency in `totals`.",
    )
    reclassified_amount = AmountField(
        currency="legal_entity.functional_currency",
        help_text="Recognised but not yet billed, moved to unbilled revenue at the period end.",
    )
    totals = serializers.SerializerMethodField()
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="E.g. loss-making estimates."
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = RevenueRun
        fields = [
            "id", "legal_entity", "period_end", "status", "progress", "recognized_amount",
            "reclassified_amount", "total_contracts", "done_contracts", "totals", "warnings", "error",
            "attempts", "created_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    @_totals_field('Revenue recognised per currency, e.g. {"USD": "4400.00"}.')
    def get_totals(self, run):
        return _quantized_totals(run.totals or {})


class RevenueRunCreateSerializer(serializers.Serializer):
    """A run's (or a preview's) legal entity and the last day it recognises revenue up to."""

    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    period_end = serializers.DateField(help_text="Recognise up to and including this day (a month end).")


class RevenuePreviewObligationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    method = serializers.CharField()
    amount = AmountField()


class RevenuePreviewContractSerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    number = serializers.CharField()
    account = serializers.CharField(help_text="The client's name.")
    currency = serializers.CharField()
    amount = AmountField(help_text="What a run would recognise for the contract.")
    obligations = serializers.SerializerMethodField()

    @extend_schema_field(RevenuePreviewObligationSerializer(many=True))
    def get_obligations(self, row):
        rows = [{**obligation, "currency": row["currency"]} for obligation in row["obligations"]]
        return RevenuePreviewObligationSerializer(rows, many=True).data


class RevenuePreviewSerializer(serializers.Serializer):
    period_end = serializers.DateField()
    contracts = RevenuePreviewContractSerializer(many=True)
    totals = serializers.SerializerMethodField()
    warnings = serializers.ListField(child=serializers.CharField())

    @_totals_field("What a run would recognise, per currency.")
    def get_totals(self, preview):
        return _quantized_totals(preview.totals)


# Reports: query parameters


def _format_field():
    return serializers.ChoiceField(
        choices=REPORT_FORMATS, required=False, default="json", help_text="csv downloads the report as CSV."
    )


class AsOfQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    as_of = serializers.DateField()
    format = _format_field()


class WaterfallQuerySerializer(AsOfQuerySerializer):
    group_by = serializers.ChoiceField(
        choices=tuple(GROUPS), required=False, default="client", help_text="Rows per client or service line."
    )


class RollforwardQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    start = serializers.DateField()
    end = serializers.DateField()
    format = _format_field()

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        return attrs


class ContractSummaryQuerySerializer(serializers.Serializer):
    contract = serializers.PrimaryKeyRelatedField(queryset=Contract.objects.select_related("account"))
    as_of = serializers.DateField(required=False, help_text="Defaults to today.")
    format = _format_field()


# Reports: output


class WaterfallMonthSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    recognized = AmountField(help_text="Revenue booked in the month.")
    scheduled = AmountField(help_text="Planned schedule lines of the month not yet recognised.")


def _months_field():
    return serializers.SerializerMethodField(help_text="One cell per month of the report.")


class WaterfallRowSerializer(serializers.Serializer):
    client = serializers.IntegerField(allow_null=True, help_text="group_by=client: the client.")
    service = serializers.CharField(
        allow_null=True, help_text="group_by=service: the revenue account role, e.g. revenue_fixed."
    )
    name = serializers.CharField()
    currency = serializers.CharField()
    months = _months_field()
    recognized = AmountField()
    scheduled = AmountField()

    @extend_schema_field(WaterfallMonthSerializer(many=True))
    def get_months(self, row):
        cells = [{**cell, "currency": row["currency"]} for cell in row["months"]]
        return WaterfallMonthSerializer(cells, many=True).data


class WaterfallTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    months = _months_field()
    recognized = AmountField()
    scheduled = AmountField()

    get_months = WaterfallRowSerializer.get_months


class WaterfallSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    group_by = serializers.ChoiceField(choices=tuple(GROUPS))
    months = serializers.ListField(child=serializers.DateField(), help_text="The months' first days.")
    rows = WaterfallRowSerializer(many=True)
    totals = WaterfallTotalSerializer(many=True, help_text="One row per currency.")


class RollforwardRowSerializer(serializers.Serializer):
    currency = serializers.CharField()
    opening = AmountField(help_text="Deferred revenue before start (credit − debit).")
    billed = AmountField(help_text="Invoices less credit notes posted in the period.")
    recognized = AmountField(help_text="Revenue runs' recognition in the period.")
    reclassified = AmountField(help_text="Net move of unbilled revenue (contract assets) in the period.")
    other = AmountField(help_text="Any other posting to deferred revenue (manual entries).")
    closing = AmountField(help_text="Deferred revenue at end, from the ledger.")
    identity_holds = serializers.BooleanField(
        help_text="opening + billed − recognized + reclassified + other = closing."
    )


class RollforwardSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    start = serializers.DateField()
    end = serializers.DateField()
    rows = RollforwardRowSerializer(many=True, help_text="One row per transaction currency.")


class UnbilledRowSerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    number = serializers.CharField()
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    currency = serializers.CharField()
    recognized = AmountField()
    billed = AmountField()
    unbilled = AmountField(help_text="Recognised − billed: the contract asset.")
    since = serializers.DateField(help_text="When the oldest recognition not yet billed was booked.")
    age_days = serializers.IntegerField(help_text="Days from since to as_of.")


class CurrencyUnbilledSerializer(serializers.Serializer):
    currency = serializers.CharField()
    unbilled = AmountField()


class UnbilledSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    rows = UnbilledRowSerializer(many=True)
    totals = CurrencyUnbilledSerializer(many=True)


class RpoRowSerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    number = serializers.CharField()
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    currency = serializers.CharField()
    within_12_months = AmountField()
    after_12_months = AmountField()
    total = AmountField()


class RpoTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    within_12_months = AmountField()
    after_12_months = AmountField()
    total = AmountField()


class RpoSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    horizon = serializers.DateField(help_text="as_of + 12 months: the last day of within_12_months.")
    rows = RpoRowSerializer(many=True)
    totals = RpoTotalSerializer(many=True)


class ContractObligationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    method = serializers.CharField()
    status = serializers.CharField()
    excluded = serializers.BooleanField()
    allocated = AmountField(currency=None)
    recognized = AmountField(currency=None)
    remaining = AmountField(currency=None)


class ContractSummarySerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    number = serializers.CharField()
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    as_of = serializers.DateField()
    currency = serializers.CharField()
    price = AmountField(help_text="The contract's total.")
    obligations = ContractObligationSerializer(many=True)
    allocated = AmountField(help_text="Allocated to its active obligations.")
    billed = AmountField()
    recognized = AmountField()
    backlog = AmountField(help_text="Remaining performance obligation: allocated − recognised.")
    net_position = AmountField(help_text="Billed − recognised.")
    position = serializers.ChoiceField(
        choices=("liability", "asset", "none"),
        help_text="liability: billed ahead of revenue; asset: revenue ahead of billing.",
    )
    contract_liability = AmountField()
    contract_asset = AmountField()
