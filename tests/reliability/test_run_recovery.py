"""Run tasks recover by themselves: a transient database error is retried with backoff (a bounded number of
times) and the run resumes where it stopped; a run whose task was lost is queued again by the periodic
sweep, unless a live task still holds it; either way every entry is billed exactly once."""

from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from billing import tasks as billing_tasks
from billing.choices import RunStatus
from billing.models import BillingRun, Invoice, InvoiceLine, TimeEntryBilling
from billing.services import runs
from billing.services.runs import start_billing_run
from config.celery import app
from core.services import run_recovery
from ledger import tasks as ledger_tasks
from ledger.models import DunningRun
from revrec import tasks as revrec_tasks
from revrec.models import RevenueRun
from tests.reliability.test_crash_recovery import CONTRACTS, billing_firm, wait_for

D = Decimal
pytestmark = pytest.mark.postgres


def assert_billed_exactly_once(run_id: int) -> None:
    run = BillingRun.objects.get(pk=run_id)
    assert (run.status, run.done_contracts, run.invoices_created, run.entries_billed) == (
        RunStatus.COMPLETED,
        CONTRACTS,
        CONTRACTS,
        CONTRACTS * 5,
    )
    assert TimeEntryBilling.objects.count() == CONTRACTS * 5
    assert Invoice.objects.count() == CONTRACTS
    # 5 entries × 2.50 h × 150.00 = 1,875.00 a contract.
    assert InvoiceLine.objects.aggregate(total=Sum("amount"))["total"] == D("45000.00")


@pytest.fixture
def pending_run(finance, entity, roles, people, make_contract, client_account, monkeypatch):
    """A billing run over 24 contracts, worked two contracts a chunk, whose task has not run yet.

    In-process tasks retry in place only when their errors are not propagated to the caller."""
    billing_firm(make_contract, roles, people)
    monkeypatch.setattr(runs, "CHUNK_CONTRACTS", 2)
    with mock.patch.object(billing_tasks.run_billing, "delay"), transaction.atomic():
        run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield run
    app.conf.task_eager_propagates = propagates


def failing_chunks(fail_on: set[int], error: Exception):
    """`_bill_chunk`, failing (before it writes anything) on the given calls, counted from 1."""
    real = runs._bill_chunk
    calls = []

    def bill_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) in fail_on:
            raise error
        return real(*args, **kwargs)

    return mock.patch.object(runs, "_bill_chunk", bill_chunk), calls


@pytest.mark.django_db
def test_a_transient_database_error_is_retried_and_the_run_resumes_its_chunks(pending_run):
    patch, calls = failing_chunks({4}, OperationalError("could not serialize access"))
    with patch:
        result = billing_tasks.run_billing.apply((pending_run.pk,))

    assert result.successful() and result.result == CONTRACTS
    assert BillingRun.objects.get(pk=pending_run.pk).attempts == 2
    # 3 chunks done, the 4th failed, then the retry did the 9 chunks left: 13 calls, none redone.
    assert len(calls) == 13
    assert_billed_exactly_once(pending_run.pk)


@pytest.mark.django_db
def test_a_lasting_database_error_gives_up_after_five_retries(pending_run):
    patch, calls = failing_chunks(set(range(1, 100)), OperationalError("server closed the connection"))
    with patch:
        result = billing_tasks.run_billing.apply((pending_run.pk,))

    assert result.failed() and isinstance(result.result, OperationalError)
    run = BillingRun.objects.get(pk=pending_run.pk)
    assert (len(calls), run.attempts, run.status) == (6, 6, RunStatus.FAILED)
    assert run.error == "OperationalError: server closed the connection"
    assert Invoice.objects.count() == 0


@pytest.mark.django_db
def test_an_error_that_a_retry_cannot_fix_is_not_retried(pending_run):
    patch, calls = failing_chunks({1}, ValueError("bad data"))
    with patch:
        result = billing_tasks.run_billing.apply((pending_run.pk,))

    assert result.failed() and isinstance(result.result, ValueError)
    assert (len(calls), BillingRun.objects.get(pk=pending_run.pk).status) == (1, RunStatus.FAILED)


def test_every_run_task_retries_transient_errors_with_bounded_backoff_and_is_swept():
    app.loader.import_default_modules()
    for name in ("billing.tasks.run_billing", "revrec.tasks.run_revenue", "ledger.tasks.run_dunning"):
        task = app.tasks[name]
        assert (task.acks_late, task.reject_on_worker_lost, task.max_retries) == (True, True, 5), name
        assert set(task.autoretry_for) == {OperationalError, InterfaceError}, name
        assert (task.retry_backoff, task.retry_backoff_max) == (5, 300), name
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for sweep in (
        "billing.tasks.requeue_stalled_billing_runs",
        "revrec.tasks.requeue_stalled_revenue_runs",
        "ledger.tasks.requeue_stalled_dunning_runs",
    ):
        assert scheduled[sweep] < run_recovery.STALLED_AFTER.total_seconds()


def age(model, pk: int, **values) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(minutes=11), **values)


@pytest.mark.django_db
def test_the_sweep_picks_only_old_pending_or_running_runs_that_no_live_task_holds(
    finance, entity, monkeypatch, pending_run
):
    lost = pending_run
    held = BillingRun.objects.create(legal_entity=entity, period_end=date(2026, 3, 31))
    fresh = BillingRun.objects.create(legal_entity=entity, period_end=date(2026, 3, 31))
    done = BillingRun.objects.create(legal_entity=entity, period_end=date(2026, 3, 31))
    failed = BillingRun.objects.create(legal_entity=entity, period_end=date(2026, 3, 31))
    age(BillingRun, lost.pk, status=RunStatus.RUNNING)
    age(BillingRun, held.pk, status=RunStatus.RUNNING)
    age(BillingRun, done.pk, status=RunStatus.COMPLETED)
    age(BillingRun, failed.pk, status=RunStatus.FAILED)
    # Another session (a live worker) holds `held`.
    other = connections.create_connection("default")
    key = (run_recovery._lock_class(BillingRun), held.pk)
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        with mock.patch.object(billing_tasks.run_billing, "delay") as queued:
            requeued = billing_tasks.requeue_stalled_billing_runs()
    finally:
        other.close()

    assert requeued == [lost.pk]
    queued.assert_called_once_with(lost.pk)
    assert fresh.pk not in requeued


@pytest.mark.django_db
def test_a_twin_task_leaves_a_run_that_a_live_task_holds(pending_run, monkeypatch):
    monkeypatch.setattr(run_recovery, "LOCK_GRACE_SECONDS", 0.2)
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_lock(%s, %s)", (run_recovery._lock_class(BillingRun), pending_run.pk)
        )
    try:
        assert billing_tasks.run_billing.apply((pending_run.pk,)).result is None
    finally:
        other.close()

    assert BillingRun.objects.get(pk=pending_run.pk).status == RunStatus.PENDING
    assert billing_tasks.run_billing.apply((pending_run.pk,)).result == CONTRACTS


@pytest.mark.django_db
def test_revenue_and_dunning_sweeps_queue_their_own_lost_runs(entity, finance):
    revenue = RevenueRun.objects.create(legal_entity=entity, period_end=date(2026, 2, 28))
    dunning = DunningRun.objects.create(legal_entity=entity, as_of=date(2026, 3, 1))
    age(RevenueRun, revenue.pk)
    age(DunningRun, dunning.pk)
    with (
        mock.patch.object(revrec_tasks.run_revenue, "delay") as revenue_queued,
        mock.patch.object(ledger_tasks.run_dunning, "delay") as dunning_queued,
    ):
        assert revrec_tasks.requeue_stalled_revenue_runs() == [revenue.pk]
        assert ledger_tasks.requeue_stalled_dunning_runs() == [dunning.pk]
    revenue_queued.assert_called_once_with(revenue.pk)
    dunning_queued.assert_called_once_with(dunning.pk)


@pytest.mark.celery_worker
def test_a_run_whose_task_was_lost_is_completed_once_by_the_sweep(celery_workers, pending_run):
    """The run's message was lost (the worker died with it, or the broker never got it): the sweep finds
    the run pending with no live task, queues it, and a real worker completes it exactly once."""
    age(BillingRun, pending_run.pk, status=RunStatus.RUNNING, attempts=1)
    worker = celery_workers()
    worker.wait_for_child()

    assert billing_tasks.requeue_stalled_billing_runs() == [pending_run.pk]

    wait_for(
        lambda: BillingRun.objects.filter(pk=pending_run.pk, status=RunStatus.COMPLETED).exists(),
        timeout=120,
        worker=worker,
    )
    assert BillingRun.objects.get(pk=pending_run.pk).attempts == 2
    assert_billed_exactly_once(pending_run.pk)
    assert billing_tasks.requeue_stalled_billing_runs() == []
