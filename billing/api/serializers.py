"""Billing API serializers: output shapes of runs, invoices, credit notes and tax codes, and command inputs.

Inputs only parse and type-check; every rule is checked by the service the view calls. Money is a decimal
string in the document's currency, rounded to its minor unit.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from billing import selectors
from billing.choices import InvoiceStatus, RunStatus, SourceType, TaxKind
from billing.models import BillingRun, CreditNote, CreditNoteLine, Invoice, InvoiceLine, RunException, TaxCode
from core.money import quantize
from ledger.api.serializers import AmountField
from ledger.models import GLAccount, LegalEntity

ZERO = Decimal(0)


class PriceField(AmountField):
    """A unit price: in the currency's minor units when that is exact ("185.00"), else as precise as it
    is stored ("33.3333"), so a prorated price is never shown rounded."""

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        rounded = quantize(value, currency or self.context.get("currency"))
        return format(rounded if rounded == value else value.normalize(), "f")


def quantity_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=4, normalize_output=True, read_only=True, **kwargs
    )


def _only_known_fields(serializer: serializers.Serializer, attrs: dict) -> dict:
    """Refuse fields an update cannot change, instead of silently ignoring them."""
    unknown = sorted(set(serializer.initial_data) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
    return attrs


# Billing runs


class BillingScopeSerializer(serializers.Serializer):
    accounts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="Client (crm account) ids; empty: every client of the legal entity.",
    )
    contracts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="Contract ids; empty: every contract with an active billing plan.",
    )


# The run statuses, worded for billing runs (and so an enum of their own in the schema, not the dunning
# runs' with the same values).
RUN_STATUS_CHOICES = [
    (RunStatus.PENDING, "Pending: queued, not started"),
    (RunStatus.RUNNING, "Running: billing contracts"),
    (RunStatus.COMPLETED, "Completed: every contract done"),
    (RunStatus.FAILED, "Failed: see error; resume it"),
]


class BillingRunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RUN_STATUS_CHOICES, read_only=True)
    scope = BillingScopeSerializer(read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent of the run's contracts done.")
    totals = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text='The drafts\' totals per currency, e.g. {"USD": "16915.80"}.',
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = BillingRun
        fields = [
            "id", "legal_entity", "period_end", "scope", "status", "progress", "invoices_created",
            "entries_billed", "expenses_billed", "items_billed", "exceptions_count", "total_contracts",
            "done_contracts", "totals", "error", "attempts", "created_by", "created_at", "started_at",
            "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class BillingRunCreateSerializer(serializers.Serializer):
    """A run's (or a preview's) legal entity, date and scope; `accounts` / `contracts` may also be given at
    the top level, and are added to the scope's."""

    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    period_end = serializers.DateField(help_text="Bill what is billable up to and including this day.")
    scope = BillingScopeSerializer(required=False)
    accounts = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    contracts = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)

    def validate(self, attrs):
        scope = attrs.pop("scope", None) or {}
        attrs["accounts"] = sorted({*scope.get("accounts", []), *attrs.get("accounts", [])})
        attrs["contracts"] = sorted({*scope.get("contracts", []), *attrs.get("contracts", [])})
        return attrs


class RunExceptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunException
        fields = ["id", "run", "kind", "contract", "project", "message", "data", "created_at"]
        read_only_fields = fields


class PreviewLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    source_type = serializers.ChoiceField(choices=SourceType.choices)
    quantity = quantity_field()
    unit_price = PriceField()
    amount = AmountField()


class PreviewExceptionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    message = serializers.CharField()


class PreviewContractSerializer(serializers.Serializer):
    contract = serializers.IntegerField(source="contract_id")
    number = serializers.CharField()
    account = serializers.CharField(help_text="The client's name.")
    currency = serializers.CharField()
    lines = serializers.SerializerMethodField()
    subtotal_amount = AmountField(source="subtotal", help_text="Before tax.")
    entries = serializers.IntegerField(help_text="Time entries it would bill.")
    expenses = serializers.IntegerField()
    items = serializers.IntegerField(help_text="Scheduled items (milestones, instalments, periods).")
    exceptions = PreviewExceptionSerializer(many=True)

    @extend_schema_field(PreviewLineSerializer(many=True))
    def get_lines(self, row):
        lines = [{**line, "currency": row.currency} for line in row.lines]
        return PreviewLineSerializer(lines, many=True).data


class BillingPreviewSerializer(serializers.Serializer):
    period_end = serializers.DateField()
    contracts = PreviewContractSerializer(many=True)
    totals = serializers.SerializerMethodField()
    exceptions = serializers.IntegerField(help_text="How many exceptions a run would record.")
    truncated = serializers.BooleanField(help_text="True when the scope has more contracts than shown.")

    @extend_schema_field(
        serializers.DictField(
            child=serializers.DecimalField(max_digits=20, decimal_places=4),
            help_text="Subtotals (before tax) per currency.",
        )
    )
    def get_totals(self, preview):
        return {
            currency: format(quantize(total, currency), "f") for currency, total in preview.totals.items()
        }


# Invoices


class InvoiceLineSerializer(serializers.ModelSerializer):
    quantity = quantity_field()
    unit_price = PriceField(currency="invoice.currency")
    amount = AmountField(currency="invoice.currency")
    original_quantity = quantity_field(allow_null=True)
    original_unit_price = PriceField(currency="invoice.currency", allow_null=True)
    original_amount = AmountField(currency="invoice.currency", allow_null=True)
    source_ids = serializers.SerializerMethodField(
        help_text="What the line bills, by `source_type`: time entry, expense or plan item ids."
    )

    class Meta:
        model = InvoiceLine
        fields = [
            "id", "position", "description", "quantity", "unit_price", "amount", "tax_code", "source_type",
            "source_ids", "plan", "project", "role", "category", "period_start", "period_end",
            "original_quantity", "original_unit_price", "original_amount",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_source_ids(self, line):
        # The view reads the sources of a whole page of lines at once and passes them in the context.
        found = self.context.get("source_ids")
        if found is None:
            return selectors.source_ids([line])[line.pk]
        return found.get(line.pk, [])


class InvoiceSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(
        source="effective_status",
        choices=InvoiceStatus.choices,
        read_only=True,
        help_text="partially_paid and paid are read from what the client still owes.",
    )
    account_name = serializers.CharField(source="account.name", read_only=True)
    contract_number = serializers.CharField(source="contract.number", read_only=True, allow_null=True)
    subtotal_amount = AmountField()
    tax_amount = AmountField()
    total_amount = AmountField()
    balance_amount = AmountField(
        source="balance", help_text="What the client still owes: the total for a draft, 0 once void."
    )
    functional_total_amount = AmountField(currency="legal_entity.functional_currency", allow_null=True)
    flags = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        read_only=True,
        help_text='Review warnings on a draft: [{"code", "message"}].',
    )
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id", "number", "account", "account_name", "contract", "contract_number", "project",
            "legal_entity", "run", "status", "period_end", "issue_date", "due_date", "payment_terms_days",
            "currency", "subtotal_amount", "tax_amount", "total_amount", "balance_amount",
            "functional_total_amount", "flags", "notes", "lines", "journal_entry", "ar_item",
            "released_at", "sent_at", "sent_to", "voided_at", "void_reason", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class InvoiceVoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why; kept in the audit trail.")


class InvoiceReleaseSerializer(serializers.Serializer):
    issue_date = serializers.DateField(required=False, help_text="Defaults to today; due = issue + terms.")


class InvoiceSendSerializer(serializers.Serializer):
    to = serializers.EmailField(
        required=False, allow_blank=True, help_text="Defaults to the client's billing contact or e-mail."
    )


class EditLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="A line of this draft.")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    unit_price = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)
    reason = serializers.CharField(max_length=500, help_text="Why (a write-up or write-down); audited.")

    def validate(self, attrs):
        if "quantity" not in attrs and "unit_price" not in attrs:
            raise serializers.ValidationError({"quantity": ["Give a new quantity or unit_price."]})
        return attrs


class RemoveLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="A line of this draft.")
    reason = serializers.CharField(max_length=500)


class RemoveEntriesSerializer(serializers.Serializer):
    time_entries = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, help_text="Time entries on this draft."
    )
    reason = serializers.CharField(max_length=500)


# Credit notes


class CreditNoteLineSerializer(serializers.ModelSerializer):
    quantity = quantity_field()
    unit_price = PriceField(currency="credit_note.currency")
    amount = AmountField(currency="credit_note.currency")
    time_entries = serializers.SerializerMethodField(help_text="Time entries this line takes back.")
    expenses = serializers.SerializerMethodField(help_text="Expenses this line takes back.")

    class Meta:
        model = CreditNoteLine
        fields = [
            "id", "invoice_line", "description", "quantity", "unit_price", "amount", "tax_code",
            "time_entries", "expenses",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_time_entries(self, line):
        return [entry.time_entry_id for entry in line.entries.all() if entry.time_entry_id]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_expenses(self, line):
        return [entry.expense_id for entry in line.entries.all() if entry.expense_id]


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    account = serializers.IntegerField(source="invoice.account_id", read_only=True)
    subtotal_amount = AmountField()
    tax_amount = AmountField()
    total_amount = AmountField()
    lines = CreditNoteLineSerializer(many=True, read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id", "invoice", "invoice_number", "account", "legal_entity", "number", "status", "reason",
            "rebill", "issue_date", "currency", "subtotal_amount", "tax_amount", "total_amount", "lines",
            "journal_entry", "ar_item", "created_at", "released_at",
        ]  # fmt: skip
        read_only_fields = fields


class CreditLineInputSerializer(serializers.Serializer):
    invoice_line = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Credit this much of the line."
    )
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, help_text="Or this quantity at the line's price."
    )

    def validate(self, attrs):
        if "amount" in attrs and "quantity" in attrs:
            raise serializers.ValidationError({"amount": ["Give amount or quantity, not both."]})
        return attrs


class CreditNoteCreateSerializer(serializers.Serializer):
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.all())
    reason = serializers.CharField(max_length=500)
    lines = CreditLineInputSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Lines to credit; neither amount nor quantity: the rest of the line, with its work.",
    )
    time_entries = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="Time entries billed on the invoice to take back exactly.",
    )
    rebill = serializers.BooleanField(
        required=False, default=True, help_text="true: the work returns to unbilled; false: written off."
    )


class CreditNoteReleaseSerializer(serializers.Serializer):
    issue_date = serializers.DateField(required=False, help_text="Defaults to today; not before the invoice.")


# Tax codes


class TaxCodeSerializer(serializers.ModelSerializer):
    rate_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, normalize_output=True, read_only=True
    )

    class Meta:
        model = TaxCode
        fields = [
            "id",
            "legal_entity",
            "code",
            "name",
            "kind",
            "rate_percent",
            "account",
            "active",
            "created_at",
        ]
        read_only_fields = fields


# Named as the request form of `TaxCode`, so both share one `kind` enum in the schema.
@extend_schema_serializer(component_name="TaxCode")
class TaxCodeCreateSerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    code = serializers.CharField(max_length=20, help_text='Stored upper case, e.g. "VAT20".')
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=TaxKind.choices, required=False, default=TaxKind.STANDARD)
    rate_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, help_text="0 to 100; above 0 for standard, 0 otherwise."
    )
    account = serializers.PrimaryKeyRelatedField(
        queryset=GLAccount.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The tax payable (liability) account; required for a standard code.",
    )


class TaxCodeUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        fixed = {"rate_percent", "kind", "account"} & set(self.initial_data)
        if fixed:
            raise serializers.ValidationError(
                {
                    name: [
                        "A tax code's rate never changes, since issued invoices show it: create a new code "
                        "and deactivate this one."
                    ]
                    for name in sorted(fixed)
                }
            )
        return _only_known_fields(self, attrs)
