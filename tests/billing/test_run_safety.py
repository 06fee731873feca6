"""Runs are repeatable and safe: a killed run resumes without loss or duplication, and two runs started
at once for the same scope (PostgreSQL) never bill an entry twice."""

import threading
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connections
from django.db.models import Sum

from billing.choices import RunStatus
from billing.models import BillingRun, Invoice, InvoiceLine, RunContract, TimeEntryBilling
from billing.services import runs
from billing.services.runs import execute_billing_run, start_billing_run
from projects.models import TimeEntry
from tests.billing.conftest import approved_time, tm_line

D = Decimal


def three_contracts(make_contract, roles, people, client_account):
    projects = []
    for index in range(3):
        _, project = make_contract([tm_line(roles.senior, "100.00")], code=f"P-{index}")
        projects.append(project)
        for day in range(2, 12):
            approved_time(people.sam, project, date(2026, 3, day), "1.25", "100.00")
    return projects


@pytest.mark.django_db
def test_a_run_killed_after_its_first_chunk_resumes_and_finishes(
    finance, entity, roles, people, make_contract, client_account
):
    three_contracts(make_contract, roles, people, client_account)
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    real = runs._bill_chunk
    calls = []

    def dies_on_second_chunk(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise SystemError("worker killed")
        return real(*args, **kwargs)

    with mock.patch.object(runs, "_bill_chunk", dies_on_second_chunk), pytest.raises(SystemError):
        execute_billing_run(run_id=run.pk, chunk_size=1)
    run.refresh_from_db()
    assert (run.status, run.done_contracts, run.invoices_created) == (RunStatus.FAILED, 1, 1)
    assert TimeEntryBilling.objects.count() == 10

    run = execute_billing_run(run_id=run.pk, chunk_size=1)

    assert (run.status, run.done_contracts, run.invoices_created, run.entries_billed) == (
        RunStatus.COMPLETED,
        3,
        3,
        30,
    )
    assert run.attempts == 2
    assert TimeEntryBilling.objects.count() == TimeEntry.objects.count() == 30
    assert RunContract.objects.filter(run=run).count() == 3
    assert [invoice.subtotal_amount for invoice in Invoice.objects.order_by("contract_id")] == [
        D("1250.00")
    ] * 3
    # Running the finished task again changes nothing.
    assert execute_billing_run(run_id=run.pk).invoices_created == 3
    assert Invoice.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_never_bill_an_entry_twice(
    finance, entity, roles, people, make_contract, client_account
):
    three_contracts(make_contract, roles, people, client_account)
    first = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    second = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    barrier = threading.Barrier(2)
    errors = []

    def work(run_id):
        try:
            barrier.wait(timeout=10)
            execute_billing_run(run_id=run_id, chunk_size=1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(run.pk,)) for run in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert set(BillingRun.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    assert TimeEntryBilling.objects.count() == 30
    assert Invoice.objects.count() == 3
    assert InvoiceLine.objects.aggregate(total=Sum("amount"))["total"] == D("3750.00")
    assert sum(BillingRun.objects.values_list("entries_billed", flat=True)) == 30
