"""Insights API serializers: an insight as its inbox shows it, a run with its counters, and the inputs."""

from rest_framework import serializers

from insights.models import Insight, InsightKind, InsightRun


class FactorSerializer(serializers.Serializer):
    factor = serializers.CharField()
    value = serializers.CharField()
    effect = serializers.CharField(help_text="How it moves the finding: raises, lowers, baseline, ….")


class InsightSerializer(serializers.ModelSerializer):
    figures = serializers.DictField(
        read_only=True, help_text="The numbers behind the explanation; decimals as strings."
    )
    factors = FactorSerializer(many=True, read_only=True, help_text="Top contributing factors, first first.")
    audience = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The roles whose inbox shows it."
    )
    dismissed_by = serializers.CharField(source="dismissed_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Insight
        fields = [
            "id", "kind", "rule", "severity", "status", "subject_type", "subject_id", "subject_label", "url",
            "title", "explanation", "figures", "factors", "audience", "owner", "run", "first_raised_at",
            "last_seen_at", "dismissed_at", "dismissed_by", "dismissed_reason", "cleared_at",
        ]  # fmt: skip
        read_only_fields = fields


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Why it needs no action; kept in the audit trail."
    )


class InsightRunSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=InsightKind.choices),
        read_only=True,
        help_text="The kinds run; empty: every kind.",
    )
    started_by = serializers.CharField(source="started_by.username", read_only=True, allow_null=True)

    class Meta:
        model = InsightRun
        fields = [
            "id", "status", "as_of", "kinds", "progress", "raised", "updated", "cleared", "error",
            "started_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class InsightRunCreateSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Defaults to today; not after today.")
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=InsightKind.choices),
        required=False,
        default=list,
        help_text="The detector kinds to run; empty or absent: every kind.",
    )
