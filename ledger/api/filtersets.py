"""Query filters of the ledger's list endpoints. Invalid values are a 400 with field errors."""

import django_filters

from crm.models import Account
from ledger.choices import AccountType, ArItemKind, PeriodStatus
from ledger.models import (
    ArItem,
    ExchangeRate,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    LegalEntity,
    Payment,
    WriteOffRequest,
)
from ledger.reports.financial import journal


class ExchangeRateFilterSet(django_filters.FilterSet):
    from_currency = django_filters.CharFilter(field_name="from_currency", help_text="ISO code, e.g. EUR.")
    to_currency = django_filters.CharFilter(field_name="to_currency", help_text="ISO code, e.g. USD.")
    date = django_filters.DateFromToRangeFilter(help_text="Rates dated from date_after to date_before.")

    class Meta:
        model = ExchangeRate
        fields = ["from_currency", "to_currency", "date"]


class GLAccountFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    type = django_filters.ChoiceFilter(choices=AccountType.choices)
    active = django_filters.BooleanFilter()
    code = django_filters.CharFilter(
        field_name="code", lookup_expr="startswith", help_text="Codes starting so."
    )

    class Meta:
        model = GLAccount
        fields = ["legal_entity", "type", "active", "code"]


class FiscalPeriodFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    fiscal_year = django_filters.NumberFilter()
    status = django_filters.ChoiceFilter(choices=PeriodStatus.choices)
    contains = django_filters.DateFilter(
        method="filter_contains", help_text="The period containing this day."
    )

    class Meta:
        model = FiscalPeriod
        fields = ["legal_entity", "fiscal_year", "status", "contains"]

    def filter_contains(self, queryset, name, value):
        return queryset.filter(start__lte=value, end__gte=value)


class JournalEntryFilterSet(django_filters.FilterSet):
    """The journal browser's filters; `ledger.reports.financial.journal` applies them."""

    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all(), method="keep")
    date = django_filters.DateFromToRangeFilter(
        method="keep", help_text="Entries dated date_after..date_before."
    )
    account = django_filters.NumberFilter(method="keep", help_text="Entries with a line on this GL account.")
    client = django_filters.NumberFilter(method="keep", help_text="Entries with a line for this client.")
    project = django_filters.NumberFilter(method="keep", help_text="Entries with a line for this project.")
    source_type = django_filters.CharFilter(
        method="keep", help_text='e.g. "billing.invoice", "ledger.manual".'
    )
    source_id = django_filters.CharFilter(method="keep")
    status = django_filters.ChoiceFilter(
        choices=[("posted", "Posted"), ("reversed", "Reversed")], method="keep"
    )

    class Meta:
        model = JournalEntry
        fields = [
            "legal_entity",
            "date",
            "account",
            "client",
            "project",
            "source_type",
            "source_id",
            "status",
        ]

    def keep(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        data = dict(self.form.cleaned_data)
        dates = data.pop("date", None)
        if dates:
            data["date_after"], data["date_before"] = dates.start, dates.stop
        return queryset & journal(legal_entity=data.pop("legal_entity", None), filters=data)


class ArItemFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    client = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    kind = django_filters.ChoiceFilter(choices=ArItemKind.choices)
    currency = django_filters.CharFilter()
    open = django_filters.BooleanFilter(method="filter_open", help_text="true: only items with money open.")
    due = django_filters.DateFromToRangeFilter(
        field_name="due_date", help_text="Due from due_after to due_before."
    )

    class Meta:
        model = ArItem
        fields = ["legal_entity", "client", "kind", "currency", "open", "due"]

    def filter_open(self, queryset, name, value):
        return queryset.exclude(open_amount=0) if value else queryset.filter(open_amount=0)


class PaymentFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    account = django_filters.ModelChoiceFilter(
        field_name="client", queryset=Account.objects.all(), help_text="The paying client."
    )
    currency = django_filters.CharFilter()
    date = django_filters.DateFromToRangeFilter(help_text="Payments dated date_after..date_before.")
    reference = django_filters.CharFilter(lookup_expr="icontains")
    unallocated = django_filters.BooleanFilter(
        method="filter_unallocated", help_text="true: payments with money still unallocated."
    )

    class Meta:
        model = Payment
        fields = ["legal_entity", "account", "currency", "date", "reference", "unallocated"]

    def filter_unallocated(self, queryset, name, value):
        if value:
            return queryset.exclude(ar_item__open_amount=0)
        return queryset.filter(ar_item__open_amount=0)


class WriteOffFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    client = django_filters.ModelChoiceFilter(field_name="ar_item__client", queryset=Account.objects.all())
    status = django_filters.ChoiceFilter(choices=WriteOffRequest.Status.choices)

    class Meta:
        model = WriteOffRequest
        fields = ["legal_entity", "client", "status"]
