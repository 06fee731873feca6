"""A billing run fanned out over the worker pool (a task per chunk, then one that finishes it) bills what
the one-process run bills, each entry once, and a chunk delivered twice changes nothing."""

from datetime import date
from decimal import Decimal

import pytest

from billing.choices import RunStatus
from billing.models import InvoiceLine, TimeEntryBilling
from billing.services.runs import bill_billing_run_chunk, start_billing_run
from billing.tasks import fan_out_billing_run
from tests.billing.conftest import approved_time
from tests.billing.test_run_safety import three_contracts


@pytest.mark.django_db
def test_a_fanned_out_run_bills_every_chunk_once_and_finishes(
    finance, entity, roles, people, make_contract, client_account, django_capture_on_commit_callbacks
):
    projects = three_contracts(make_contract, roles, people, client_account)
    approved_time(people.sam, projects[0], date(2026, 3, 20), "0.50", "100.00")
    with django_capture_on_commit_callbacks():
        run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))

    assert fan_out_billing_run.apply(args=(run.pk, 1)).get() == 3

    run.refresh_from_db()
    assert (run.status, run.done_contracts, run.invoices_created, run.entries_billed) == (
        RunStatus.COMPLETED,
        3,
        3,
        31,
    )
    amounts = sorted(InvoiceLine.objects.filter(invoice__run=run).values_list("amount", flat=True))
    # 10 × 1.25 h at 100.00 per contract, and the extra half hour on the first.
    assert amounts == [Decimal("1250.00"), Decimal("1250.00"), Decimal("1300.00")]
    # 3,800.00 of lines and the client's 20% tax on each invoice.
    assert run.totals == {"USD": "4560.00"}

    bill_billing_run_chunk(run_id=run.pk, contract_ids=[projects[0].contract_id])
    assert TimeEntryBilling.objects.count() == 31
    assert InvoiceLine.objects.filter(invoice__run=run).count() == 3
