"""What the dashboards show, read from the rollups (and the ledger's own reports for AR): one function per
page section, each returning plain data the templates and the CSV downloads share."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import DecimalField, Q, Sum
from django.db.models.functions import TruncMonth
from django.urls import reverse

from analytics.kpis import KPIS, ZERO, percent, present, prior_period, trend, weekdays
from analytics.models import DailyRollup, RollupState, TimeFact
from analytics.selectors import kpi_report
from billing.choices import ItemKind, PlanStatus
from billing.models import PlanItem
from crm.models import Contract
from ledger.choices import AccountRole, PeriodStatus
from ledger.close_checklist import BLOCKING, OK, WARNING, close_checklist
from ledger.models import AccountBalance, FiscalPeriod, LegalEntity
from ledger.reports.aging import ar_aging
from ledger.reports.dso import dso_countback
from projects.choices import EntryStatus
from projects.models import Person, Project, TimeEntry
from projects.selectors.availability import Availability
from projects.weeks import week_start

EXACT = DecimalField(max_digits=30, decimal_places=6)
CARDS = (
    "utilization", "billable_utilization", "realization", "effective_rate", "revenue", "margin",
    "margin_percent", "wip", "backlog", "deferred_revenue", "dso", "days_to_invoice",
)  # fmt: skip
CARD_UNITS = {"backlog": "money", "wip": "money", "deferred_revenue": "money", "days_to_invoice": "days"}
WEEK_END = timedelta(days=6)
AGE_BUCKETS = (("0_30", 0, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("over_90", 91, None))


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _months_back(end: date, count: int) -> list[date]:
    months = [_month_start(end)]
    while len(months) < count:
        months.append(_month_start(months[-1] - timedelta(days=1)))
    return list(reversed(months))


def freshness() -> RollupState | None:
    return RollupState.objects.filter(name="work").first()


def kpi_cards(start: date, end: date, currency: str | None) -> list[dict]:
    """The executive's cards: each KPI of the period in `currency`, against the prior period as long."""
    now = kpi_report(start=start, end=end, group_by="month")
    before = kpi_report(start=prior_period(start, end)[0], end=prior_period(start, end)[1], group_by="month")

    def pick(report):
        return next((total for total in report["totals"] if total["currency"] == currency), {})

    current, previous = pick(now), pick(before)
    cards = []
    for name in CARDS:
        kpi = KPIS[name]
        cards.append(
            {
                "name": name,
                "label": kpi.label,
                "formula": kpi.formula,
                "unit": CARD_UNITS.get(name, kpi.unit),
                "value": current.get(name),
                "trend": trend(current.get(name), previous.get(name)),
                # A rising cost or DSO is bad news; everything else on the cards is better higher.
                "lower_is_better": name in ("dso", "days_to_invoice"),
            }
        )
    return cards


def currencies(end: date) -> list[str]:
    found = set(LegalEntity.objects.values_list("functional_currency", flat=True))
    worked = DailyRollup.objects.filter(date__lte=end).order_by("currency").values_list("currency", flat=True)
    # A skip scan over the (currency, date) index: the next currency after the last one found.
    currency = worked.first()
    while currency is not None:
        found.add(currency)
        currency = worked.filter(currency__gt=currency).first()
    return sorted(found)


def monthly(end: date, currency: str, months: int = 12) -> dict:
    """Revenue (GL), billed value, margin and bookings per month for the `months` months up to `end`."""
    first = _months_back(end, months)[0]
    report = kpi_report(start=first, end=end, group_by="month", balances=False)
    rows = {row["key"]: row for row in report["rows"] if row["currency"] in (currency, None)}
    bookings = dict(
        Contract.objects.filter(currency=currency, created_at__date__gte=first, created_at__date__lte=end)
        .annotate(month=TruncMonth("created_at"))
        .values_list("month")
        .annotate(total=Sum("total_amount", output_field=EXACT))
        .order_by()
    )
    bookings = {(m.date() if hasattr(m, "date") else m): v for m, v in bookings.items()}
    result = {"labels": [], "revenue": [], "margin": [], "billed": [], "bookings": [], "margin_percent": []}
    for month in _months_back(end, months):
        row = rows.get(month.isoformat(), {})
        result["labels"].append(month.strftime("%b %Y"))
        result["revenue"].append(str(row.get("revenue") or ZERO))
        result["margin"].append(str(row.get("margin") or ZERO))
        result["billed"].append(str(row.get("billed_value") or ZERO))
        result["margin_percent"].append(
            str(row["margin_percent"]) if row.get("margin_percent") is not None else None
        )
        result["bookings"].append(str(present(bookings.get(month, ZERO), "money", currency)))
    return result


def top_clients(start: date, end: date, currency: str, limit: int = 10) -> dict:
    rows = [
        row
        for row in kpi_report(start=start, end=end, group_by="client", balances=False)["rows"]
        if row["currency"] == currency
    ]
    by_revenue = sorted((r for r in rows if r["revenue"]), key=lambda r: r["revenue"], reverse=True)[:limit]
    by_margin = sorted((r for r in rows if r["billed_value"]), key=lambda r: r["margin"], reverse=True)[
        :limit
    ]
    return {"by_revenue": by_revenue, "by_margin": by_margin}


def aging(end: date) -> list[dict]:
    """AR aging per legal entity in its functional currency on `end`, with its countback DSO."""
    result = []
    for entity in LegalEntity.objects.order_by("name"):
        totals = ar_aging(legal_entity=entity, as_of=end, basis="functional")["totals"]
        row = totals[0] if totals else None
        result.append(
            {
                "entity": entity,
                "currency": entity.functional_currency,
                "buckets": {
                    b: (row[b] if row else ZERO) for b in ("current", "1_30", "31_60", "61_90", "over_90")
                },
                "total": row["total"] if row else ZERO,
                "dso": dso_countback(legal_entity=entity, as_of=end),
            }
        )
    return result


def dso_trend(end: date, months: int = 6) -> list[dict]:
    """Countback DSO at each of the last `months` month ends (the current month: on `end`)."""
    points = []
    for entity in LegalEntity.objects.order_by("name"):
        values = []
        for month in _months_back(end, months):
            last = min(end, _month_start(month + timedelta(days=32)) - timedelta(days=1))
            values.append(dso_countback(legal_entity=entity, as_of=last))
        points.append(
            {
                "entity": entity.name,
                "labels": [m.strftime("%b %Y") for m in _months_back(end, months)],
                "values": [str(v) if v is not None else None for v in values],
            }
        )
    return points


def wip_by_age(end: date) -> list[dict]:
    """Unbilled WIP per client and currency in age buckets by work date (from the rollups)."""
    filters = {}
    for name, low, high in AGE_BUCKETS:
        condition = Q(date__lte=end - timedelta(days=low))
        if high is not None:
            condition &= Q(date__gte=end - timedelta(days=high))
        filters[name] = condition
    rows = (
        DailyRollup.objects.filter(date__lte=end, wip_value__gt=0)
        .values("project__account_id", "project__account__name", "currency")
        .annotate(**{name: Sum("wip_value", filter=q, output_field=EXACT) for name, q in filters.items()})
        .order_by("project__account__name", "currency")
    )
    result = []
    for row in rows:
        buckets = {
            name: present(Decimal(row[name] or 0), "money", row["currency"]) for name, _, _ in AGE_BUCKETS
        }
        result.append(
            {
                "client_id": row["project__account_id"],
                "client": row["project__account__name"],
                "currency": row["currency"],
                "buckets": buckets,
                "total": sum(buckets.values(), ZERO),
            }
        )
    return result


def deferred_by_month(end: date, months: int = 6) -> dict:
    """Deferred revenue balance per legal entity at each month end (the ledger's per-day balances)."""
    from analytics.selectors import _balance
    from ledger.choices import AccountRole

    labels = [m.strftime("%b %Y") for m in _months_back(end, months)]
    series = defaultdict(list)
    for month in _months_back(end, months):
        last = min(end, _month_start(month + timedelta(days=32)) - timedelta(days=1))
        balances = _balance(AccountRole.DEFERRED_REVENUE, last, -1)
        for entity in LegalEntity.objects.order_by("name"):
            series[(entity.name, entity.functional_currency)].append(
                str(present(balances.get(entity.pk, ZERO), "money", entity.functional_currency))
            )
    return {
        "labels": labels,
        "series": [{"entity": k[0], "currency": k[1], "values": v} for k, v in series.items()],
    }


def consultant(person: Person, today: date, weeks: int = 12) -> dict:
    """A consultant's own figures: hours this week and month against their available hours (every status
    but rejected, read from their own entries), approved utilization per week (rollups) and weeks logged
    under their available hours (capacity less holidays and time off)."""
    monday = week_start(today)
    month = _month_start(today)
    own = TimeEntry.objects.filter(person=person).exclude(status=EntryStatus.REJECTED)
    week_hours = own.filter(date__gte=monday, date__lte=monday + timedelta(days=6)).aggregate(h=Sum("hours"))[
        "h"
    ]
    month_hours = own.filter(date__gte=month, date__lte=today).aggregate(h=Sum("hours"))["h"]
    first = monday - timedelta(weeks=weeks - 1)
    available = Availability(
        Person.objects.filter(pk=person.pk), min(first, month), max(today, monday + WEEK_END)
    )
    approved = defaultdict(lambda: [ZERO, ZERO])
    for day, hours, billable in DailyRollup.objects.filter(
        person=person, date__gte=first, date__lte=today
    ).values_list("date", "hours", "billable_hours"):
        approved[week_start(day)][0] += hours
        approved[week_start(day)][1] += billable
    logged = defaultdict(lambda: ZERO)
    for day, hours in own.filter(date__gte=first, date__lte=today).values_list("date", "hours"):
        logged[week_start(day)] += hours
    trend_rows, missing = [], []
    for index in range(weeks):
        start = first + timedelta(weeks=index)
        # The current week counts its capacity up to today only.
        capacity = available.hours(person.pk, start, min(start + WEEK_END, today))
        hours, billable = approved[start]
        trend_rows.append(
            {
                "week": start,
                "utilization": present(percent(hours, capacity), "percent"),
                "billable_utilization": present(percent(billable, capacity), "percent"),
            }
        )
        if start < monday and logged[start] < capacity:
            missing.append(
                {
                    "week": start,
                    "logged": logged[start],
                    "capacity": present(capacity, "hours"),
                    "gap": present(capacity - logged[start], "hours"),
                }
            )
    week_capacity = available.hours(person.pk, monday, monday + WEEK_END)
    month_capacity = available.hours(person.pk, month, today)
    return {
        "week_start": monday,
        "week_hours": week_hours or ZERO,
        "week_capacity": week_capacity,
        "week_percent": present(percent(week_hours or ZERO, week_capacity), "percent"),
        "month_hours": month_hours or ZERO,
        "month_capacity": present(month_capacity, "hours"),
        "month_percent": present(percent(month_hours or ZERO, month_capacity), "percent"),
        "trend": trend_rows,
        "missing": missing,
        "workdays_this_month": weekdays(month, today),
    }


def work_rows(*, start: date, end: date, person=None, project=None, client=None):
    """The approved time behind a figure: one fact per entry, newest first (the drill-down's rows)."""
    facts = TimeFact.objects.filter(date__gte=start, date__lte=end)
    if person:
        facts = facts.filter(person_id=person)
    if project:
        facts = facts.filter(project_id=project)
    if client:
        facts = facts.filter(project_id__in=Project.objects.filter(account_id=client).values("pk"))
    return facts.order_by("-date", "-time_entry_id")


FORECAST_MONTHS = 3
SCHEDULED_PARTS = {
    ItemKind.INSTALMENT: "Fixed-fee instalments",
    ItemKind.MILESTONE: "Milestones",
    ItemKind.SUBSCRIPTION: "Subscription periods",
    ItemKind.RETAINER_FEE: "Retainer fees",
}


def billing_forecast(today: date, months: int = FORECAST_MONTHS) -> dict:
    """The forecast's `months` (first days, this month first) and, per currency, what each should invoice,
    part by part: approved unbilled WIP (billable now: the first month) and the active billing plans'
    scheduled items not yet billed nor cancelled, by kind and billing date (milestones by due date). An
    item dated before this month is overdue for billing, so it is due now too. Two aggregate queries,
    whatever the volume.

    Time and materials not yet worked is not forecast: assignments carry hours but the rate they will be
    billed at is only resolved when the time is rated."""
    starts = _months_ahead(today, months)
    last = _month_start(starts[-1] + timedelta(days=32)) - timedelta(days=1)
    parts = defaultdict(lambda: defaultdict(lambda: [ZERO] * months))
    wip = (
        DailyRollup.objects.filter(date__lte=today, wip_value__gt=0)
        .values_list("currency")
        .annotate(total=Sum("wip_value", output_field=EXACT))
        .order_by()
    )
    for currency, total in wip:
        parts[currency]["wip"][0] += total
    scheduled = (
        PlanItem.objects.filter(
            plan__status=PlanStatus.ACTIVE, invoice_line__isnull=True, cancelled=False, date__lte=last
        )
        .annotate(month=TruncMonth("date"))
        .values_list("plan__currency", "kind", "month")
        .annotate(total=Sum("amount", output_field=EXACT))
        .order_by()
    )
    for currency, kind, month, total in scheduled:
        index = starts.index(month) if month in starts else 0
        parts[currency][kind][index] += total
    result = []
    for currency in sorted(parts):
        rows = []
        for key, label, source, url in _forecast_parts():
            if key in parts[currency]:
                values = [present(value, "money", currency) for value in parts[currency][key]]
                rows.append({"key": key, "label": label, "source": source, "url": url, "values": values})
        totals = [sum(column, ZERO) for column in zip(*(row["values"] for row in rows), strict=True)]
        result.append({"currency": currency, "parts": rows, "totals": totals, "total": sum(totals, ZERO)})
    return {"months": starts, "currencies": result}


def _months_ahead(today: date, count: int) -> list[date]:
    months = [_month_start(today)]
    while len(months) < count:
        months.append(_month_start(months[-1] + timedelta(days=32)))
    return months


def _forecast_parts() -> list[tuple[str, str, str, str]]:
    """The forecast's parts in display order: key, label, where the figure comes from, its rows."""
    plans = "Active billing plans' unbilled items"
    return [
        ("wip", "Unbilled WIP (billable now)", "Approved billable time and expenses not invoiced",
         reverse("billing:report-wip")),
        *((kind, label, plans, reverse("billing:report-forecast")) for kind, label in
          SCHEDULED_PARTS.items()),
    ]  # fmt: skip


ROLLFORWARD_ROLES = (
    # role, label, sign of its balance (debit − credit × sign), what increases it, what releases it
    (AccountRole.DEFERRED_REVENUE, "Deferred revenue (contract liability)", -1, "Invoiced in advance",
     "Recognised"),
    (AccountRole.UNBILLED_REVENUE, "Unbilled revenue (contract asset)", 1, "Recognised ahead of billing",
     "Billed"),
)  # fmt: skip


def revenue_rollforward(start: date, end: date, months: int = 6) -> list[dict]:
    """Per legal entity (functional currency) and contract balance account role: opening + increases −
    releases = closing, for the period from `start` to `end` and for each of the `months` months up to
    `end` (the last one to `end`). Deferred revenue rises with credits (invoices ahead of delivery) and is
    released by debits (recognition); unbilled revenue the other way round. Read from the ledger's per-day
    balances; closing is read on its own, so `balanced` proves the equation to the cent."""
    first = _months_back(end, months)[0]
    entities = list(LegalEntity.objects.order_by("name"))
    result = []
    for role, label, sign, increase, release in ROLLFORWARD_ROLES:
        period = _role_movements(role, sign, start, end, by_month=False)
        monthly = _role_movements(role, sign, first, end, by_month=True)
        for entity in entities:
            currency = entity.functional_currency
            rows = [_rollforward_row(f"{start:%d %b %Y} – {end:%d %b %Y}", period, entity.pk, None, currency)]
            balance = monthly["opening"].get(entity.pk, ZERO)
            for month in _months_back(end, months):
                row = _rollforward_row(month.strftime("%b %Y"), monthly, entity.pk, month, currency, balance)
                balance = row["closing_exact"]
                rows.append(row)
            result.append(
                {"entity": entity, "currency": currency, "role": role, "label": label,
                 "increase_label": increase, "release_label": release, "period": rows[0], "months": rows[1:]}
            )  # fmt: skip
    return result


def _role_movements(role: str, sign: int, first: date, end: date, *, by_month: bool) -> dict:
    """The functional balance of `role`'s accounts before `first` and on `end` per entity, and the
    movements in between (per entity, or per entity and month) split into increases and releases."""
    lines = AccountBalance.objects.filter(account__role=role).order_by()
    debit = Sum("functional_debit", output_field=EXACT)
    credit = Sum("functional_credit", output_field=EXACT)

    def balances(**dates):
        rows = lines.filter(**dates).values_list("legal_entity_id").annotate(d=debit, c=credit)
        return {entity: sign * ((d or ZERO) - (c or ZERO)) for entity, d, c in rows}

    keys = ("legal_entity_id", "month") if by_month else ("legal_entity_id",)
    window = lines.filter(date__gte=first, date__lte=end)
    if by_month:
        window = window.annotate(month=TruncMonth("date"))
    movements = {}
    for row in window.values(*keys).annotate(d=debit, c=credit):
        up, down = (row["d"], row["c"]) if sign > 0 else (row["c"], row["d"])
        movements[(row["legal_entity_id"], row.get("month"))] = (up or ZERO, down or ZERO)
    return {
        "opening": balances(date__lt=first),
        "closing": balances(date__lte=end),
        "movements": movements,
    }


def _rollforward_row(label, data, entity_id, month, currency, opening=None) -> dict:
    opening = data["opening"].get(entity_id, ZERO) if opening is None else opening
    up, down = data["movements"].get((entity_id, month), (ZERO, ZERO))
    closing = opening + up - down
    row = {"label": label, "month": month, "closing_exact": closing}
    for name, value in (("opening", opening), ("increase", up), ("release", down), ("closing", closing)):
        row[name] = present(value, "money", currency)
    if month is None:
        # The ledger's own closing balance, read apart from the movements: the equation's proof.
        row["ledger_closing"] = present(data["closing"].get(entity_id, ZERO), "money", currency)
        row["balanced"] = row["ledger_closing"] == row["closing"]
    return row


def close_status(today: date) -> list[dict]:
    """Per legal entity: its last closed period, the open period to close next (the earliest open one
    started by `today`) and that period's close checklist, item by item."""
    periods = defaultdict(list)
    for period in FiscalPeriod.objects.filter(start__lte=today).select_related("legal_entity"):
        periods[period.legal_entity_id].append(period)
    result = []
    for entity in LegalEntity.objects.order_by("name"):
        own = sorted(periods[entity.pk], key=lambda period: period.start)
        closed = [period for period in own if period.status == PeriodStatus.CLOSED]
        still_open = [period for period in own if period.status == PeriodStatus.OPEN]
        current = still_open[0] if still_open else None
        checklist = close_checklist(current) if current else None
        result.append(
            {
                "entity": entity,
                "last_closed": closed[-1] if closed else None,
                "current": current,
                # Months started and not closed: how far the close runs behind.
                "open_count": len(still_open),
                "items": checklist.items if checklist else [],
                "counts": {
                    status: sum(1 for item in checklist.items if item.status == status)
                    for status in (BLOCKING, WARNING, OK)
                }
                if checklist
                else {},
                "can_close": checklist.can_close if checklist else False,
            }
        )
    return result
