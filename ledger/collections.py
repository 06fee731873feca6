"""Collections reads: the workbench of overdue clients with a priority score, one client's file, the trends.

Amounts are in the legal entity's functional currency at booking rates (as AR aging's functional basis),
so clients billed in different currencies rank on one scale. Every read is a fixed number of queries,
whatever the number of clients.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import OuterRef, Q, Subquery, Sum

from core.money import format_money, quantize
from crm.models import Account, Activity
from ledger.choices import ArItemKind, HoldKind, HoldStatus
from ledger.models import Allocation, ArItem, CollectionHold, DunningNotice, DunningNoticeItem, LegalEntity
from ledger.reports.aging import BUCKETS, LIMITS, open_values

ZERO = Decimal(0)
ONE = Decimal(1)
TENTH = Decimal("0.1")
# Payment behaviour is read from the allocations of the last year: old habits matter less.
HISTORY_DAYS = 365
# A client that historically pays this many days late counts double in the priority score.
LATENESS_DOUBLES_AT = 30
SORTS = {
    "score": lambda row: row.score,
    "overdue": lambda row: row.overdue,
    "days": lambda row: row.average_days,
    "late": lambda row: row.days_late if row.days_late is not None else -1,
    "name": lambda row: row.client_name.lower(),
}


@dataclass
class ClientRow:
    """One client on the workbench: its overdue AR by age, holds, last notice and priority."""

    client_id: int
    client_name: str
    owner_name: str
    currency: str
    buckets: dict[str, Decimal]
    overdue: Decimal = ZERO
    # The part of `overdue` under an open dispute: shown, but not chased, so not in the score.
    disputed: Decimal = ZERO
    # Amount-weighted days past due of the overdue, undisputed items.
    average_days: int = 0
    amount_days: Decimal = ZERO
    days_late: int | None = None
    score: int = 0
    explanation: str = ""
    last_notice: DunningNotice | None = None
    holds: list[CollectionHold] = field(default_factory=list)

    @property
    def score_display(self) -> str:
        return f"{self.score:,}"

    @property
    def disputes(self) -> list[CollectionHold]:
        return [hold for hold in self.holds if hold.kind == HoldKind.DISPUTE]

    @property
    def promises(self) -> list[CollectionHold]:
        return [hold for hold in self.holds if hold.kind == HoldKind.PROMISE]


def _bucket(days_past_due: int) -> str:
    return next((name for limit, name in LIMITS if days_past_due <= limit), "over_90")


def _whole(value: Decimal) -> int:
    return int(value.quantize(ONE, rounding=ROUND_HALF_UP))


def historical_days_late(*, client_ids, as_of: date) -> dict[int, int]:
    """Per client, the amount-weighted days after the due date its payments were applied, over a year.

    Each allocation of a payment to an invoice, dated in the `HISTORY_DAYS` before `as_of`, counts its
    amount × days between the invoice's due date and the allocation's date (0 when on time or early).
    Reversed allocations and their reversals are left out. Clients without such allocations are absent.
    One query, grouped by client, day and due date.
    """
    rows = (
        Allocation.objects.filter(
            debit_item__client_id__in=client_ids,
            credit_item__kind=ArItemKind.PAYMENT,
            reversal_of__isnull=True,
            reversed_by__isnull=True,
            date__gt=as_of - timedelta(days=HISTORY_DAYS),
            date__lte=as_of,
        )
        .values("debit_item__client_id", "date", "debit_item__due_date")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    weighted: dict[int, Decimal] = defaultdict(lambda: ZERO)
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        client = row["debit_item__client_id"]
        late = max((row["date"] - row["debit_item__due_date"]).days, 0)
        weighted[client] += row["total"] * late
        paid[client] += row["total"]
    return {client: _whole(weighted[client] / paid[client]) for client in paid if paid[client] > 0}


def priority_score(amount_days: Decimal, days_late: int | None) -> int:
    """Σ(open × days past due) of the undisputed overdue items, × (1 + days late ÷ 30), to a whole number.

    So 12,400.00 overdue for 47 days on average by a client who pays 18 days late scores
    12,400 × 47 × 1.6 = 932,480: twice the amount or twice the age doubles it, and a client who pays a month
    late counts double.
    """
    weight = ONE + Decimal(days_late or 0) / LATENESS_DOUBLES_AT
    return _whole(amount_days * weight)


def _explain(row: ClientRow) -> str:
    collectible = row.overdue - row.disputed
    words = [f"{format_money(collectible, row.currency)} overdue for {row.average_days} days on average"]
    if row.disputed:
        words.append(f"{format_money(row.disputed, row.currency)} disputed, not counted")
    if row.days_late is None:
        words.append("no payments in the last year to judge by")
    elif row.days_late == 0:
        words.append("pays on time historically")
    else:
        words.append(f"pays {row.days_late} days late historically")
    return "; ".join(words)


def workbench(*, legal_entity: LegalEntity, as_of: date, sort: str = "score", descending: bool = True):
    """The entity's clients with overdue AR on `as_of`, sorted (by priority score by default).

    Five queries: the open items, the open holds, the clients with their last notice, that notice, and
    the payment history.
    """
    currency = legal_entity.functional_currency
    rows: dict[int, ClientRow] = {}
    holds = list(
        CollectionHold.objects.filter(legal_entity=legal_entity, status=HoldStatus.OPEN)
        .select_related("ar_item", "owner")
        .order_by("until", "id")
    )
    disputed_items = {hold.ar_item_id for hold in holds if hold.kind == HoldKind.DISPUTE and hold.ar_item_id}
    for item in open_values(legal_entity=legal_entity, as_of=as_of, basis="functional"):
        row = rows.get(item["client_id"])
        if row is None:
            row = rows[item["client_id"]] = ClientRow(
                client_id=item["client_id"],
                client_name=item["client__name"],
                owner_name="",
                currency=currency,
                buckets=dict.fromkeys(BUCKETS, ZERO),
            )
        if item["open"] < 0:
            continue
        days = (as_of - item["due_date"]).days
        row.buckets[_bucket(days)] += item["open"]
        if days <= 0:
            continue
        row.overdue += item["open"]
        if item["pk"] in disputed_items:
            row.disputed += item["open"]
        else:
            row.amount_days += item["open"] * days
    rows = {client: row for client, row in rows.items() if row.overdue > 0}
    for hold in holds:
        if hold.client_id in rows:
            rows[hold.client_id].holds.append(hold)
    last_notice = DunningNotice.objects.filter(client=OuterRef("pk")).order_by("-id").values("pk")[:1]
    clients = (
        Account.objects.filter(pk__in=rows)
        .select_related("owner")
        .annotate(last_notice=Subquery(last_notice))
    )
    notices = DunningNotice.objects.select_related("run").in_bulk(
        [client.last_notice for client in clients if client.last_notice]
    )
    lateness = historical_days_late(client_ids=list(rows), as_of=as_of)
    for client in clients:
        row = rows[client.pk]
        row.owner_name = (client.owner.get_full_name() or client.owner.username) if client.owner else ""
        row.last_notice = notices.get(client.last_notice)
        row.days_late = lateness.get(client.pk)
        collectible = row.overdue - row.disputed
        row.average_days = _whole(row.amount_days / collectible) if collectible > 0 else 0
        row.score = priority_score(row.amount_days, row.days_late)
        row.explanation = _explain(row)
    key = SORTS.get(sort, SORTS["score"])
    return sorted(rows.values(), key=lambda row: (key(row), row.client_id), reverse=descending)


def workbench_totals(rows: list[ClientRow], currency: str) -> dict:
    buckets = dict.fromkeys(BUCKETS, ZERO)
    for row in rows:
        for name, value in row.buckets.items():
            buckets[name] += value
    return {
        "clients": len(rows),
        "overdue": quantize(sum((row.overdue for row in rows), ZERO), currency),
        "disputed": quantize(sum((row.disputed for row in rows), ZERO), currency),
        "buckets": buckets,
        "disputes": sum(len(row.disputes) for row in rows),
        "promises": sum(len(row.promises) for row in rows),
    }


def month_ends(as_of: date, months: int) -> list[date]:
    """The last `months` month ends up to `as_of`, oldest first; the current month counts up to `as_of`."""
    ends = [as_of]
    while len(ends) < months:
        ends.append(ends[-1].replace(day=1) - timedelta(days=1))
    return ends[::-1]


def trends(*, legal_entity: LegalEntity, as_of: date, months: int = 12, window_days: int = 90) -> list[dict]:
    """Per month end: AR, overdue AR and DSO (AR ÷ the invoicing of the `window_days` before × days).

    The DSO is the simple method of `ledger.reports.dso.dso_simple`, in functional currency; None when
    nothing was invoiced in the window. One query per month for the open items, one for all invoicing.
    """
    currency = legal_entity.functional_currency
    ends = month_ends(as_of, months)
    invoiced = ArItem.objects.filter(legal_entity=legal_entity, kind=ArItemKind.INVOICE).aggregate(
        **{
            f"m{index}": Sum(
                "functional_amount", filter=Q(date__gt=end - timedelta(days=window_days), date__lte=end)
            )
            for index, end in enumerate(ends)
        }
    )
    points = []
    for index, end in enumerate(ends):
        balance = overdue = ZERO
        for item in open_values(legal_entity=legal_entity, as_of=end, basis="functional"):
            balance += item["open"]
            if item["open"] > 0 and item["due_date"] < end:
                overdue += item["open"]
        billed = quantize(invoiced[f"m{index}"] or ZERO, currency)
        dso = (balance * window_days / billed).quantize(TENTH, rounding=ROUND_HALF_UP) if billed else None
        points.append(
            {
                "date": end,
                "ar": quantize(balance, currency),
                "overdue": quantize(overdue, currency),
                "dso": dso,
            }
        )
    return points


@dataclass
class OpenItem:
    item: ArItem
    days_overdue: int
    level: int | None
    dispute: CollectionHold | None
    promise: CollectionHold | None


def client_file(*, client: Account, as_of: date) -> dict:
    """One client's collections file: open items with level reached and holds, holds, notices, activities."""
    holds = list(
        CollectionHold.objects.filter(client=client)
        .select_related("ar_item", "owner", "resolved_by", "created_by")
        .order_by("-id")
    )
    open_holds = [hold for hold in holds if hold.status == HoldStatus.OPEN]
    # The highest level each open item was noticed at: one query.
    levels: dict[int, int] = defaultdict(int)
    for item_id, level in DunningNoticeItem.objects.filter(
        ar_item__client=client, ar_item__open_amount__gt=0
    ).values_list("ar_item_id", "level"):
        levels[item_id] = max(levels[item_id], level)
    items = []
    client_promise = next(
        (hold for hold in open_holds if hold.kind == HoldKind.PROMISE and not hold.ar_item_id), None
    )
    for item in ArItem.objects.filter(client=client).exclude(open_amount=0).order_by("due_date", "id"):
        dispute = next(
            (hold for hold in open_holds if hold.kind == HoldKind.DISPUTE and hold.ar_item_id == item.pk),
            None,
        )
        promise = next(
            (hold for hold in open_holds if hold.kind == HoldKind.PROMISE and hold.ar_item_id == item.pk),
            client_promise if item.amount > 0 else None,
        )
        items.append(
            OpenItem(
                item=item,
                days_overdue=max((as_of - item.due_date).days, 0) if item.amount > 0 else 0,
                level=levels.get(item.pk),
                dispute=dispute,
                promise=promise,
            )
        )
    notices = list(
        DunningNotice.objects.filter(client=client).select_related("run", "fee_item").order_by("-id")[:20]
    )
    activities = list(
        Activity.objects.filter(account=client).select_related("owner").order_by("-created_at")[:20]
    )
    lateness = historical_days_late(client_ids=[client.pk], as_of=as_of).get(client.pk)
    return {
        "items": items,
        "holds": holds,
        "open_holds": open_holds,
        "notices": notices,
        "activities": activities,
        "days_late": lateness,
    }
