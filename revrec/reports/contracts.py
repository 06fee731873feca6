"""Where one contract stands in revenue: its price, each obligation's allocated, recognised and remaining
amounts, what is billed, the backlog and the net contract position."""

from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from core.money import quantize
from revrec.choices import ObligationStatus
from revrec.models import PerformanceObligation
from revrec.reports.common import billed_to_date, recognized_lines

ZERO = Decimal(0)


def contract_revenue_summary(contract, as_of: date | None = None) -> dict:
    """The contract on `as_of` (default today): price (the contract's total), per obligation allocated /
    recognised / remaining, billed to date, recognised to date, the remaining performance obligation
    (backlog: allocated − recognised of its active obligations, never below zero per obligation) and the
    net position, billed − recognised: a contract liability when positive, a contract asset when negative.
    Four queries: recognised lines, obligations, invoice lines, credit note lines."""
    as_of = as_of or timezone.localdate()
    currency = contract.currency
    recognized = dict(
        recognized_lines(as_of, obligation__contract=contract)
        .order_by()
        .values_list("obligation_id")
        .annotate(total=Sum("amount"))
    )
    obligations = []
    for obligation in PerformanceObligation.objects.filter(contract=contract).order_by("id"):
        done = quantize(recognized.get(obligation.pk, ZERO), currency)
        allocated = quantize(obligation.allocated_amount, currency)
        is_active = obligation.status == ObligationStatus.ACTIVE
        obligations.append(
            {
                "id": obligation.pk,
                "description": obligation.description,
                "method": obligation.method,
                "status": obligation.status,
                "excluded": obligation.excluded,
                "allocated": allocated,
                "recognized": done,
                "remaining": max(allocated - done, ZERO) if is_active else ZERO,
            }
        )
    billed = quantize(billed_to_date(as_of, contract=contract).get(contract.pk, ZERO), currency)
    recognized_total = sum((row["recognized"] for row in obligations), ZERO)
    net = billed - recognized_total
    return {
        "contract": contract.pk,
        "number": contract.number,
        "client": contract.account_id,
        "client_name": contract.account.name,
        "as_of": as_of,
        "currency": currency,
        "price": quantize(contract.total_amount, currency),
        "obligations": obligations,
        "allocated": sum(
            (row["allocated"] for row in obligations if row["status"] == ObligationStatus.ACTIVE), ZERO
        ),
        "billed": billed,
        "recognized": recognized_total,
        "backlog": sum((row["remaining"] for row in obligations), ZERO),
        "net_position": net,
        "position": "liability" if net > 0 else "asset" if net < 0 else "none",
        "contract_liability": max(net, ZERO),
        "contract_asset": max(-net, ZERO),
    }
