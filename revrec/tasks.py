"""Revenue recognition's Celery tasks: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.utils import timezone

from revrec.services.runs import execute_revenue_run, start_month_end_revenue_runs


@shared_task(acks_late=True)
def run_revenue(run_id: int) -> str | None:
    """Work a revenue run to the end; a redelivered or repeated task continues where the last one stopped."""
    run = execute_revenue_run(run_id=run_id)
    return str(run.recognized_amount) if run else None


@shared_task
def month_end_revenue_runs() -> list[int]:
    """Start last month's revenue run of every legal entity that has none yet (daily; acts once a month)."""
    return [run.pk for run in start_month_end_revenue_runs(today=timezone.localdate())]
