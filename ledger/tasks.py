"""Celery tasks of the ledger: thin wrappers that take ids and call one service each."""

from celery import shared_task
from django.utils import timezone

from core.services.run_recovery import RUN_TASK_OPTIONS, requeue_stalled_runs, work_on_run
from ledger.choices import DunningRunStatus
from ledger.models import DunningRun
from ledger.services.dunning import execute_dunning_run, start_nightly_dunning_runs


@shared_task(**RUN_TASK_OPTIONS)
def run_dunning(run_id: int) -> str | None:
    """Execute a dunning run; a run already claimed or finished is left alone (safe to deliver twice).

    A transient database error mid-run hands the run back and the task retries it; any other failure
    marks the run failed.
    """
    run = work_on_run(DunningRun, run_id, execute_dunning_run)
    return run.status if run else None


@shared_task
def requeue_stalled_dunning_runs() -> list[int]:
    """Queue again the dunning runs a lost worker left pending or running (every few minutes); a running
    one is claimed again once its heartbeat is stale."""
    return requeue_stalled_runs(
        model=DunningRun, task=run_dunning, statuses=(DunningRunStatus.PENDING, DunningRunStatus.RUNNING)
    )


@shared_task
def send_dunning_notices(notice_ids: list[int]) -> int:
    """E-mail a chunk's notices; one already sent or failed is left alone (safe to deliver twice)."""
    from ledger.services.dunning.notices import send_dunning_notice

    for notice_id in notice_ids:
        send_dunning_notice(notice_id=notice_id)
    return len(notice_ids)


@shared_task
def nightly_dunning() -> list[int]:
    """Start today's dunning run of every legal entity with an active policy; once per entity and day."""
    runs = start_nightly_dunning_runs(as_of=timezone.localdate())
    return [run.pk for run in runs]


@shared_task
def nightly_promises() -> dict[str, int]:
    """Settle the promises to pay of every legal entity: kept when paid, broken when their day passed."""
    from ledger.services.collections import settle_promises

    return settle_promises(as_of=timezone.localdate())
