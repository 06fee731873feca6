"""Query filters of the projects list endpoints. Invalid values are a 400 with field errors."""

import django_filters
from django.db.models import Q

from projects.choices import (
    EntryStatus,
    ExpenseCategory,
    MilestoneStatus,
    ProjectStatus,
    ResourceRequestStatus,
    TimesheetStatus,
)
from projects.models import (
    Assignment,
    CostRate,
    Expense,
    Holiday,
    Milestone,
    Person,
    Project,
    ProjectRateOverride,
    RateCard,
    ResourceRequest,
    Task,
    TimeEntry,
    TimeOff,
    Timesheet,
)


class ProjectFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ProjectStatus.choices)
    account = django_filters.NumberFilter(field_name="account_id")
    contract = django_filters.NumberFilter(field_name="contract_id")
    legal_entity = django_filters.NumberFilter(field_name="legal_entity_id")
    manager = django_filters.NumberFilter(field_name="manager_id")
    practice = django_filters.NumberFilter(field_name="practice_id")
    code = django_filters.CharFilter(
        field_name="code", lookup_expr="istartswith", help_text="Codes starting so."
    )

    class Meta:
        model = Project
        fields = ["status", "account", "contract", "legal_entity", "manager", "practice", "code"]


class TaskFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    parent = django_filters.NumberFilter(field_name="parent_id")
    billable = django_filters.BooleanFilter()
    active = django_filters.BooleanFilter()

    class Meta:
        model = Task
        fields = ["project", "parent", "billable", "active"]


class MilestoneFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    status = django_filters.ChoiceFilter(choices=MilestoneStatus.choices)
    due = django_filters.DateFromToRangeFilter(help_text="Due from due_after to due_before.")

    class Meta:
        model = Milestone
        fields = ["project", "status", "due"]


class RateCardFilterSet(django_filters.FilterSet):
    currency = django_filters.CharFilter()
    account = django_filters.NumberFilter(field_name="account_id")
    contract = django_filters.NumberFilter(field_name="contract_id")
    active = django_filters.BooleanFilter()
    scope = django_filters.ChoiceFilter(
        choices=[("contract", "Contract"), ("client", "Client"), ("standard", "Standard")],
        method="filter_scope",
    )

    class Meta:
        model = RateCard
        fields = ["currency", "account", "contract", "active", "scope"]

    def filter_scope(self, queryset, name, value):
        if value == "contract":
            return queryset.filter(contract__isnull=False)
        if value == "client":
            return queryset.filter(contract__isnull=True, account__isnull=False)
        return queryset.filter(contract__isnull=True, account__isnull=True)


class CostRateFilterSet(django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")

    class Meta:
        model = CostRate
        fields = ["person"]


class RateOverrideFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    person = django_filters.NumberFilter(field_name="person_id")

    class Meta:
        model = ProjectRateOverride
        fields = ["project", "person"]


class PersonFilterSet(django_filters.FilterSet):
    role = django_filters.NumberFilter(field_name="role_id")
    practice = django_filters.NumberFilter(field_name="practice_id")
    legal_entity = django_filters.NumberFilter(field_name="legal_entity_id")
    manager = django_filters.NumberFilter(field_name="manager_id")
    active = django_filters.BooleanFilter()
    skill = django_filters.CharFilter(
        field_name="skill_levels__skill__name",
        lookup_expr="iexact",
        distinct=True,
        help_text="Has this skill.",
    )

    class Meta:
        model = Person
        fields = ["role", "practice", "legal_entity", "manager", "active", "skill"]


class AssignmentFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    person = django_filters.NumberFilter(field_name="person_id")
    role = django_filters.NumberFilter(field_name="role_id")
    active_on = django_filters.DateFilter(
        method="filter_active_on", help_text="Assignments covering this day."
    )

    class Meta:
        model = Assignment
        fields = ["project", "person", "role", "active_on"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(start__lte=value, end__gte=value)


class ResourceRequestFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    role = django_filters.NumberFilter(field_name="role_id")
    status = django_filters.ChoiceFilter(choices=ResourceRequestStatus.choices)

    class Meta:
        model = ResourceRequest
        fields = ["project", "role", "status"]


def filter_effective_status(queryset, name, values):
    """Billing does not rewrite time entries or expenses: `billed` is an approved row with a bill-once link
    (billing's `billing` relation), so `approved` means approved and not yet billed."""
    if not values:
        return queryset
    wanted = set(values)
    condition = Q(status__in=wanted - {EntryStatus.APPROVED, EntryStatus.BILLED})
    if EntryStatus.APPROVED in wanted:
        condition |= Q(status=EntryStatus.APPROVED, billing__isnull=True)
    if EntryStatus.BILLED in wanted:
        condition |= Q(status__in=[EntryStatus.APPROVED, EntryStatus.BILLED], billing__isnull=False)
    return queryset.filter(condition)


class TimeEntryFilterSet(django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")
    project = django_filters.NumberFilter(field_name="project_id")
    task = django_filters.NumberFilter(field_name="task_id")
    timesheet = django_filters.NumberFilter(field_name="timesheet_id")
    status = django_filters.MultipleChoiceFilter(choices=EntryStatus.choices, method=filter_effective_status)
    billable = django_filters.BooleanFilter()
    date = django_filters.DateFromToRangeFilter(help_text="Dated from date_after to date_before.")

    class Meta:
        model = TimeEntry
        fields = ["person", "project", "task", "timesheet", "status", "billable", "date"]


class TimesheetFilterSet(django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")
    week_start = django_filters.DateFilter()
    status = django_filters.ChoiceFilter(choices=TimesheetStatus.choices)
    week = django_filters.DateFromToRangeFilter(field_name="week_start", help_text="week_after..week_before.")

    class Meta:
        model = Timesheet
        fields = ["person", "week_start", "status", "week"]


class ExpenseFilterSet(django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")
    project = django_filters.NumberFilter(field_name="project_id")
    status = django_filters.MultipleChoiceFilter(choices=EntryStatus.choices, method=filter_effective_status)
    category = django_filters.ChoiceFilter(choices=ExpenseCategory.choices)
    billable = django_filters.BooleanFilter()
    date = django_filters.DateFromToRangeFilter(help_text="Dated from date_after to date_before.")

    class Meta:
        model = Expense
        fields = ["person", "project", "status", "category", "billable", "date"]


class HolidayFilterSet(django_filters.FilterSet):
    legal_entity = django_filters.NumberFilter(field_name="legal_entity_id")
    date = django_filters.DateFromToRangeFilter(help_text="From date_after to date_before.")

    class Meta:
        model = Holiday
        fields = ["legal_entity", "date"]


class TimeOffFilterSet(django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")
    kind = django_filters.ChoiceFilter(choices=TimeOff.Kind.choices)
    after = django_filters.DateFilter(field_name="end", lookup_expr="gte", help_text="Ending on or after.")
    before = django_filters.DateFilter(
        field_name="start", lookup_expr="lte", help_text="Starting on or before."
    )

    class Meta:
        model = TimeOff
        fields = ["person", "kind", "after", "before"]
