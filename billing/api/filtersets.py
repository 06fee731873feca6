"""Query filters of billing's list endpoints. Invalid values are a 400 with field errors."""

import django_filters

from billing.choices import CreditNoteStatus, InvoiceStatus, RunStatus, TaxKind
from billing.models import BillingRun, CreditNote, Invoice, TaxCode
from crm.models import Account, Contract
from ledger.models import LegalEntity
from projects.models import Project


class BillingRunFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    period_end = django_filters.DateFromToRangeFilter(
        help_text="Runs up to period_end_after..period_end_before."
    )

    class Meta:
        model = BillingRun
        fields = ["legal_entity", "status", "period_end"]


class InvoiceFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        field_name="effective_status",
        choices=InvoiceStatus.choices,
        help_text="The status as shown: paid and partially_paid are read from what is still owed.",
    )
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), help_text="The client.")
    contract = django_filters.ModelChoiceFilter(queryset=Contract.objects.all())
    project = django_filters.ModelChoiceFilter(queryset=Project.objects.all())
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    run = django_filters.ModelChoiceFilter(queryset=BillingRun.objects.all(), help_text="The billing run.")
    currency = django_filters.CharFilter()
    number = django_filters.CharFilter(lookup_expr="icontains")
    issue_date = django_filters.DateFromToRangeFilter(help_text="Issued issue_date_after..issue_date_before.")
    due_date = django_filters.DateFromToRangeFilter(help_text="Due due_date_after..due_date_before.")

    class Meta:
        model = Invoice
        fields = [
            "status", "account", "contract", "project", "legal_entity", "run", "currency", "number",
            "issue_date", "due_date",
        ]  # fmt: skip


class CreditNoteFilterSet(django_filters.FilterSet):
    invoice = django_filters.ModelChoiceFilter(queryset=Invoice.objects.all())
    account = django_filters.ModelChoiceFilter(
        field_name="invoice__account", queryset=Account.objects.all(), help_text="The client."
    )
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(choices=CreditNoteStatus.choices)
    issue_date = django_filters.DateFromToRangeFilter(help_text="Issued issue_date_after..issue_date_before.")

    class Meta:
        model = CreditNote
        fields = ["invoice", "account", "legal_entity", "status", "issue_date"]


class TaxCodeFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    kind = django_filters.ChoiceFilter(choices=TaxKind.choices)
    active = django_filters.BooleanFilter()
    code = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = TaxCode
        fields = ["legal_entity", "kind", "active", "code"]
