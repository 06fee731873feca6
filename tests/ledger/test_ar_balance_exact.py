"""The AR subledger in functional currency ties to the AR control account to the cent, also when a
foreign invoice is partly paid and rounding its open part at the booking rate would not."""

from datetime import date
from decimal import Decimal

from ledger.reports.aging import ar_balance
from ledger.reports.reconciliation import ar_control_at_booking_rates
from ledger.services.ar import post_receivable, record_payment
from ledger.services.posting import LineSpec

D = Decimal


def test_a_partly_paid_foreign_invoice_leaves_no_cent_between_subledger_and_control(
    usd_entity, client_account, account, eur_usd, make_user
):
    eur_usd({date(2026, 3, 1): "1.0050"})
    invoice = post_receivable(
        actor=None,
        legal_entity=usd_entity,
        client=client_account,
        kind="invoice",
        document_type="billing.document",
        document_id="INV-1",
        number="INV-1",
        date=date(2026, 3, 2),
        due_date=date(2026, 4, 1),
        currency="EUR",
        amount=D("1.00"),
        lines=[LineSpec(account=account("4000"), currency="EUR", credit=D("1.00"))],
        memo="INV-1",
        posting_key="INV-1",
    )
    record_payment(
        actor=make_user("finance"),
        legal_entity=usd_entity,
        client=client_account,
        date=date(2026, 3, 10),
        amount=D("0.50"),
        currency="EUR",
        allocations=[(invoice, D("0.50"))],
    )
    # Invoice 1.00 EUR × 1.005 = 1.005 → 1.01 USD; the payment 0.50 × 1.005 = 0.5025 → 0.50 USD took
    # 0.50 off it, so 0.51 USD stays in AR. Rounding 0.50 EUR open × 1.005 again would say 0.50.
    assert ar_control_at_booking_rates(usd_entity, date(2026, 3, 31)) == D("0.51")
    assert ar_balance(legal_entity=usd_entity, as_of=date(2026, 3, 31)) == D("0.51")
    # Before the payment the whole invoice is open.
    assert ar_balance(legal_entity=usd_entity, as_of=date(2026, 3, 5)) == D("1.01")
