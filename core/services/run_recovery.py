"""Recovery of long runs (billing, revenue and dunning runs) from lost workers and transient database errors.

The task working a run holds a PostgreSQL advisory lock on it for as long as it works; the lock dies with
the task's connection, so a run left pending or running that no live task holds was lost with its worker
(killed, its message lost or never sent), and the periodic sweep queues it again. A run task retries by
itself, with backoff, on errors a second attempt can get past (a dropped connection, a serialization
failure, a deadlock); the runs resume where they stopped, so a retry redoes only the chunk that failed.
"""

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

# Psycopg's serialization failures and deadlocks arrive as OperationalError.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
# Options of every run task: re-delivered if its worker dies, retried on transient errors, 5 s … 5 min
# apart (jittered) and 5 times at most; the longest backoff stays far below the broker's visibility timeout.
RUN_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_DATABASE_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
# A run pending or running this long that no live task holds is queued again.
STALLED_AFTER = timedelta(minutes=10)
# A killed task's database backend may take a moment to notice its client is gone and drop the lock.
LOCK_GRACE_SECONDS = 15.0
SWEEP_BATCH = 100


def _lock_class(model) -> int:
    """A stable key per kind of run: the first half of its runs' two-part advisory lock keys."""
    return zlib.crc32(model._meta.label.encode()) & 0x7FFFFFFF


def _try_lock(key: tuple[int, int]) -> bool:
    deadline = time.monotonic() + LOCK_GRACE_SECONDS
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)


@contextmanager
def working_on(model, run_id: int) -> Iterator[bool]:
    """Hold the run's lock while the body works it. Yields False when a live twin task holds it (the body
    should then leave the run alone). After a transient error the broken connection is dropped, so that
    the retry starts on a new one."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = (_lock_class(model), run_id)
    if not _try_lock(key):
        yield False
        return
    try:
        yield True
    except TRANSIENT_DATABASE_ERRORS:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        raise
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:
            pass  # the connection is gone, and its lock with it


def work_on_run(model, run_id: int, execute):
    """`execute(run_id=…)` while holding the run's lock; None, without working, when a live twin holds it."""
    with working_on(model, run_id) as mine:
        return execute(run_id=run_id) if mine else None


def worked_run_ids(model) -> set[int]:
    """The runs of this kind that a live task holds right now."""
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
            " AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [_lock_class(model)],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def requeue_stalled_runs(*, model, task, statuses, now=None) -> list[int]:
    """Queue `task` again for each run in `statuses` created over `STALLED_AFTER` ago that no live task
    holds. A run queued twice is worked once: the second task finds it held or finished."""
    now = now or timezone.now()
    candidates = list(
        model.objects.filter(status__in=statuses, created_at__lt=now - STALLED_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    held = worked_run_ids(model)
    stalled = [pk for pk in candidates if pk not in held]
    for pk in stalled:
        task.delay(pk)
    return stalled
