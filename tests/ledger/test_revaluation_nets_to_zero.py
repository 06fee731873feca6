"""A month whose foreign receivables revalue to nothing (their differences cancel per client) can close:
the revaluation has nothing to post, and the checklist does not wait for an entry that cannot come."""

from datetime import date
from decimal import Decimal

from ledger.close_checklist import OK, close_checklist
from ledger.models import FiscalPeriod
from ledger.services.ar import post_receivable
from ledger.services.posting import LineSpec
from ledger.services.revaluation import revaluation_differences, revalue_open_items

D = Decimal


def test_an_invoice_and_an_unapplied_credit_at_one_rate_need_no_revaluation(
    usd_entity, client_account, account, eur_usd, make_user
):
    eur_usd({date(2026, 3, 1): "1.1000", date(2026, 3, 31): "1.2000"})
    for kind, side in (("invoice", "credit"), ("credit_note", "debit")):
        post_receivable(
            actor=None,
            legal_entity=usd_entity,
            client=client_account,
            kind=kind,
            document_type="billing.document",
            document_id=kind,
            number=kind,
            date=date(2026, 3, 2),
            due_date=date(2026, 4, 1),
            currency="EUR",
            amount=D("100.00"),
            lines=[LineSpec(account=account("4000"), currency="EUR", **{side: D("100.00")})],
            memo=kind,
            posting_key=kind,
        )
    # 100.00 EUR booked at 1.10 = 110.00 USD each way; at 1.20 the invoice gains 10.00, the credit loses
    # 10.00: the client's AR moves by nothing.
    _, differences = revaluation_differences(legal_entity=usd_entity, period_end=date(2026, 3, 31))
    assert differences == {(client_account.pk, "EUR"): D("0.00")}
    march = FiscalPeriod.objects.get(legal_entity=usd_entity, start=date(2026, 3, 1))
    assert (
        revalue_open_items(actor=make_user("finance"), legal_entity=usd_entity, period_end=march.end) is None
    )
    item = next(item for item in close_checklist(march).items if item.key == "fx_revaluation")
    assert (item.status, item.sentence) == (
        OK,
        "2 foreign-currency receivables are open; revalued, they change AR by nothing.",
    )
