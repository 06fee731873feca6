"""Master data: legal entities, exchange rates, GL accounts and fiscal periods; reasons for commands."""

from decimal import Decimal

from rest_framework import serializers

from ledger.api.serializers.fields import AmountField
from ledger.models import ExchangeRate, FiscalPeriod, GLAccount, LegalEntity, PeriodCloseReport


def _only_known_fields(serializer: serializers.Serializer, attrs: dict) -> dict:
    """Refuse fields an update cannot change, instead of silently ignoring them."""
    unknown = sorted(set(serializer.initial_data) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
    return attrs


class LegalEntitySerializer(serializers.ModelSerializer):
    write_off_approval_threshold = AmountField(currency="functional_currency")

    class Meta:
        model = LegalEntity
        fields = [
            "id", "name", "functional_currency", "address", "tax_id", "invoice_prefix",
            "fiscal_year_start_month", "write_off_approval_threshold", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class LegalEntityCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    functional_currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217 code.")
    invoice_prefix = serializers.CharField(
        max_length=10, help_text='Invoice numbers start with it, e.g. "US-".'
    )
    address = serializers.CharField(required=False, allow_blank=True, default="")
    tax_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    fiscal_year_start_month = serializers.IntegerField(required=False, default=1, min_value=1, max_value=12)
    write_off_approval_threshold = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, default=Decimal("500"), min_value=Decimal(0)
    )


class LegalEntityUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    address = serializers.CharField(required=False, allow_blank=True)
    tax_id = serializers.CharField(required=False, allow_blank=True, max_length=50)
    invoice_prefix = serializers.CharField(max_length=10, required=False)
    write_off_approval_threshold = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, min_value=Decimal(0)
    )

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class ExchangeRateSerializer(serializers.ModelSerializer):
    rate = serializers.DecimalField(
        max_digits=24, decimal_places=12, normalize_output=True, read_only=True,
        help_text="Units of to_currency one from_currency buys.",
    )  # fmt: skip

    class Meta:
        model = ExchangeRate
        fields = ["id", "from_currency", "to_currency", "date", "rate", "created_at"]
        read_only_fields = fields


class ExchangeRateCreateSerializer(serializers.Serializer):
    from_currency = serializers.CharField(min_length=3, max_length=3)
    to_currency = serializers.CharField(min_length=3, max_length=3)
    date = serializers.DateField()
    rate = serializers.DecimalField(
        max_digits=24, decimal_places=12, min_value=Decimal("0.000000000001"),
        help_text="Units of to_currency one from_currency buys on the date.",
    )  # fmt: skip


class GLAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = GLAccount
        fields = ["id", "legal_entity", "code", "name", "type", "normal_balance", "role", "parent", "active"]
        read_only_fields = fields


class GLAccountUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class FiscalPeriodSerializer(serializers.ModelSerializer):
    latest_close_report = serializers.SerializerMethodField(
        help_text="Id of the report stored at the latest close (GET periods/{id}/close-report/), or null."
    )

    class Meta:
        model = FiscalPeriod
        fields = [
            "id", "legal_entity", "fiscal_year", "number", "start", "end", "status", "closed_at", "closed_by",
            "reopened_at", "reopened_by", "reopen_reason", "latest_close_report",
        ]  # fmt: skip
        read_only_fields = fields

    def get_latest_close_report(self, period) -> int | None:
        # The list annotates it in one query; a single period (after a command) reads it.
        if hasattr(period, "latest_close_report"):
            return period.latest_close_report
        latest = period.close_reports.order_by("-closed_at", "-id").values_list("pk", flat=True).first()
        return latest


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.ChoiceField(
        choices=["approvals", "billing", "revenue", "fx_revaluation", "reconciliations", "trial_balance"]
    )
    title = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["ok", "blocking", "warning"], help_text="Blocking items refuse the close."
    )
    sentence = serializers.CharField()
    figures = serializers.DictField(help_text="The item's figures; amounts as decimal strings.")
    rows = serializers.ListField(child=serializers.DictField(), help_text="Offending rows, at most 20.")
    row_count = serializers.IntegerField(help_text="How many offending rows there are in all.")
    fix_url = serializers.CharField(help_text="The page where it is fixed (blank when nothing to fix).")
    fix_label = serializers.CharField()


class CloseChecklistSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    legal_entity = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    can_close = serializers.BooleanField()
    items = ChecklistItemSerializer(many=True)


class PeriodCloseReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = PeriodCloseReport
        fields = [
            "id", "period", "closed_at", "closed_by", "reason", "checklist", "trial_balance",
            "profit_and_loss",
        ]  # fmt: skip
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; kept in the audit trail.")
