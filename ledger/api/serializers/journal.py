"""The journal: entries with their lines, manual entries and reversals."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Account
from ledger.api.serializers.fields import AmountField
from ledger.models import GLAccount, JournalEntry, JournalLine, LegalEntity

ENTRY_STATUSES = ("posted", "reversed")


class JournalLineSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True)
    debit = AmountField()
    credit = AmountField()
    rate = serializers.DecimalField(max_digits=24, decimal_places=12, normalize_output=True, read_only=True)
    functional_debit = AmountField(currency="entry.legal_entity.functional_currency")
    functional_credit = AmountField(currency="entry.legal_entity.functional_currency")
    project = serializers.IntegerField(source="project_id", read_only=True, allow_null=True)
    account_client = serializers.IntegerField(
        source="client_id", read_only=True, allow_null=True, help_text="The client (crm account) of the line."
    )

    class Meta:
        model = JournalLine
        fields = [
            "id", "account", "account_code", "debit", "credit", "currency", "rate", "functional_debit",
            "functional_credit", "project", "account_client", "memo",
        ]  # fmt: skip
        read_only_fields = fields


class JournalEntrySerializer(serializers.ModelSerializer):
    display_number = serializers.CharField(read_only=True, help_text="JE-<fiscal year>-<number>.")
    functional_currency = serializers.CharField(source="legal_entity.functional_currency", read_only=True)
    status = serializers.SerializerMethodField()
    reversed_by = serializers.SerializerMethodField()
    lines = JournalLineSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id", "legal_entity", "number", "display_number", "fiscal_year", "period", "date", "memo",
            "status", "source_type", "source_id", "posting_key", "reversal_of", "reversed_by",
            "functional_currency", "created_by", "posted_at", "lines",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ENTRY_STATUSES))
    def get_status(self, entry) -> str:
        return "reversed" if getattr(entry, "reversed_by", None) else "posted"

    @extend_schema_field(
        serializers.IntegerField(allow_null=True, help_text="The entry that reverses this one.")
    )
    def get_reversed_by(self, entry):
        reversal = getattr(entry, "reversed_by", None)
        return reversal.pk if reversal else None


class ManualLineSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=GLAccount.objects.all())
    debit = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=Decimal(0), default=Decimal(0)
    )
    credit = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=Decimal(0), default=Decimal(0)
    )
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Defaults to the functional currency."
    )
    client = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, allow_null=True
    )
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    memo = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class ManualEntrySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    date = serializers.DateField()
    memo = serializers.CharField(max_length=500)
    lines = ManualLineSerializer(many=True, allow_empty=False)


class ReverseEntrySerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Defaults to today.")
    memo = serializers.CharField(required=False, max_length=500)
