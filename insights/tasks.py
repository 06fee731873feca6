"""Insights' Celery tasks: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.utils import timezone

from insights.services.runs import execute_insight_run, start_nightly_insight_run


@shared_task
def run_insights(run_id: int) -> str | None:
    """Execute an insight run; one already claimed or finished is left alone (safe to deliver twice)."""
    run = execute_insight_run(run_id=run_id)
    return run.status if run else None


@shared_task
def nightly_insights() -> int:
    """Start tonight's run of every detector."""
    return start_nightly_insight_run(as_of=timezone.localdate()).pk
