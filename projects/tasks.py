"""Celery tasks of the projects app: thin wrappers that call one service each."""

from celery import shared_task

from projects.services.reminders import send_missing_time_reminders


@shared_task
def missing_time_reminders() -> list[int]:
    """Nightly: remind people whose last full week is under capacity (once per person and week)."""
    return [reminder.pk for reminder in send_missing_time_reminders()]
