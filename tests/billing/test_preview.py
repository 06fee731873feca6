"""The preview shows what a run would bill, per contract, writing nothing."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import BillingRun, Invoice, TimeEntryBilling
from billing.selectors import preview_billing
from tests.billing.conftest import approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def test_preview_writes_nothing_and_matches_the_run(finance, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "18.5", "185.00")
    approved_time(people.sam, project, date(2026, 3, 3), "20", "185.00")
    preview = preview_billing(legal_entity=entity, period_end=date(2026, 3, 31))
    assert [(row.number, row.subtotal, row.entries) for row in preview.contracts] == [
        (contract.number, D("7122.50"), 2)
    ]
    assert preview.totals == {"USD": D("7122.50")}
    assert not (BillingRun.objects.exists() or Invoice.objects.exists() or TimeEntryBilling.objects.exists())
