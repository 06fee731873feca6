"""Billing's Celery tasks: thin wrappers that take ids and call one service each; safe to run twice."""

from celery import shared_task

from billing.services.runs import execute_billing_run


@shared_task(acks_late=True)
def run_billing(run_id: int) -> int | None:
    """Work a billing run to the end; a redelivered or repeated task continues where the last one stopped."""
    run = execute_billing_run(run_id=run_id)
    return run.invoices_created if run else None
