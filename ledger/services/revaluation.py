"""Month-end revaluation of open foreign-currency receivables (unrealized FX), reversed the next day."""

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from core import audit
from core.errors import ValidationFailed
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountRole
from ledger.models import JournalEntry, LegalEntity
from ledger.reports.aging import open_items_as_of
from ledger.selectors import accounts_by_role, exchange_rate, period_for
from ledger.services.posting import EntrySpec, LineSpec, post_entries, reversal_spec

ZERO = Decimal(0)
SOURCE = "ledger.fx_revaluation"


@transaction.atomic
def revalue_open_items(*, actor, legal_entity: LegalEntity, period_end: date) -> JournalEntry | None:
    """Revalue the entity's open foreign-currency AR at the closing rate of `period_end`; reverse it next day.

    For each item open on `period_end` (allocations dated later do not count) the difference is
    quantize(open × closing rate) − the open part of its booked value (exactly its functional amount
    while fully open, else open × booking rate rounded). One entry on `period_end`, one AR line per
    client and currency against unrealized FX, and its mirror on the first day of the next period,
    which must be open. Running it again for the same period returns the first entry and posts nothing.
    Returns None when nothing needs revaluing. `actor` None is the scheduled month-end job; a person
    needs the finance role.
    """
    if actor is not None:
        require_role(actor, Role.FINANCE)
    period = period_for(legal_entity, period_end)
    if period.end != period_end:
        raise ValidationFailed(
            f"Revalue at the end of a period: {period.end.isoformat()}, not {period_end.isoformat()}.",
            fields={"period_end": ["Not the last day of a fiscal period."]},
        )
    key = f"fx-revaluation:{legal_entity.pk}:{period_end.isoformat()}"
    existing = JournalEntry.objects.filter(posting_key=key).first()
    if existing is not None:
        return existing
    closing, differences = revaluation_differences(legal_entity=legal_entity, period_end=period_end)
    roles = accounts_by_role(legal_entity)
    memo = f"FX revaluation of open receivables at {period_end.isoformat()}"
    lines = []
    per_currency: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (client_id, currency), difference in sorted(differences.items()):
        if difference == 0:
            continue
        per_currency[currency] += difference
        lines.append(_line(roles[AccountRole.AR], currency, difference, memo, client_id=client_id))
    for currency, difference in sorted(per_currency.items()):
        if difference != 0:
            lines.append(_line(roles[AccountRole.FX_UNREALIZED], currency, -difference, memo))
    if not lines:
        return None
    spec = EntrySpec(
        legal_entity=legal_entity,
        date=period_end,
        memo=memo,
        lines=lines,
        source_type=SOURCE,
        source_id=f"{legal_entity.pk}:{period_end.isoformat()}",
        posting_key=key,
    )
    entry = post_entries(actor=actor, entries=[spec])[0]
    next_day = period_end + timedelta(days=1)
    reversal = replace(
        reversal_spec(entry, on=next_day, memo=f"Reversal of the {memo}"),
        posting_key=f"fx-revaluation-reversal:{legal_entity.pk}:{period_end.isoformat()}",
    )
    reversed_by = post_entries(actor=actor, entries=[reversal])[0]
    audit.record(
        actor=actor,
        action="fx_revaluation.posted",
        obj=entry,
        changes={
            "period_end": period_end,
            "closing_rates": closing,
            "difference": sum(per_currency.values(), ZERO),
            "reversal": reversed_by.pk,
        },
    )
    return entry


def revaluation_differences(
    *, legal_entity: LegalEntity, period_end: date
) -> tuple[dict[str, Decimal], dict[tuple[int, str], Decimal]]:
    """The closing rates used and, per (client, currency), what revaluing the items open on `period_end`
    would add to AR in functional currency (see `revalue_open_items`). All zero: nothing to post."""
    functional = legal_entity.functional_currency
    items = (
        open_items_as_of(legal_entity=legal_entity, as_of=period_end)
        .exclude(currency=functional)
        .values("client_id", "currency", "amount", "functional_amount", "rate", "open_as_of")
    )
    closing: dict[str, Decimal] = {}
    differences: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for item in items:
        currency = item["currency"]
        open_amount = quantize(item["open_as_of"], currency)
        if open_amount == 0:
            continue
        if currency not in closing:
            closing[currency] = exchange_rate(currency, functional, period_end)
        if open_amount == item["amount"]:
            booked = item["functional_amount"]
        else:
            booked = quantize(open_amount * item["rate"], functional)
        differences[(item["client_id"], currency)] += (
            quantize(open_amount * closing[currency], functional) - booked
        )
    return closing, dict(differences)


def _line(account, currency: str, difference: Decimal, memo: str, client_id: int | None = None) -> LineSpec:
    """A pure functional-currency line: debit for a positive difference, credit for a negative one."""
    return LineSpec(
        account=account,
        currency=currency,
        functional_debit=difference if difference > 0 else None,
        functional_credit=-difference if difference < 0 else None,
        client_id=client_id,
        memo=memo,
    )
