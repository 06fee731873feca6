"""The deferred revenue (contract liability) roll-forward of a period, read from the ledger."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from core.errors import ValidationFailed
from core.money import quantize
from ledger.choices import AccountRole
from ledger.models import AccountBalance, GLAccount, JournalLine

ZERO = Decimal(0)
# The journal entries' source types behind each movement of deferred revenue.
BILLED_SOURCES = ("billing.invoice", "billing.credit_note")
RECOGNIZED_SOURCE = "revrec.run"
RECLASS_SOURCE = "revrec.reclass"
COLUMNS = ("opening", "billed", "recognized", "reclassified", "other", "closing")


def _balances(account_ids, **dates) -> dict[str, Decimal]:
    """Credit − debit per transaction currency over the account's daily balance rows matching `dates`."""
    rows = (
        AccountBalance.objects.filter(account_id__in=account_ids, **dates)
        .order_by()
        .values_list("currency")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
    )
    return {currency: (credit or ZERO) - (debit or ZERO) for currency, debit, credit in rows}


def deferred_revenue_rollforward(legal_entity, start: date, end: date) -> dict:
    """Per transaction currency, deferred revenue from `start` to `end` (inclusive):

    opening (balance before `start`) + billed (invoices credit it, credit notes debit it) − recognised
    (revenue runs debit it) + reclassified (unbilled revenue moved in at a period end, out the next day)
    + other (any other posting: manual entries, FX) = closing (balance at `end`).

    Opening and closing come from the ledger's daily balances, the movements from the period's journal
    lines by the source of their entry, so `identity_holds` checks the two against each other. Balances
    read credit − debit (a liability's normal side): a negative balance is revenue recognised ahead of
    billing. Four queries: the account, two balances and the period's movements.
    """
    if end < start:
        raise ValidationFailed("The period ends before it starts.", fields={"end": ["Before start."]})
    accounts = list(
        GLAccount.objects.filter(legal_entity=legal_entity, role=AccountRole.DEFERRED_REVENUE).values_list(
            "pk", flat=True
        )
    )
    opening = _balances(accounts, date__lt=start)
    closing = _balances(accounts, date__lte=end)
    movements = defaultdict(lambda: defaultdict(lambda: ZERO))
    for currency, source_type, debit, credit in (
        JournalLine.objects.filter(account_id__in=accounts, date__range=(start, end))
        .order_by()
        .values_list("currency", "entry__source_type")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
    ):
        net_credit = (credit or ZERO) - (debit or ZERO)
        if source_type in BILLED_SOURCES:
            movements[currency]["billed"] += net_credit
        elif source_type == RECOGNIZED_SOURCE:
            movements[currency]["recognized"] -= net_credit
        elif source_type == RECLASS_SOURCE:
            movements[currency]["reclassified"] += net_credit
        else:
            movements[currency]["other"] += net_credit
    rows = []
    for currency in sorted({*opening, *closing, *movements}):
        row = {
            "currency": currency,
            "opening": opening.get(currency, ZERO),
            **{name: movements[currency][name] for name in ("billed", "recognized", "reclassified", "other")},
            "closing": closing.get(currency, ZERO),
        }
        row = {"currency": currency, **{name: quantize(row[name], currency) for name in COLUMNS}}
        row["identity_holds"] = (
            row["opening"] + row["billed"] - row["recognized"] + row["reclassified"] + row["other"]
            == row["closing"]
        )
        rows.append(row)
    return {"legal_entity_id": legal_entity.pk, "start": start, "end": end, "rows": rows}
