"""Billing's Celery tasks: thin wrappers that take ids and call one service each; safe to run twice."""

from celery import chord, shared_task

from billing.choices import RunStatus
from billing.models import BillingRun
from billing.services.runs import (
    bill_billing_run_chunk,
    execute_billing_run,
    finish_billing_run,
    plan_billing_run_chunks,
)
from core.services.run_recovery import RUN_TASK_OPTIONS, requeue_stalled_runs, work_on_run


@shared_task(**RUN_TASK_OPTIONS)
def run_billing(run_id: int) -> int | None:
    """Work a billing run to the end; a redelivered, retried or repeated task continues where the last one
    stopped, and one that finds a live twin working the run leaves it to the twin."""
    run = work_on_run(BillingRun, run_id, execute_billing_run)
    return run.invoices_created if run else None


@shared_task
def requeue_stalled_billing_runs() -> list[int]:
    """Queue again the billing runs a lost worker left pending or running (every few minutes)."""
    return requeue_stalled_runs(
        model=BillingRun, task=run_billing, statuses=(RunStatus.PENDING, RunStatus.RUNNING)
    )


@shared_task(acks_late=True)
def fan_out_billing_run(run_id: int, chunk_size: int | None = None) -> int:
    """Work a billing run on the whole worker pool: a task per chunk of contracts, then one that finishes
    the run once they are all done (a chord); returns how many chunks went out."""
    chunks = plan_billing_run_chunks(run_id=run_id, chunk_size=chunk_size)
    if not chunks:
        finish_billing_run(run_id=run_id)
        return 0
    chord(bill_run_chunk.si(run_id, chunk) for chunk in chunks)(finish_fanned_out_run.si(run_id))
    return len(chunks)


@shared_task(acks_late=True)
def bill_run_chunk(run_id: int, contract_ids: list[int]) -> None:
    """Bill one chunk of a fanned-out run; contracts already done are skipped (safe to run twice)."""
    bill_billing_run_chunk(run_id=run_id, contract_ids=contract_ids)


@shared_task(acks_late=True)
def finish_fanned_out_run(run_id: int) -> int | None:
    """Finish a fanned-out run after its chunks; a finished run is left alone."""
    run = finish_billing_run(run_id=run_id)
    return run.invoices_created if run else None
