"""Query filters of the CRM's list endpoints. Invalid values are a 400 with field errors."""

import django_filters
from django.db.models import Q

from core.models import User
from crm.choices import ActivityKind, ContractStatus, QuoteStatus
from crm.models import Account, Activity, Contact, Contract, Opportunity, PipelineStage, Quote
from ledger.models import LegalEntity


class AccountFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Name or domain containing this.")
    status = django_filters.ChoiceFilter(choices=Account.Status.choices)
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    parent = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())

    class Meta:
        model = Account
        fields = ["q", "status", "legal_entity", "parent", "owner"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value))


class ContactFilterSet(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all())

    class Meta:
        model = Contact
        fields = ["account"]


class ActivityFilterSet(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    opportunity = django_filters.ModelChoiceFilter(queryset=Opportunity.objects.all())
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    kind = django_filters.ChoiceFilter(choices=ActivityKind.choices)
    done = django_filters.BooleanFilter()
    mine = django_filters.BooleanFilter(
        method="filter_mine", help_text="true: only yours that are still open."
    )
    due = django_filters.DateFromToRangeFilter(help_text="Due from due_after to due_before.")

    class Meta:
        model = Activity
        fields = ["account", "opportunity", "owner", "kind", "done", "mine", "due"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(owner=self.request.user, done=False) if value else queryset


class OpportunityFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    stage = django_filters.ChoiceFilter(
        choices=lambda: list(PipelineStage.objects.values_list("code", "name"))
    )
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    open = django_filters.BooleanFilter(
        method="filter_open", help_text="true: open deals; false: won or lost."
    )
    expected_close = django_filters.DateFromToRangeFilter(
        help_text="Expected to close from expected_close_after to expected_close_before."
    )

    class Meta:
        model = Opportunity
        fields = ["q", "stage", "account", "owner", "open", "expected_close"]

    def filter_open(self, queryset, name, value):
        closed = Q(stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST])
        return queryset.exclude(closed) if value else queryset.filter(closed)


class QuoteFilterSet(django_filters.FilterSet):
    opportunity = django_filters.ModelChoiceFilter(queryset=Opportunity.objects.all())
    status = django_filters.ChoiceFilter(choices=QuoteStatus.choices)

    class Meta:
        model = Quote
        fields = ["opportunity", "status"]


class ContractFilterSet(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all())
    opportunity = django_filters.ModelChoiceFilter(queryset=Opportunity.objects.all())
    legal_entity = django_filters.ModelChoiceFilter(queryset=LegalEntity.objects.all())
    status = django_filters.ChoiceFilter(choices=ContractStatus.choices)
    end = django_filters.DateFromToRangeFilter(help_text="Ending from end_after to end_before.")

    class Meta:
        model = Contract
        fields = ["account", "opportunity", "legal_entity", "status", "end"]
