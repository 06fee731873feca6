"""Query filters of revenue recognition's list endpoints. Invalid values are a 400 with field errors."""

import django_filters

from crm.models import Account, Contract
from ledger.models import LegalEntity
from revrec.choices import Measure, ObligationStatus, RevenueMethod, RunStatus
from revrec.models import PerformanceObligation, RevenueRun


class PerformanceObligationFilterSet(django_filters.FilterSet):
    contract = django_filters.ModelChoiceFilter(queryset=Contract.objects.all())
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), help_text="The client.")
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    method = django_filters.ChoiceFilter(choices=RevenueMethod.choices)
    measure = django_filters.ChoiceFilter(choices=Measure.choices)
    status = django_filters.ChoiceFilter(choices=ObligationStatus.choices)
    excluded = django_filters.BooleanFilter()

    class Meta:
        model = PerformanceObligation
        fields = ["contract", "account", "legal_entity", "method", "measure", "status", "excluded"]


class RevenueScheduleFilterSet(django_filters.FilterSet):
    contract = django_filters.ModelChoiceFilter(queryset=Contract.objects.all())
    obligation = django_filters.NumberFilter(field_name="id", help_text="The obligation (its id).")
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(
        choices=ObligationStatus.choices, help_text="The obligation's status."
    )

    class Meta:
        model = PerformanceObligation
        fields = ["contract", "obligation", "legal_entity", "status"]


class RevenueRunFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    period_end = django_filters.DateFromToRangeFilter(
        help_text="Runs up to period_end_after..period_end_before."
    )

    class Meta:
        model = RevenueRun
        fields = ["legal_entity", "status", "period_end"]
