"""Unbilled revenue (contract assets): contracts that have recognised more than they have billed."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from core.money import quantize
from crm.models import Contract
from revrec.reports.common import billed_to_date, recognized_lines

ZERO = Decimal(0)


def _oldest_unbilled(recognitions: list[tuple[date, Decimal]], billed: Decimal) -> date | None:
    """Billing covers the oldest recognitions first: the day of the first one it does not cover in full."""
    covered = billed
    for day, amount in recognitions:
        covered -= amount
        if covered < 0:
            return day
    return None


def unbilled_revenue(legal_entity, as_of: date) -> dict:
    """Per contract with a contract asset on `as_of`: revenue recognised to date (booked by then), billed
    to date (invoices before tax less credit notes, issued by then), the difference, and its age in days
    since the oldest recognition billing has not caught up with. Totals per currency. Three aggregate
    queries and one for the contracts' names."""
    recognitions = defaultdict(list)
    for contract_id, booked_on, total in (
        recognized_lines(as_of, obligation__legal_entity=legal_entity)
        .order_by()
        .values_list("obligation__contract_id", "booked_on")
        .annotate(total=Sum("amount"))
    ):
        recognitions[contract_id].append((booked_on, total or ZERO))
    billed = billed_to_date(as_of, contract__legal_entity=legal_entity)
    assets = {}
    for contract_id, dated in recognitions.items():
        dated.sort()
        recognized = sum((amount for _, amount in dated), ZERO)
        done = billed.get(contract_id, ZERO)
        if recognized > done:
            assets[contract_id] = (recognized, done, _oldest_unbilled(dated, done))
    contracts = Contract.objects.filter(pk__in=assets).select_related("account").order_by("number", "pk")
    rows, totals = [], defaultdict(lambda: ZERO)
    for contract in contracts:
        recognized, done, since = assets[contract.pk]
        currency = contract.currency
        unbilled = quantize(recognized - done, currency)
        totals[currency] += unbilled
        rows.append(
            {
                "contract": contract.pk,
                "number": contract.number,
                "client": contract.account_id,
                "client_name": contract.account.name,
                "currency": currency,
                "recognized": quantize(recognized, currency),
                "billed": quantize(done, currency),
                "unbilled": unbilled,
                "since": since,
                "age_days": (as_of - since).days,
            }
        )
    return {
        "legal_entity_id": legal_entity.pk,
        "as_of": as_of,
        "rows": rows,
        "totals": [{"currency": currency, "unbilled": totals[currency]} for currency in sorted(totals)],
    }
