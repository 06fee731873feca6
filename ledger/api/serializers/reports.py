"""Reports: their query parameters, and the shapes of trial balance, aging, statements, GL and DSO."""

from rest_framework import serializers

from crm.models import Account
from ledger.api.serializers.fields import AmountField
from ledger.choices import AccountType
from ledger.models import GLAccount, LegalEntity
from ledger.reports.aging import BUCKETS

REPORT_FORMATS = ("json", "csv")


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
