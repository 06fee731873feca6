"""Unbilled WIP: approved billable work that no invoice has taken yet, valued at what billing would charge,
per client or project, by how old the work is."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum

from billing.models import ExpenseBilling, OverCapEntry, TimeEntryBilling
from billing.services.drafts.expenses import rebill_amount
from core.errors import ValidationFailed
from core.money import quantize
from projects.choices import EntryStatus
from projects.models import Expense, TimeEntry

ZERO = Decimal(0)
BUCKETS = ("0_30", "31_60", "61_90", "over_90")
# Hours (2 places) × rate (4 places) is exact at 6 places; SQLite's float sums come back rounded to them.
EXACT = DecimalField(max_digits=30, decimal_places=6)
GROUPS = {
    # group_by → (id field, name fields) of the work's project
    "client": ("project__account_id", ("project__account__name",)),
    "project": ("project_id", ("project__code", "project__name")),
}


@dataclass
class WipRow:
    """One client or project in one currency (or, with `key` None, the total of a currency)."""

    key: int | None
    name: str
    currency: str
    hours: Decimal = ZERO
    time_amount: Decimal = ZERO
    expense_amount: Decimal = ZERO
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))

    @property
    def total(self) -> Decimal:
        return self.time_amount + self.expense_amount

    def add(
        self, bucket: str, *, time: Decimal = ZERO, expense: Decimal = ZERO, hours: Decimal = ZERO
    ) -> None:
        self.buckets[bucket] += time + expense
        self.time_amount += time
        self.expense_amount += expense
        self.hours += hours


@dataclass
class WipReport:
    as_of: date
    group_by: str
    rows: list[WipRow]
    totals: list[WipRow]

    def total_of(self, currency: str) -> Decimal:
        return next((row.total for row in self.totals if row.currency == currency), ZERO)


def unbilled_time(legal_entity) -> QuerySet:
    """Approved billable time of the entity's projects with no bill-once link and no over-cap hold."""
    return TimeEntry.objects.filter(
        project__legal_entity=legal_entity, status=EntryStatus.APPROVED, billable=True
    ).filter(
        ~Exists(TimeEntryBilling.objects.filter(time_entry_id=OuterRef("pk"))),
        ~Exists(OverCapEntry.objects.filter(time_entry_id=OuterRef("pk"))),
    )


def unbilled_expenses(legal_entity) -> QuerySet:
    """Approved billable expenses of the entity's projects that no invoice line has taken."""
    return Expense.objects.filter(
        project__legal_entity=legal_entity, status=EntryStatus.APPROVED, billable=True
    ).filter(~Exists(ExpenseBilling.objects.filter(expense_id=OuterRef("pk"))))


def _bucket_filters(as_of: date) -> dict[str, Q]:
    """Age = as_of − work date in days: 0–30, 31–60, 61–90, over 90."""
    days = [as_of - timedelta(days=n) for n in (30, 60, 90)]
    return {
        "0_30": Q(date__gte=days[0]),
        "31_60": Q(date__lt=days[0], date__gte=days[1]),
        "61_90": Q(date__lt=days[1], date__gte=days[2]),
        "over_90": Q(date__lt=days[2]),
    }


def _name(row: dict, fields: Iterable[str]) -> str:
    return " ".join(str(row[name]) for name in fields if row[name])


def unbilled_wip(legal_entity, as_of: date, group_by: str = "client") -> WipReport:
    """Work up to `as_of` that is approved, billable and not billed: time at hours × its bill rate, expenses
    at their rebill value (cost × (1 + markup), rounded per expense as billing rebills it), per client or
    project and currency, in age buckets by work date, with totals per currency.

    Time held over a not-to-exceed cap is not WIP (it waits for a write-off or a change order). What is
    unbilled is read as of now; `as_of` dates the work and its age. Two aggregate queries, whatever the
    volume: time is valued in SQL and rounded once per cell; expenses are grouped by (cost, markup) so
    each distinct rebill value is rounded once, then multiplied by its count.
    """
    if group_by not in GROUPS:
        raise ValidationFailed(
            f"Group unbilled WIP by 'client' or 'project', not '{group_by}'.",
            fields={"group_by": ["Use 'client' or 'project'."]},
        )
    key_field, name_fields = GROUPS[group_by]
    buckets = _bucket_filters(as_of)
    rows: dict[tuple, WipRow] = {}

    def row_for(values: dict, currency: str) -> WipRow:
        key = (values[key_field], currency)
        if key not in rows:
            rows[key] = WipRow(key=values[key_field], name=_name(values, name_fields), currency=currency)
        return rows[key]

    value = ExpressionWrapper(F("hours") * F("bill_rate"), output_field=EXACT)
    time = (
        unbilled_time(legal_entity)
        .filter(date__lte=as_of)
        .values(key_field, *name_fields, "currency")
        .annotate(
            **{f"hours_{name}": Sum("hours", filter=where) for name, where in buckets.items()},
            **{f"value_{name}": Sum(value, filter=where) for name, where in buckets.items()},
        )
        .order_by()
    )
    for group in time:
        row = row_for(group, group["currency"])
        for name in BUCKETS:
            if group[f"hours_{name}"] is not None:
                amount = quantize(group[f"value_{name}"] or ZERO, group["currency"])
                row.add(name, time=amount, hours=group[f"hours_{name}"])
    expenses = (
        unbilled_expenses(legal_entity)
        .filter(date__lte=as_of)
        .values(key_field, *name_fields, "project_currency", "converted_amount", "markup_percent")
        .annotate(**{f"count_{name}": Count("pk", filter=where) for name, where in buckets.items()})
        .order_by()
    )
    for group in expenses:
        currency = group["project_currency"]
        each = rebill_amount(group["converted_amount"], group["markup_percent"], currency)
        row = row_for(group, currency)
        for name in BUCKETS:
            if group[f"count_{name}"]:
                row.add(name, expense=each * group[f"count_{name}"])
    totals: dict[str, WipRow] = {}
    for row in rows.values():
        total = totals.setdefault(row.currency, WipRow(key=None, name="Total", currency=row.currency))
        total.hours += row.hours
        total.time_amount += row.time_amount
        total.expense_amount += row.expense_amount
        for name in BUCKETS:
            total.buckets[name] += row.buckets[name]
    return WipReport(
        as_of=as_of,
        group_by=group_by,
        rows=sorted(rows.values(), key=lambda row: (row.name, row.key, row.currency)),
        totals=[totals[currency] for currency in sorted(totals)],
    )
