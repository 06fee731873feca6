"""The worker's PostgreSQL backend is terminated (`pg_terminate_backend`) in the middle of a chunk: the
chunk's transaction rolls back whole, nothing of it is left half-written, and running the run again redoes
that chunk and finishes with every entry billed once."""

import os
import random
import threading
import time
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum

from billing.choices import RunStatus
from billing.models import BillingRun, Invoice, InvoiceLine, RunContract, TimeEntryBilling
from billing.services import runs
from billing.services.runs import execute_billing_run, start_billing_run
from projects.models import TimeEntry
from tests.reliability.test_crash_recovery import CONTRACTS, billing_firm

D = Decimal
# Where in the run the backend dies: one seed in the fast tier, more with `make soak`.
FAULT_TRIALS = int(os.environ.get("RELIABILITY_FAULT_TRIALS", "1"))


def in_transaction(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row and row[0])


def terminate(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        return cursor.fetchone()[0]


def assert_nothing_half_written(run_id: int) -> int:
    """Only whole contracts: each done contract has its one invoice and all its entries; no other has any."""
    done = set(RunContract.objects.filter(run_id=run_id).values_list("contract_id", flat=True))
    assert set(Invoice.objects.values_list("contract_id", flat=True)) == done
    linked = TimeEntryBilling.objects.count()
    assert linked == TimeEntry.objects.filter(project__contract_id__in=done).count() == len(done) * 5
    assert BillingRun.objects.get(pk=run_id).done_contracts == len(done)
    for invoice in Invoice.objects.all():
        assert invoice.subtotal_amount == D("1875.00")
        assert InvoiceLine.objects.filter(invoice=invoice).aggregate(s=Sum("amount"))["s"] == D("1875.00")
    return len(done)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [31 + trial for trial in range(FAULT_TRIALS)])
def test_a_terminated_backend_rolls_back_the_chunk_and_the_rerun_redoes_it(
    finance, entity, roles, people, make_contract, client_account, seed
):
    billing_firm(make_contract, roles, people)
    with mock.patch("billing.tasks.run_billing.delay"), transaction.atomic():
        run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    rng = random.Random(seed)
    backend = {}
    outcome = []
    real_bill_chunk = runs._bill_chunk

    def bill_chunk_noting_the_backend(*args, **kwargs):
        backend.setdefault("pid", connection.connection.info.backend_pid)
        return real_bill_chunk(*args, **kwargs)

    def work():
        try:
            execute_billing_run(run_id=run.pk, chunk_size=2)
            outcome.append("finished")
        except Exception as exc:  # noqa: BLE001 - the expected failure is checked below
            outcome.append(exc)
        finally:
            connections.close_all()

    with mock.patch.object(runs, "_bill_chunk", bill_chunk_noting_the_backend):
        thread = threading.Thread(target=work)
        thread.start()
        threshold = rng.randrange(0, CONTRACTS - 6)
        deadline = time.monotonic() + 60
        killed = False
        while time.monotonic() < deadline and thread.is_alive() and not killed:
            pid = backend.get("pid")
            done = BillingRun.objects.filter(pk=run.pk).values_list("done_contracts", flat=True).first()
            if pid and done is not None and done >= threshold and in_transaction(pid):
                killed = terminate(pid)
            time.sleep(0.001)
        thread.join(60)
    assert killed, "the run finished before its backend could be terminated mid-chunk"
    assert len(outcome) == 1 and outcome[0] != "finished"
    assert BillingRun.objects.get(pk=run.pk).status != RunStatus.COMPLETED
    done_before = assert_nothing_half_written(run.pk)
    assert done_before < CONTRACTS

    run = execute_billing_run(run_id=run.pk, chunk_size=2)

    assert (run.status, run.done_contracts, run.invoices_created, run.entries_billed) == (
        RunStatus.COMPLETED,
        CONTRACTS,
        CONTRACTS,
        CONTRACTS * 5,
    )
    assert assert_nothing_half_written(run.pk) == CONTRACTS
    assert InvoiceLine.objects.aggregate(s=Sum("amount"))["s"] == D("45000.00")
