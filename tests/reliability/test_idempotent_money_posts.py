"""Money-moving POSTs (payments, invoice release, billing and revenue runs) sent three times at once with
one Idempotency-Key on PostgreSQL: exactly one effect, identical responses; the key with another body is
refused with 422 and changes nothing."""

from datetime import date
from decimal import Decimal

import pytest

from billing.choices import InvoiceStatus
from billing.models import BillingRun, Invoice, TimeEntryBilling
from billing.services.runs import execute_billing_run, start_billing_run
from ledger.models import ArItem, JournalEntry, Payment
from revrec.models import RevenueRun
from tests.billing.conftest import approved_time, tm_line
from tests.reliability.concurrency import (
    assert_one_effect_same_answer,
    assert_other_body_refused,
    post_at_once,
)

D = Decimal
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(client_for):
    return client_for("finance")


@pytest.fixture
def billable_contract(roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "150.00")], code="IDEM-1")
    for day in (2, 3, 4):
        approved_time(people.sam, project, date(2026, 3, day), "2.50", "150.00")
    return contract


def test_a_payment_is_recorded_once(api, entity, client_account):
    body = {
        "legal_entity": entity.pk,
        "account": client_account.pk,
        "date": "2026-03-10",
        "amount": "1250.00",
        "reference": "WIRE-77",
    }
    created = assert_one_effect_same_answer(
        post_at_once(api, "/api/v1/payments/", body, key="pay-1"), status=201
    )
    assert Payment.objects.count() == 1
    assert (created["amount"], created["unallocated_amount"]) == ("1250.00", "1250.00")
    assert JournalEntry.objects.filter(source_type__startswith="ledger.payment").count() == 1
    assert_other_body_refused(api, "/api/v1/payments/", {**body, "amount": "1260.00"}, key="pay-1")
    assert Payment.objects.count() == 1


def test_an_invoice_is_released_once(api, finance, entity, billable_contract):
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    invoice = Invoice.objects.get()
    path = f"/api/v1/invoices/{invoice.pk}/release/"
    released = assert_one_effect_same_answer(post_at_once(api, path, {}, key="rel-1"), status=200)
    invoice.refresh_from_db()
    assert (invoice.status, released["number"]) == (InvoiceStatus.RELEASED, invoice.number)
    # 3 × 2.50 h × 150.00 = 1,125.00 plus 20% tax 225.00: one receivable, one posting.
    assert list(ArItem.objects.values_list("amount", flat=True)) == [D("1350.00")]
    assert JournalEntry.objects.filter(source_type="billing.invoice").count() == 1
    assert_other_body_refused(api, path, {"issue_date": "2026-04-01"}, key="rel-1")


def test_a_billing_run_is_started_once(api, entity, billable_contract):
    body = {"legal_entity": entity.pk, "period_end": "2026-03-31"}
    run = assert_one_effect_same_answer(
        post_at_once(api, "/api/v1/billing-runs/", body, key="run-1"), status=201
    )
    assert list(BillingRun.objects.values_list("pk", flat=True)) == [run["id"]]
    assert Invoice.objects.count() == 1
    assert TimeEntryBilling.objects.count() == 3
    assert_other_body_refused(api, "/api/v1/billing-runs/", {**body, "period_end": "2026-03-30"}, key="run-1")
    assert BillingRun.objects.count() == 1


def test_a_revenue_run_is_started_once(api, entity, make_contract):
    make_contract(
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
    body = {"legal_entity": entity.pk, "period_end": "2026-02-28"}
    run = assert_one_effect_same_answer(
        post_at_once(api, "/api/v1/revenue-runs/", body, key="rev-1"), status=201
    )
    assert list(RevenueRun.objects.values_list("pk", flat=True)) == [run["id"]]
    # 100.00 a day for the 44 days 16 Jan – 28 Feb, posted once.
    assert RevenueRun.objects.get().recognized_amount == D("4400.00")
    assert JournalEntry.objects.filter(source_type="revrec.run").count() == 1
    assert_other_body_refused(api, "/api/v1/revenue-runs/", {**body, "period_end": "2026-01-31"}, key="rev-1")
    assert RevenueRun.objects.count() == 1
