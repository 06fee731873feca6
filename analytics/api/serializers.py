"""The `kpis/` query and answer. Money is a decimal string in its currency's minor unit; percentages, rates
and days are decimal strings rounded half-up to 2 places; a ratio with nothing to divide by is null."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics.kpis import GROUP_BY, KPIS
from ledger.api.serializers import AmountField

MAX_DAYS = 2 * 366


def _figure(help_text: str = "", **kwargs):
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, read_only=True, help_text=help_text, **kwargs
    )


def _money(name: str):
    return AmountField(allow_null=True, help_text=KPIS[name].formula if name in KPIS else "")


class KpiQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under its query name.
    vars()["from"] = serializers.DateField(
        required=False, help_text="First day (YYYY-MM-DD); default: the first of `to`'s month."
    )
    to = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD), included; default: today.")
    group_by = serializers.ChoiceField(
        choices=GROUP_BY,
        required=False,
        default="month",
        help_text="Rows per practice (of the person who did the work), client, project, person, legal entity "
        "or month.",
        error_messages={
            "invalid_choice": f'"{{input}}" is not a grouping; use one of: {", ".join(GROUP_BY)}.'
        },
    )
    format = serializers.ChoiceField(
        choices=("json", "csv"), required=False, default="json", help_text="csv downloads the rows as CSV."
    )

    def validate(self, attrs):
        end = attrs.get("to") or timezone.localdate()
        start = attrs.get("from") or end.replace(day=1)
        if end < start:
            raise serializers.ValidationError({"to": ["Must not be before from."]})
        if end - start > timedelta(days=MAX_DAYS):
            raise serializers.ValidationError({"from": ["The range is at most two years (732 days)."]})
        return {**attrs, "from": start, "to": end}


class KpiFiguresSerializer(serializers.Serializer):
    currency = serializers.CharField(allow_null=True, help_text="The currency of the group's money figures.")
    hours = _figure("Approved hours worked.")
    billable_hours = _figure("Approved billable hours.")
    available_hours = _figure(
        "Capacity on the range's weekdays less holidays and time off; null for clients and projects."
    )
    utilization = _figure(KPIS["utilization"].formula)
    billable_utilization = _figure(KPIS["billable_utilization"].formula)
    realization = _figure(KPIS["realization"].formula)
    effective_rate = _money("effective_rate")
    standard_value = _money("standard_value")
    billed_value = _money("billed_value")
    revenue = _money("revenue")
    cost = _money("cost")
    margin = _money("margin")
    margin_percent = _figure(KPIS["margin_percent"].formula)
    wip = _money("wip")
    backlog = _money("backlog")
    deferred_revenue = _money("deferred_revenue")
    unbilled_revenue = _money("unbilled_revenue")
    overdue_ar = _money("overdue_ar")
    dso = _figure(KPIS["dso"].formula)
    dso_simple = _figure(KPIS["dso_simple"].formula)
    days_to_invoice = _figure(KPIS["days_to_invoice"].formula)
    days_to_invoice_p90 = _figure("The 90th percentile of days to invoice.")
    write_off_rate = _figure(KPIS["write_off_rate"].formula)
    bookings = _money("bookings")
    pipeline_weighted = _money("pipeline_weighted")


class KpiRowSerializer(KpiFiguresSerializer):
    key = serializers.CharField(
        allow_null=True,
        help_text="The group's id (person, practice, project, client, legal entity) or its month "
        "(YYYY-MM-DD); null for the people without a practice.",
    )
    name = serializers.CharField()


class KpiDefinitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    formula = serializers.CharField()
    unit = serializers.CharField()


class KpiReportSerializer(serializers.Serializer):
    vars()["from"] = serializers.DateField()
    to = serializers.DateField()
    group_by = serializers.CharField()
    rows = KpiRowSerializer(many=True, help_text="One per group and currency.")
    totals = KpiFiguresSerializer(many=True, help_text="One per currency, with the firm's balances on `to`.")
    win_rate = _figure(KPIS["win_rate"].formula)
    definitions = KpiDefinitionSerializer(many=True)
