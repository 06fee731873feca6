"""Two writes to one person's day at once on PostgreSQL: the week's timesheet row is locked first, so the
24-hours-a-day rule holds even when each entry alone would fit."""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from core.errors import ValidationFailed
from projects.models import Task, TimeEntry
from projects.services.time import record_time

from .conftest import MONDAY, TODAY


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_entries_cannot_exceed_24_hours(firm):
    barrier = threading.Barrier(2)
    saved, refused = [], []

    def book(task_id):
        try:
            barrier.wait(timeout=10)
            task = Task.objects.select_related("project").get(pk=task_id)
            record_time(
                actor=firm.chloe.user,
                person=firm.chloe,
                project=task.project,
                task=task,
                date=MONDAY,
                hours=Decimal(16),
                today=TODAY,
            )
            saved.append(task_id)
        except ValidationFailed as exc:
            refused.append(exc.detail)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(task.pk,)) for task in (firm.workshops, firm.travel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(saved) == 1
    assert refused == ["That makes 32.00 hours on 2026-03-16 for Chloe Novak; a day has at most 24."]
    assert TimeEntry.objects.count() == 1
