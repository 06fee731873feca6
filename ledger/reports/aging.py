"""AR aging: what each client owes as of a day, by how long it is past due."""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import ValidationFailed
from core.money import minor_unit_exponent, quantize
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
    _check_basis(basis)
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
    _check_basis(basis)
    rows: dict[int, dict] = {}
    totals: dict[str, dict] = {}
    for client_id, client_name, currency, bucket, amount in _bucket_sums(legal_entity, as_of, basis):
        amount = quantize(amount if isinstance(amount, Decimal) else Decimal(str(amount)), currency)
        key = (client_id, currency)
        if key not in rows:
            rows[key] = _row(client_id, client_name, currency)
        if currency not in totals:
            totals[currency] = _row(None, "Total", currency)
        for target in (rows[key], totals[currency]):
            target[bucket] += amount
            target["total"] += amount
    return {
        "as_of": as_of,
        "basis": basis,
        "rows": sorted(
            rows.values(), key=lambda row: (row["client_name"], row["client_id"], row["currency"])
        ),
        "totals": [totals[currency] for currency in sorted(totals)],
    }


# Open as of the day = open now + what allocations dated later took off (debit side) or put back
# (credit side), so only the later allocations are read, not the whole allocation history: the stored
# `open_amount` is amount − Σ allocations, which `check_invariants` verifies. Items closed now count
# only when a later allocation touched them. Summed per client, currency and bucket in the database.
_BUCKET_SUMS = """
    WITH later AS (
        SELECT item_id, sum(applied) AS applied FROM (
            SELECT debit_item_id AS item_id, amount AS applied FROM {allocation}
             WHERE legal_entity_id = %(entity)s AND date > %(as_of)s
            UNION ALL
            SELECT credit_item_id, -amount FROM {allocation}
             WHERE legal_entity_id = %(entity)s AND date > %(as_of)s
        ) touched GROUP BY item_id
    ), items AS (
        SELECT a.client_id, a.currency, a.due_date, a.amount, a.functional_amount, a.rate,
               a.open_amount + coalesce(later.applied, 0) AS open_as_of
          FROM {item} a LEFT JOIN later ON later.item_id = a.id
         WHERE a.legal_entity_id = %(entity)s AND a.date <= %(as_of)s AND a.open_amount <> 0
        UNION ALL
        SELECT a.client_id, a.currency, a.due_date, a.amount, a.functional_amount, a.rate, later.applied
          FROM later JOIN {item} a ON a.id = later.item_id
         WHERE a.legal_entity_id = %(entity)s AND a.date <= %(as_of)s AND a.open_amount = 0
    )
    SELECT aged.client_id, client.name, aged.currency, aged.bucket, sum(aged.value) FROM (
        SELECT client_id, {currency} AS currency,
               CASE WHEN open_as_of < 0 THEN 'unapplied' {buckets} ELSE 'over_90' END AS bucket,
               {value} AS value
          FROM items WHERE open_as_of <> 0
    ) aged JOIN {client} client ON client.id = aged.client_id
     GROUP BY aged.client_id, client.name, aged.currency, aged.bucket
"""


def _bucket_sums(legal_entity: LegalEntity, as_of: date, basis: str) -> list[tuple]:
    params = {"entity": legal_entity.pk, "as_of": as_of}
    buckets = []
    for limit, name in LIMITS:
        # Days past due ≤ limit ⇔ due on or after as_of − limit.
        params[f"due_{name}"] = as_of - timedelta(days=limit)
        buckets.append(f"WHEN due_date >= %(due_{name})s THEN '{name}'")
    if basis == "functional":
        # Fully open: exactly its booked functional amount; partly settled: open × booking rate, rounded
        # once per item (half away from zero, as `quantize`).
        params["functional"] = legal_entity.functional_currency
        params["exponent"] = minor_unit_exponent(legal_entity.functional_currency)
        currency = "%(functional)s"
        value = (
            "CASE WHEN open_as_of = amount THEN functional_amount"
            " ELSE round(open_as_of * rate, %(exponent)s) END"
        )
    else:
        currency, value = "currency", "open_as_of"
    sql = _BUCKET_SUMS.format(
        allocation=Allocation._meta.db_table,
        item=ArItem._meta.db_table,
        client=ArItem._meta.get_field("client").related_model._meta.db_table,
        currency=currency,
        buckets=" ".join(buckets),
        value=value,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _check_basis(basis: str) -> None:
    if basis not in ("transaction", "functional"):
        raise ValidationFailed(
            f"The aging basis is 'transaction' or 'functional', not '{basis}'.",
            fields={"basis": ["Use 'transaction' or 'functional'."]},
        )


def _row(client_id, client_name, currency) -> dict:
    return {
        "client_id": client_id,
        "client_name": client_name,
        "currency": currency,
        **dict.fromkeys((*BUCKETS, "unapplied", "total"), ZERO),
    }
