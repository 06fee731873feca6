"""Ledger API serializers: output shapes of the ledger's objects and reports, and command inputs.

Inputs only parse and type-check; every rule is checked by the service the view calls.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import quantize
from crm.models import Account
from ledger.choices import AccountType
from ledger.models import (
    Allocation,
    ArItem,
    ExchangeRate,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    JournalLine,
    LegalEntity,
    Payment,
    WriteOffRequest,
)
from ledger.reports.aging import BUCKETS

# The document type billing gives its invoices' AR items; such an item's document id is the invoice id.
INVOICE_DOCUMENT = "billing.invoice"
ENTRY_STATUSES = ("posted", "reversed")
REPORT_FORMATS = ("json", "csv")


def _lookup(instance, path: str):
    for part in path.split("."):
        instance = instance[part] if isinstance(instance, dict) else getattr(instance, part)
    return instance


class AmountField(serializers.DecimalField):
    """A money amount as a decimal string in its currency's minor units: "1234.50" USD, "1000" JPY.

    `currency` is the dotted path (from the object) to its ISO code; without one, the serializer
    context's `currency` is used (reports, whose amounts are all in one functional currency).
    """

    def __init__(self, *, currency: str | None = "currency", **kwargs):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("read_only", True)
        self.currency_path = currency
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        currency = _lookup(instance, self.currency_path) if self.currency_path else None
        return value, currency

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        currency = currency or self.context.get("currency")
        if currency:
            value = quantize(value, currency)
        return format(value, "f")


def invoice_id_of(item: ArItem) -> int | None:
    if item.document_type == INVOICE_DOCUMENT and item.document_id.isdigit():
        return int(item.document_id)
    return None


def _only_known_fields(serializer: serializers.Serializer, attrs: dict) -> dict:
    """Refuse fields an update cannot change, instead of silently ignoring them."""
    unknown = sorted(set(serializer.initial_data) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
    return attrs


# Master data


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
    class Meta:
        model = FiscalPeriod
        fields = [
            "id", "legal_entity", "fiscal_year", "number", "start", "end", "status", "closed_at", "closed_by",
        ]  # fmt: skip
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; kept in the audit trail.")


# Journal


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


# Accounts receivable


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


# Reports: query parameters


def _check_range(attrs: dict) -> dict:
    if attrs["end"] < attrs["start"]:
        raise serializers.ValidationError({"end": ["Must not be before start."]})
    return attrs


def _format_field():
    return serializers.ChoiceField(
        choices=REPORT_FORMATS, required=False, default="json", help_text="csv downloads the report as CSV."
    )


class TrialBalanceQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    as_of = serializers.DateField()
    format = _format_field()


class AgingQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    as_of = serializers.DateField()
    basis = serializers.ChoiceField(
        choices=("transaction", "functional"),
        default="transaction",
        help_text="transaction: amounts in each item's currency; functional: at booking rates.",
    )
    format = _format_field()


class PeriodQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    start = serializers.DateField()
    end = serializers.DateField()
    format = _format_field()

    def validate(self, attrs):
        return _check_range(attrs)


class BalanceSheetQuerySerializer(TrialBalanceQuerySerializer):
    pass


class DsoQuerySerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    as_of = serializers.DateField()
    months = serializers.IntegerField(
        required=False,
        default=12,
        min_value=1,
        max_value=36,
        help_text="How far the countback may walk back.",
    )
    days = serializers.IntegerField(
        required=False,
        default=90,
        min_value=1,
        max_value=366,
        help_text="The simple method's billing window.",
    )
    format = _format_field()


class StatementQuerySerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), help_text="The client.")
    start = serializers.DateField()
    end = serializers.DateField()
    format = _format_field()

    def validate(self, attrs):
        return _check_range(attrs)


class GeneralLedgerQuerySerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=GLAccount.objects.select_related("legal_entity"))
    start = serializers.DateField()
    end = serializers.DateField()
    after = serializers.IntegerField(
        required=False, min_value=1, help_text="The previous page's next_after: continue after that line."
    )
    page_size = serializers.IntegerField(required=False, default=500, min_value=1, max_value=5000)
    format = _format_field()

    def validate(self, attrs):
        return _check_range(attrs)


# Reports: output


class AccountRowSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=AccountType.choices)


class TrialBalanceRowSerializer(AccountRowSerializer):
    normal_balance = serializers.CharField()
    debit = AmountField(currency=None)
    credit = AmountField(currency=None)
    balance = AmountField(currency=None, help_text="Positive on the account's normal side.")


class DebitCreditTotalsSerializer(serializers.Serializer):
    debit = AmountField(currency=None)
    credit = AmountField(currency=None)


class TrialBalanceSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    currency = serializers.CharField()
    rows = TrialBalanceRowSerializer(many=True)
    totals = DebitCreditTotalsSerializer()


class AgingRowSerializer(serializers.Serializer):
    """One client's (or, in totals, everyone's) open AR in one currency, by days past due."""

    def get_fields(self):
        fields = {
            "client": serializers.IntegerField(source="client_id", allow_null=True),
            "client_name": serializers.CharField(),
            "currency": serializers.CharField(),
        }
        for name in (*BUCKETS, "unapplied", "total"):
            fields[name] = AmountField()
        return fields


class AgingReportSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    basis = serializers.CharField()
    rows = AgingRowSerializer(many=True)
    totals = AgingRowSerializer(many=True, help_text="One row per currency.")


class StatementRowSerializer(AccountRowSerializer):
    amount = AmountField(currency=None)


class ProfitAndLossTotalsSerializer(serializers.Serializer):
    revenue = AmountField(currency=None)
    expenses = AmountField(currency=None)
    net_income = AmountField(currency=None)


class ProfitAndLossSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    revenue = StatementRowSerializer(many=True)
    expenses = StatementRowSerializer(many=True)
    totals = ProfitAndLossTotalsSerializer()


class BalanceSheetTotalsSerializer(serializers.Serializer):
    assets = AmountField(currency=None)
    liabilities = AmountField(currency=None)
    equity_accounts = AmountField(currency=None, help_text="Equity accounts only.")
    equity = AmountField(currency=None, help_text="Equity accounts plus current- and prior-year earnings.")
    liabilities_and_equity = AmountField(currency=None)


class BalanceSheetSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    fiscal_year_start = serializers.DateField()
    currency = serializers.CharField()
    assets = StatementRowSerializer(many=True)
    liabilities = StatementRowSerializer(many=True)
    equity = StatementRowSerializer(many=True)
    current_year_earnings = AmountField(
        currency=None, help_text="Revenue − expenses since fiscal_year_start."
    )
    prior_years_earnings = AmountField(currency=None, help_text="Earnings of earlier years not yet closed.")
    totals = BalanceSheetTotalsSerializer()


class GeneralLedgerAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=AccountType.choices)
    normal_balance = serializers.CharField()


class GeneralLedgerLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    entry = serializers.IntegerField(source="entry_id")
    entry_number = serializers.CharField()
    memo = serializers.CharField()
    line_memo = serializers.CharField()
    source_type = serializers.CharField()
    source_id = serializers.CharField()
    client = serializers.IntegerField(source="client_id", allow_null=True)
    client_name = serializers.CharField(allow_null=True)
    project = serializers.IntegerField(source="project_id", allow_null=True)
    transaction_currency = serializers.CharField()
    transaction_debit = AmountField(currency="transaction_currency")
    transaction_credit = AmountField(currency="transaction_currency")
    debit = AmountField(currency=None)
    credit = AmountField(currency=None)
    balance = AmountField(currency=None, help_text="Running balance, positive on the normal side.")


class GeneralLedgerSerializer(serializers.Serializer):
    account = GeneralLedgerAccountSerializer()
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    currency = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    opening_balance = AmountField(currency=None)
    debit = AmountField(currency=None, help_text="Debits of the whole period, not only this page.")
    credit = AmountField(currency=None, help_text="Credits of the whole period, not only this page.")
    closing_balance = AmountField(currency=None)
    lines = GeneralLedgerLineSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page; null on the last page."
    )


class DsoSerializer(serializers.Serializer):
    legal_entity = serializers.IntegerField(source="legal_entity_id")
    as_of = serializers.DateField()
    currency = serializers.CharField()
    ar_balance = AmountField(help_text="Open invoices less unapplied credits, at booking rates.")
    countback_months = serializers.IntegerField()
    dso_countback = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, help_text="Days, by the countback method."
    )
    simple_days = serializers.IntegerField()
    dso_simple = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, help_text="AR ÷ the window's invoicing × its days."
    )


class StatementLineSerializer(serializers.Serializer):
    date = serializers.DateField()
    type = serializers.CharField(
        help_text="invoice, credit_note, payment, write_off, allocation or allocation_reversal."
    )
    reference = serializers.CharField()
    description = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    amount = AmountField(help_text="What the line adds to the balance; allocations add nothing.")
    applied = AmountField(allow_null=True, help_text="For allocations: the amount applied.")
    balance = AmountField()


class StatementSectionSerializer(serializers.Serializer):
    currency = serializers.CharField()
    opening_balance = AmountField()
    lines = StatementLineSerializer(many=True)
    closing_balance = AmountField()


class StatementSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="client_id", help_text="The client.")
    account_name = serializers.CharField(source="client_name")
    start = serializers.DateField()
    end = serializers.DateField()
    currencies = StatementSectionSerializer(many=True, help_text="One section per currency billed.")
