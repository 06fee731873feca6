"""Subledgers against their control accounts, for the month-end close: AR items against the AR account,
and the revenue module's contract positions against the deferred and unbilled revenue accounts."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from core.money import quantize
from ledger.choices import AccountRole
from ledger.models import AccountBalance, JournalLine

ZERO = Decimal(0)


def account_balances(entity_id: int, role: str, as_of: date) -> tuple[dict[str, Decimal], Decimal]:
    """Debit − credit of the role's account on `as_of`: per transaction currency, and in functional."""
    rows = (
        AccountBalance.objects.filter(legal_entity_id=entity_id, account__role=role, date__lte=as_of)
        .values("currency")
        .annotate(
            debit=Sum("debit"),
            credit=Sum("credit"),
            fdebit=Sum("functional_debit"),
            fcredit=Sum("functional_credit"),
        )
        .order_by()
    )
    per_currency, functional = {}, ZERO
    for row in rows:
        per_currency[row["currency"]] = (row["debit"] or ZERO) - (row["credit"] or ZERO)
        functional += (row["fdebit"] or ZERO) - (row["fcredit"] or ZERO)
    return per_currency, functional


def contract_positions(entity, as_of: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per currency, the revenue module's contract liabilities (billed beyond recognised) and contract
    assets (recognised beyond billed) on `as_of`, each contract rounded as the reclass posts it."""
    from crm.models import Contract
    from revrec.reports.common import billed_to_date, recognized_lines

    recognized = dict(
        recognized_lines(as_of, obligation__legal_entity=entity)
        .order_by()
        .values_list("obligation__contract_id")
        .annotate(total=Sum("amount"))
    )
    billed = billed_to_date(as_of, contract__legal_entity=entity)
    currencies = dict(Contract.objects.filter(pk__in={*recognized, *billed}).values_list("pk", "currency"))
    deferred, unbilled = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for contract_id, currency in currencies.items():
        position = quantize(billed.get(contract_id, ZERO) - (recognized.get(contract_id) or ZERO), currency)
        if position > 0:
            deferred[currency] += position
        elif position < 0:
            unbilled[currency] -= position
    return dict(deferred), dict(unbilled)


def ar_control_at_booking_rates(entity, as_of: date) -> Decimal:
    """The AR control account on `as_of` in functional currency, without that day's FX revaluation.

    The month-end revaluation restates AR at the closing rate (and is reversed the next day); the AR
    subledger keeps booking rates, so this is the figure it must equal.
    """
    from ledger.services.revaluation import SOURCE as REVALUATION

    _, control = account_balances(entity.pk, AccountRole.AR, as_of)
    revalued = JournalLine.objects.filter(
        entry__legal_entity_id=entity.pk,
        entry__source_type=REVALUATION,
        date=as_of,
        account__role=AccountRole.AR,
    ).aggregate(debit=Sum("functional_debit"), credit=Sum("functional_credit"))
    revaluation = (revalued["debit"] or ZERO) - (revalued["credit"] or ZERO)
    return quantize(control - revaluation, entity.functional_currency)
