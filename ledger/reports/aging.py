"""AR aging: what each client owes as of a day, by how long it is past due."""

from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import ValidationFailed
from core.money import quantize
from ledger.models import Allocation, ArItem, LegalEntity

ZERO = Decimal(0)
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
# (most days past due, bucket); anything older is over 90.
LIMITS = ((0, "current"), (30, "1_30"), (60, "31_60"), (90, "61_90"))
AMOUNT = DecimalField(max_digits=20, decimal_places=4)


def open_items_as_of(*, legal_entity: LegalEntity, as_of: date) -> QuerySet[ArItem]:
    """The entity's AR items dated up to `as_of` that may be open then, annotated with `open_as_of`.

    `open_as_of` = amount − what was applied by allocations dated up to `as_of` (reversals count
    negatively), computed in the same SQL statement. Items closed now are skipped unless an allocation
    dated after `as_of` touched them, so the partial index on open items does most of the work. The
    annotation may carry float noise on SQLite: round it with `quantize` before comparing.
    """

    def applied(field: str) -> Coalesce:
        total = (
            Allocation.objects.filter(**{field: OuterRef("pk")}, date__lte=as_of)
            .order_by()
            .values(field)
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return Coalesce(Subquery(total, output_field=AMOUNT), Value(ZERO), output_field=AMOUNT)

    # Read once as hashed sub-selects: a correlated EXISTS would probe the allocations for every item
    # of the entity, closed or not.
    later = Allocation.objects.filter(date__gt=as_of)
    return (
        ArItem.objects.filter(legal_entity=legal_entity, date__lte=as_of)
        .filter(
            ~Q(open_amount=0) | Q(pk__in=later.values("debit_item")) | Q(pk__in=later.values("credit_item"))
        )
        .annotate(open_as_of=F("amount") - applied("debit_item") + applied("credit_item"))
    )


def open_values(*, legal_entity: LegalEntity, as_of: date, basis: str = "transaction") -> list[dict]:
    """One row per item open on `as_of`: its open amount in its currency or at its booking value.

    In the functional basis an item still fully open counts at exactly its booked functional amount;
    a partly settled one at open × booking rate, rounded to the functional currency.
    """
    if basis not in ("transaction", "functional"):
        raise ValidationFailed(
            f"The aging basis is 'transaction' or 'functional', not '{basis}'.",
            fields={"basis": ["Use 'transaction' or 'functional'."]},
        )
    functional = legal_entity.functional_currency
    rows = []
    for row in open_items_as_of(legal_entity=legal_entity, as_of=as_of).values(
        "pk",
        "client_id",
        "client__name",
        "kind",
        "currency",
        "due_date",
        "amount",
        "functional_amount",
        "rate",
        "open_as_of",
    ):
        open_amount = quantize(row["open_as_of"], row["currency"])
        if open_amount == 0:
            continue
        if basis == "functional":
            if open_amount == row["amount"]:
                open_amount = quantize(row["functional_amount"], functional)
            else:
                open_amount = quantize(open_amount * row["rate"], functional)
            row["currency"] = functional
        row["open"] = open_amount
        rows.append(row)
    return rows


def ar_balance(*, legal_entity: LegalEntity, as_of: date) -> Decimal:
    """AR in functional currency at booking rates on `as_of`: open invoices less unapplied credits.

    Exact to the cent, so it ties to the AR control account: what is open of the items is their booked
    functional amounts less what allocations took off them, and each allocation takes its realized FX
    difference off the two sides together. Rounding each partly settled item's open × rate again (as the
    aging's rows do) can be a cent off.
    """
    booked = ArItem.objects.filter(legal_entity=legal_entity, date__lte=as_of).aggregate(
        total=Sum("functional_amount")
    )["total"]
    realized = Allocation.objects.filter(legal_entity=legal_entity, date__lte=as_of).aggregate(
        total=Sum("fx_difference")
    )["total"]
    return quantize((booked or ZERO) - (realized or ZERO), legal_entity.functional_currency)


def ar_aging(*, legal_entity: LegalEntity, as_of: date, basis: str = "transaction") -> dict:
    """Open AR per client (and currency) by days past due on `as_of`, with totals per currency.

    Days past due = as_of − due date: `current` is not yet past due (0 days or fewer), then 1–30,
    31–60, 61–90 and over 90. Open amounts are as of `as_of`: allocations dated later are ignored,
    so an old report can be reproduced. Open credits (unapplied payments, credit notes, write-offs)
    are shown in `unapplied` (negative) and included in `total`.

    `basis="transaction"` reports each client's amounts in the items' own currencies (one row per
    client and currency); `basis="functional"` converts at each item's *booking* rate (not a current
    rate, so the report ties to the AR control account before revaluation), one row per client.

    Returns {"as_of", "basis", "rows": [...], "totals": [...]}; each row is {client_id, client_name,
    currency, current, 1_30, 31_60, 61_90, over_90, unapplied, total}, totals have client_id None.
    """
    rows: dict[tuple, dict] = {}
    totals: dict[str, dict] = {}
    for item in open_values(legal_entity=legal_entity, as_of=as_of, basis=basis):
        key = (item["client__name"], item["client_id"], item["currency"])
        if key not in rows:
            rows[key] = _row(item["client_id"], item["client__name"], item["currency"])
        if item["currency"] not in totals:
            totals[item["currency"]] = _row(None, "Total", item["currency"])
        if item["open"] < 0:
            bucket = "unapplied"
        else:
            days_past_due = (as_of - item["due_date"]).days
            bucket = next((name for limit, name in LIMITS if days_past_due <= limit), "over_90")
        for target in (rows[key], totals[item["currency"]]):
            target[bucket] += item["open"]
            target["total"] += item["open"]
    return {
        "as_of": as_of,
        "basis": basis,
        "rows": [rows[key] for key in sorted(rows)],
        "totals": [totals[currency] for currency in sorted(totals)],
    }


def _row(client_id, client_name, currency) -> dict:
    return {
        "client_id": client_id,
        "client_name": client_name,
        "currency": currency,
        **dict.fromkeys((*BUCKETS, "unapplied", "total"), ZERO),
    }
