"""CRM Celery tasks: thin wrappers around services, safe to run twice."""

from celery import shared_task

from crm.services.renewals import run_renewal_triggers


@shared_task
def nightly_renewal_triggers() -> int:
    """Fire the renewal and expansion triggers due today (each fires once per contract and kind)."""
    return run_renewal_triggers()
