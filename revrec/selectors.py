"""Revenue recognition's reads: the preview of a run (what it would recognise, writing nothing)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revrec.services.runs import compute_recognition, contracts_with_obligations

ZERO = Decimal(0)


@dataclass
class RevenuePreview:
    period_end: date
    # [{"contract", "number", "account", "currency", "amount", "obligations": [{"id", "description", "method",
    # "amount"}]}] for contracts with something to recognise.
    contracts: list
    totals: dict
    warnings: list


def preview_revenue(*, legal_entity, period_end: date, chunk: int = 200) -> RevenuePreview:
    ids = contracts_with_obligations(legal_entity.pk)
    rows, totals, warnings = [], defaultdict(lambda: ZERO), []
    for start in range(0, len(ids), chunk):
        found = compute_recognition(ids[start : start + chunk], period_end)
        warnings += found.warnings
        by_contract = defaultdict(list)
        for obligation in found.obligations:
            if obligation.pk in found.amounts:
                by_contract[obligation.contract_id].append(obligation)
        for contract_obligations in by_contract.values():
            contract = contract_obligations[0].contract
            amount = sum((found.amounts[o.pk] for o in contract_obligations), ZERO)
            totals[contract.currency] += amount
            rows.append(
                {
                    "contract": contract.pk,
                    "number": contract.number,
                    "account": contract.account.name,
                    "currency": contract.currency,
                    "amount": amount,
                    "obligations": [
                        {
                            "id": o.pk,
                            "description": o.description,
                            "method": o.method,
                            "amount": found.amounts[o.pk],
                        }
                        for o in contract_obligations
                    ],
                }
            )
    return RevenuePreview(period_end=period_end, contracts=rows, totals=dict(totals), warnings=warnings)
