"""Remaining performance obligations on a date, by when they are expected to be recognised: within 12
months or later (the ASC 606-10-50-13 / IFRS 15.120 disclosure)."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, DecimalField, Q, Sum, When

from core.money import quantize, split_by_weights
from crm.services.terms import add_months
from revrec.choices import ObligationStatus
from revrec.models import PerformanceObligation
from revrec.reports.common import open_lines, recognized_lines

ZERO = Decimal(0)
AMOUNT = DecimalField(max_digits=20, decimal_places=4)


def _straight_line(remaining: Decimal, start: date, end: date, as_of: date, horizon: date, currency: str):
    """(within, after) for an obligation without a schedule: by day over what is left of its service
    period; a period already over is all due within the year."""
    first = max(as_of + timedelta(days=1), start)
    if end < first:
        return remaining, ZERO
    total_days = (end - first).days + 1
    within_days = max((min(end, horizon) - first).days + 1, 0)
    within, after = split_by_weights(remaining, [within_days, total_days - within_days], currency)
    return within, after


def rpo_disclosure(legal_entity, as_of: date) -> dict:
    """Per contract and in total per currency, what its active obligations have left to recognise on
    `as_of` (allocated − recognised by then), split into `within_12_months` (up to `as_of` + 12 months)
    and `after_12_months`.

    Obligations with a schedule split by their lines not yet recognised on `as_of` (lines of months
    already past count as within); those without (percent complete) straight-line by day over the rest
    of their service period. Obligations excluded from allocation (time and materials billed as
    delivered, the right-to-invoice practical expedient) are left out, as the standards allow. Three
    aggregate queries.
    """
    horizon = add_months(as_of, 12)
    obligations = list(
        PerformanceObligation.objects.filter(
            legal_entity=legal_entity, status=ObligationStatus.ACTIVE, excluded=False
        )
        .select_related("contract", "account")
        .order_by("contract__number", "contract_id", "id")
    )
    recognized = dict(
        recognized_lines(as_of, obligation__legal_entity=legal_entity)
        .order_by()
        .values_list("obligation_id")
        .annotate(total=Sum("amount"))
    )
    scheduled = {
        obligation_id: (within or ZERO, total or ZERO)
        for obligation_id, within, total in open_lines(as_of, obligation__legal_entity=legal_entity)
        .order_by()
        .values_list("obligation_id")
        .annotate(
            within=Sum(
                Case(When(Q(period_start__lte=horizon), then="amount"), default=ZERO, output_field=AMOUNT)
            ),
            total=Sum("amount"),
        )
    }
    contracts: dict[int, dict] = {}
    totals = defaultdict(lambda: {"within_12_months": ZERO, "after_12_months": ZERO, "total": ZERO})
    for obligation in obligations:
        currency = obligation.currency
        remaining = quantize(obligation.allocated_amount - recognized.get(obligation.pk, ZERO), currency)
        if remaining <= 0:
            continue
        if obligation.pk in scheduled:
            planned_within = quantize(scheduled[obligation.pk][0], currency)
            within = min(max(planned_within, ZERO), remaining)
            after = remaining - within
        else:
            within, after = _straight_line(
                remaining, obligation.service_start, obligation.service_end, as_of, horizon, currency
            )
        row = contracts.setdefault(
            obligation.contract_id,
            {
                "contract": obligation.contract_id,
                "number": obligation.contract.number,
                "client": obligation.account_id,
                "client_name": obligation.account.name,
                "currency": currency,
                "within_12_months": ZERO,
                "after_12_months": ZERO,
                "total": ZERO,
            },
        )
        for name, amount in (("within_12_months", within), ("after_12_months", after), ("total", remaining)):
            row[name] += amount
            totals[currency][name] += amount
    return {
        "legal_entity_id": legal_entity.pk,
        "as_of": as_of,
        "horizon": horizon,
        "rows": list(contracts.values()),
        "totals": [{"currency": currency, **totals[currency]} for currency in sorted(totals)],
    }
