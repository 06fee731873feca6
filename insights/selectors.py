"""Reads of insights and runs, scoped to what the requester may see (see `insights.access`)."""

from django.db.models import Count, QuerySet

from insights.access import visibility
from insights.models import Insight, InsightRun, InsightRunStatus, InsightStatus


def visible_insights(user) -> QuerySet[Insight]:
    insights = Insight.objects.select_related("owner", "dismissed_by")
    condition = visibility(user)
    return insights if condition is None else insights.filter(condition)


def status_counts(insights: QuerySet[Insight]) -> dict[str, int]:
    """{status: count} over `insights` (every status present, zero when none)."""
    counts = dict(insights.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in InsightStatus.values}


def latest_run() -> InsightRun | None:
    return InsightRun.objects.select_related("started_by").first()


def active_run() -> InsightRun | None:
    return (
        InsightRun.objects.filter(status__in=[InsightRunStatus.PENDING, InsightRunStatus.RUNNING])
        .order_by("-id")
        .first()
    )
