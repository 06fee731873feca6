"""Accounts receivable: AR items, payments and their allocations, and write-offs."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Account
from ledger.api.serializers.fields import AmountField
from ledger.models import Allocation, ArItem, GLAccount, LegalEntity, Payment, WriteOffRequest

# The document type billing gives its invoices' AR items; such an item's document id is the invoice id.
INVOICE_DOCUMENT = "billing.invoice"


def invoice_id_of(item: ArItem) -> int | None:
    if item.document_type == INVOICE_DOCUMENT and item.document_id.isdigit():
        return int(item.document_id)
    return None


class ArItemSerializer(serializers.ModelSerializer):
    client_name = serializers.CharField(source="client.name", read_only=True)
    invoice = serializers.SerializerMethodField()
    amount = AmountField()
    open_amount = AmountField()
    rate = serializers.DecimalField(max_digits=24, decimal_places=12, normalize_output=True, read_only=True)
    functional_currency = serializers.CharField(source="legal_entity.functional_currency", read_only=True)
    functional_amount = AmountField(currency="legal_entity.functional_currency")

    class Meta:
        model = ArItem
        fields = [
            "id", "legal_entity", "client", "client_name", "kind", "document_type", "document_id", "invoice",
            "number", "date", "due_date", "currency", "amount", "open_amount", "rate", "functional_currency",
            "functional_amount", "journal_entry",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="The invoice behind the item."))
    def get_invoice(self, item):
        return invoice_id_of(item)


class AllocationSerializer(serializers.ModelSerializer):
    ar_item = serializers.IntegerField(
        source="debit_item_id", read_only=True, help_text="The invoice's AR item."
    )
    ar_item_number = serializers.CharField(source="debit_item.number", read_only=True)
    invoice = serializers.SerializerMethodField()
    amount = AmountField(currency="debit_item.currency")
    fx_difference = AmountField(
        currency="legal_entity.functional_currency",
        help_text="Realized FX in functional currency; positive is a loss.",
    )

    class Meta:
        model = Allocation
        fields = [
            "id", "invoice", "ar_item", "ar_item_number", "amount", "fx_difference", "date", "reversal_of",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="The invoice paid, if any."))
    def get_invoice(self, allocation):
        return invoice_id_of(allocation.debit_item)


class PaymentSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="client_id", read_only=True, help_text="The paying client.")
    account_name = serializers.CharField(source="client.name", read_only=True)
    amount = AmountField()
    allocations = AllocationSerializer(source="ar_item.allocations_made", many=True, read_only=True)
    unallocated_amount = AmountField()

    class Meta:
        model = Payment
        fields = [
            "id", "legal_entity", "account", "account_name", "date", "amount", "currency", "reference",
            "bank_account", "allocations", "unallocated_amount", "ar_item", "journal_entry", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


def _resolve_invoice(attrs: dict) -> dict:
    """Input naming an invoice by `ar_item` or by `invoice` id: both end up as `ar_item`."""
    if ("ar_item" in attrs) == ("invoice" in attrs):
        raise serializers.ValidationError({"ar_item": ["Give either ar_item or invoice."]})
    if "invoice" in attrs:
        item = ArItem.objects.filter(
            document_type=INVOICE_DOCUMENT, document_id=str(attrs["invoice"])
        ).first()
        if item is None:
            raise serializers.ValidationError({"invoice": [f"Invoice {attrs['invoice']} is not in AR."]})
        attrs["ar_item"] = item
    return attrs


class AllocationInputSerializer(serializers.Serializer):
    """One invoice to apply money to: its AR item or its invoice id."""

    ar_item = serializers.PrimaryKeyRelatedField(queryset=ArItem.objects.all(), required=False)
    invoice = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)

    def validate(self, attrs):
        return _resolve_invoice(attrs)


def allocation_pairs(data: dict) -> list[tuple[ArItem, Decimal]] | None:
    """The services' (item, amount) list from validated input; None when `allocations` was left out."""
    if "allocations" not in data:
        return None
    return [(row["ar_item"], row["amount"]) for row in data["allocations"]]


class PaymentCreateSerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), help_text="The paying client."
    )
    date = serializers.DateField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Defaults to the client's currency."
    )
    bank_account = serializers.PrimaryKeyRelatedField(
        queryset=GLAccount.objects.all(), required=False, help_text="Defaults to the entity's bank account."
    )
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    allocations = AllocationInputSerializer(
        many=True,
        required=False,
        help_text="Invoices to apply the payment to. Leave out to apply it oldest due first; [] for none.",
    )


class PaymentAllocateSerializer(serializers.Serializer):
    allocations = AllocationInputSerializer(
        many=True, required=False, help_text="Leave out to apply what is unallocated oldest due first."
    )
    date = serializers.DateField(required=False, help_text="Dates the allocations; defaults to today.")


class AllocationReverseSerializer(serializers.Serializer):
    allocation = serializers.PrimaryKeyRelatedField(queryset=Allocation.objects.all())
    reason = serializers.CharField(max_length=2000)
    date = serializers.DateField(required=False, help_text="Defaults to today.")


class WriteOffSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="ar_item.client_id", read_only=True)
    invoice = serializers.SerializerMethodField()
    amount = AmountField(currency="ar_item.currency")
    currency = serializers.CharField(source="ar_item.currency", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True)

    class Meta:
        model = WriteOffRequest
        fields = [
            "id", "legal_entity", "client", "ar_item", "invoice", "amount", "currency", "date", "reason",
            "status", "requested_by", "decided_by", "decided_at", "credit_item", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_invoice(self, request):
        return invoice_id_of(request.ar_item)


class WriteOffCreateSerializer(serializers.Serializer):
    ar_item = serializers.PrimaryKeyRelatedField(queryset=ArItem.objects.all(), required=False)
    invoice = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Defaults to the whole open amount."
    )
    date = serializers.DateField()
    reason = serializers.CharField(max_length=2000)

    def validate(self, attrs):
        return _resolve_invoice(attrs)
