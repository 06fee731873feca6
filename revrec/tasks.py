"""Revenue recognition's Celery tasks: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.utils import timezone

from core.services.run_recovery import RUN_TASK_OPTIONS, requeue_stalled_runs, work_on_run
from revrec.choices import RunStatus
from revrec.models import RevenueRun
from revrec.services.runs import execute_revenue_run, start_month_end_revenue_runs


@shared_task(**RUN_TASK_OPTIONS)
def run_revenue(run_id: int) -> str | None:
    """Work a revenue run to the end; a redelivered, retried or repeated task continues where the last one
    stopped, and one that finds a live twin working the run leaves it to the twin."""
    run = work_on_run(RevenueRun, run_id, execute_revenue_run)
    return str(run.recognized_amount) if run else None


@shared_task
def requeue_stalled_revenue_runs() -> list[int]:
    """Queue again the revenue runs a lost worker left pending or running (every few minutes)."""
    return requeue_stalled_runs(
        model=RevenueRun, task=run_revenue, statuses=(RunStatus.PENDING, RunStatus.RUNNING)
    )


@shared_task
def month_end_revenue_runs() -> list[int]:
    """Start last month's revenue run of every legal entity that has none yet (daily; acts once a month)."""
    return [run.pk for run in start_month_end_revenue_runs(today=timezone.localdate())]
