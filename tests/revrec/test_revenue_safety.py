"""Refusals (closed periods, zero estimates and prices, edits of recognised lines) and a concurrent twin
run that recognises once (PostgreSQL)."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connections, transaction

from core.errors import DomainError, ValidationFailed
from ledger.models import FiscalPeriod, JournalEntry
from revrec.choices import LineStatus, RunStatus
from revrec.models import PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.services.obligations import set_estimate, set_standalone_price
from revrec.services.runs import execute_revenue_run, start_revenue_run
from tests.ledger.close_books import mark_closed

D = Decimal


def ratable_contract(make_contract):
    contract, _ = make_contract(
        [
            {
                "description": "Support",
                "billing_model": "fixed_fee",
                "amount": D("9000.00"),
                "revenue_method": "ratable",
                "start": date(2026, 1, 16),
                "end": date(2026, 4, 15),
            }
        ]
    )
    return contract


@pytest.mark.django_db
def test_refusals_write_nothing(finance, entity, make_contract):
    contract = ratable_contract(make_contract)
    obligation = PerformanceObligation.objects.get(contract=contract)
    mark_closed(FiscalPeriod.objects.get(legal_entity=entity, start=date(2026, 1, 1)), finance)
    with pytest.raises(DomainError) as closed:
        start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 1, 31))
    assert closed.value.code == "period_closed"
    assert not RevenueRun.objects.exists()
    with pytest.raises(ValidationFailed) as zero_estimate:
        set_estimate(actor=finance, obligation=obligation, total_cost=D("0"), reason="Oops")
    assert zero_estimate.value.code == "estimate_zero"
    with pytest.raises(ValidationFailed) as zero_ssp:
        set_standalone_price(actor=finance, obligation=obligation, price=D("0"), reason="Free")
    assert zero_ssp.value.code == "ssp_zero"
    obligation.refresh_from_db()
    assert obligation.standalone_price == D("9000.00")
    # The closed January is not lost: February's run recognises it as a catch-up in the open period.
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 2, 28))
    assert execute_revenue_run(run_id=run.pk).recognized_amount == D("4400.00")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_refuses_to_change_a_recognised_line(finance, entity, make_contract):
    ratable_contract(make_contract)
    run = start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 1, 31))
    execute_revenue_run(run_id=run.pk)
    line = RevenueScheduleLine.objects.get(status=LineStatus.RECOGNIZED)
    with pytest.raises(DatabaseError), transaction.atomic():
        RevenueScheduleLine.objects.filter(pk=line.pk).update(amount=D("1.00"))
    with pytest.raises(DatabaseError), transaction.atomic():
        RevenueScheduleLine.objects.filter(pk=line.pk).delete()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_revenue_runs_recognise_once(finance, entity, make_contract):
    ratable_contract(make_contract)
    runs = [
        start_revenue_run(actor=finance, legal_entity=entity, period_end=date(2026, 2, 28)) for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    errors = []

    def work(run_id):
        try:
            barrier.wait(timeout=10)
            execute_revenue_run(run_id=run_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(run.pk,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert set(RevenueRun.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    assert sorted(RevenueRun.objects.values_list("recognized_amount", flat=True)) == [D("0"), D("4400.00")]
    assert JournalEntry.objects.filter(source_type="revrec.run").count() == 1


@pytest.mark.django_db
def test_the_monthly_schedule_starts_last_months_run_once(
    finance, entity, make_contract, django_capture_on_commit_callbacks
):
    from revrec.services.runs import start_month_end_revenue_runs

    ratable_contract(make_contract)
    with django_capture_on_commit_callbacks(execute=True):
        (run,) = start_month_end_revenue_runs(today=date(2026, 3, 5))
    assert run.period_end == date(2026, 2, 28)
    assert RevenueRun.objects.get(pk=run.pk).recognized_amount == D("4400.00")
    assert start_month_end_revenue_runs(today=date(2026, 3, 6)) == []
