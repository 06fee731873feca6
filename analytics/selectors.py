"""KPI reads: grouped figures from the rollups, and the firm-level balances (per legal entity) from the
ledger, revenue recognition and CRM. No page or API call scans time entries or journal lines."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, Sum
from django.db.models.functions import TruncMonth

from analytics.kpis import ZERO, Measures, percent, percentile, present
from analytics.models import DailyRollup, GLMonthRollup, InvoiceLagRollup, MonthlyRollup, TimeFact
from core.roles import Role as UserRole
from core.roles import has_role
from crm.models import Contract, Opportunity
from ledger.choices import AccountRole, AccountType, ArItemKind
from ledger.models import AccountBalance, ArItem, GLAccount, LegalEntity
from ledger.reports.aging import ar_aging
from ledger.reports.dso import dso_countback, dso_simple
from projects.models import Person, Practice, Project
from projects.selectors.availability import Availability, availability
from revrec.reports.rpo import rpo_disclosure

EXACT = DecimalField(max_digits=30, decimal_places=6)
SUMS = {
    "hours": "hours",
    "billable_hours": "billable_hours",
    "standard_value": "standard_value",
    "billed_standard_value": "billed_standard_value",
    "billed_value": "billed_value",
    "time_cost": "time_cost",
    "expense_cost": "expense_cost",
}

# group_by → (key expression on DailyRollup, name fields). Practice is the practice of the person who did
# the work (kpis.py says why); people without one group as "No practice".
ROLLUP_GROUPS = {
    "person": ("person_id", ("person__name",)),
    "practice": ("person__practice_id", ("person__practice__name",)),
    "project": ("project_id", ("project__code", "project__name")),
    "client": ("project__account_id", ("project__account__name",)),
    "legal_entity": ("project__legal_entity_id", ("project__legal_entity__name",)),
    "month": ("month", ()),
}
# Capacity belongs to people: the groups utilization means something for, and the people's key in each.
PEOPLE_KEYS = {"person": "pk", "practice": "practice_id", "legal_entity": "legal_entity_id"}
NO_PRACTICE = "No practice"
GL_GROUPS = {
    "client": "client_id",
    "project": "project_id",
    "legal_entity": "legal_entity_id",
    "month": "month",
}


@dataclass
class KpiRow:
    key: object
    name: str
    measures: Measures

    def as_dict(self) -> dict:
        key = self.key.isoformat() if isinstance(self.key, date) else self.key
        return {"key": key, "name": self.name, **self.measures.presented()}


def _name(values: dict, fields) -> str:
    return " ".join(str(values[name]) for name in fields if values.get(name))


def _dec(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.000001"))


def _rollups(start: date | None, end: date, person: Person | None):
    rows = DailyRollup.objects.filter(date__lte=end)
    if start is not None:
        rows = rows.filter(date__gte=start)
    if person is not None:
        rows = rows.filter(person=person)
    return rows.annotate(month=TruncMonth("date"))


def _period_sums(start: date, end: date, person: Person | None, fields: tuple) -> dict[tuple, dict]:
    """The period's sums per value of `fields`: whole months from the monthly rollups, the days before the
    first whole month and after the last one from the daily rollups."""
    first_whole = start if start.day == 1 else _next_month(start)
    end_month = date(end.year, end.month, 1)
    after_whole = _next_month(end) if end + timedelta(days=1) == _next_month(end) else end_month
    parts, edges = [], [(start, end)]
    if first_whole < after_whole:
        months = MonthlyRollup.objects.filter(month__gte=first_whole, month__lt=after_whole)
        parts.append(months.filter(person=person) if person is not None else months)
        edges = [(start, first_whole - timedelta(days=1)), (after_whole, end)]
    parts += [_rollups(first, last, person) for first, last in edges if first <= last]
    found: dict[tuple, dict] = {}
    for part in parts:
        sums = part.values(*fields).annotate(
            **{name: Sum(column, output_field=EXACT) for name, column in SUMS.items()}
        )
        for values in sums.order_by():
            key = tuple(values[field] for field in fields)
            if key not in found:
                found[key] = values
                continue
            for name in SUMS:
                found[key][name] = _dec(found[key][name]) + _dec(values[name])
    return found


def kpi_rows(
    *,
    start: date,
    end: date,
    group_by: str,
    person: Person | None = None,
    available: Availability | None = None,
) -> list[KpiRow]:
    """Per group and currency, the period's work figures from the rollups (and GL revenue where the group
    has a ledger dimension). `person` limits everything to that person's own rows (a consultant);
    `available` is the range's availability when the caller already read it."""
    key_field, name_fields = ROLLUP_GROUPS[group_by]
    rows: dict[tuple, KpiRow] = {}
    fields = (key_field, *name_fields, "currency")
    # WIP is all approved work not yet billed on `end`, however old: its own sum, not limited by `start`.
    # Only cells with WIP can change it, and the partial index holds just those, so no year-long scan.
    wip_cells = _rollups(start if group_by == "month" else None, end, person).exclude(wip_value=0)
    wip = {
        tuple(values[field] for field in fields): _dec(values["wip"])
        for values in wip_cells.values(*fields).annotate(wip=Sum("wip_value", output_field=EXACT)).order_by()
    }
    found = _period_sums(start, end, person, fields)
    found |= {
        cell: dict(zip(fields, cell, strict=True))
        for cell, value in wip.items()
        if cell not in found and value > 0
    }
    group_hours: dict[object, tuple[Decimal, Decimal]] = {}
    for cell, values in found.items():
        key = values[key_field]
        if group_by == "month":
            name = key.strftime("%b %Y")
        else:
            name = _name(values, name_fields) or (NO_PRACTICE if group_by == "practice" else "")
        measures = Measures(
            currency=values["currency"],
            **{name: _dec(values.get(name)) for name in SUMS},
            wip=wip.get(cell, ZERO),
        )
        rows[(key, values["currency"])] = KpiRow(key, name, measures)
        hours, billable = group_hours.get(key, (ZERO, ZERO))
        group_hours[key] = (hours + measures.hours, billable + measures.billable_hours)

    # Utilization: the group's hours in every currency over its people's capacity.
    if group_by in PEOPLE_KEYS or group_by == "month":
        by_key = defaultdict(list)
        for (key, _currency), row in rows.items():
            by_key[key].append(row)
        capacity = _capacity(group_by, start, end, available or availability(start, end, person))
        # Someone with capacity and no approved time: 0% utilization, not absent.
        idle = [key for key, hours in capacity.items() if hours and key not in by_key and group_by != "month"]
        for key, name in _capacity_names(group_by, idle).items():
            rows[(key, None)] = KpiRow(key, name, Measures())
            by_key[key].append(rows[(key, None)])
        for key, hours in capacity.items():
            for row in by_key.get(key, ()):
                row.measures.available_hours = hours
                row.measures.group_hours = group_hours.get(key, (ZERO, ZERO))

    if group_by in GL_GROUPS and person is None:
        revenue = _gl_revenue(start, end, GL_GROUPS[group_by])
        names = _gl_names(group_by, {key for key, currency, _ in revenue if (key, currency) not in rows})
        for key, currency, amount in revenue:
            row = rows.get((key, currency))
            if row is None:
                row = rows[(key, currency)] = KpiRow(key, names[key], Measures(currency=currency))
            row.measures.revenue = amount

    def order(row: KpiRow):
        first = row.key if group_by == "month" else str(row.name).lower()
        return (first, row.measures.currency or "")

    return sorted(rows.values(), key=order)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _capacity(group_by: str, start: date, end: date, available: Availability) -> dict:
    """Available hours per group: active people's capacity on the range's weekdays, less holidays and time
    off (`projects.selectors.availability`)."""
    capacity: dict[object, Decimal] = defaultdict(lambda: ZERO)
    if group_by == "month":
        month = date(start.year, start.month, 1)
        while month <= end:
            first, last = max(start, month), min(end, _next_month(month) - timedelta(days=1))
            capacity[month] = available.total(first, last)
            month = _next_month(month)
        return capacity
    people = Person.objects.filter(pk__in=list(available.people))
    for pk, key in people.values_list("pk", PEOPLE_KEYS[group_by]):
        capacity[key] += available.hours(pk, start, end)
    return capacity


def _capacity_names(group_by: str, keys: list) -> dict:
    """The names of groups that have capacity but no rows, in one query."""
    if not keys:
        return {}
    if group_by == "person":
        names = dict(Person.objects.filter(pk__in=keys).values_list("pk", "name"))
        return {key: names.get(key) or "" for key in keys}
    if group_by == "practice":
        names = dict(Practice.objects.filter(pk__in=[key for key in keys if key]).values_list("pk", "name"))
        return {key: names.get(key) or NO_PRACTICE for key in keys}
    names = dict(LegalEntity.objects.filter(pk__in=keys).values_list("pk", "name"))
    return {key: names.get(key) or "" for key in keys}


def _gl_names(group_by: str, keys: set) -> dict:
    """The names of the groups that have GL revenue but no work rows, in one query."""
    from crm.models import Account

    if group_by == "month":
        return {key: key.strftime("%b %Y") for key in keys}
    wanted = [key for key in keys if key]
    if group_by == "client":
        names = dict(Account.objects.filter(pk__in=wanted).values_list("pk", "name"))
        return {key: names.get(key) or "No client" for key in keys}
    if group_by == "project":
        names = {
            pk: f"{code} {name}"
            for pk, code, name in Project.objects.filter(pk__in=wanted).values_list("pk", "code", "name")
        }
        return {key: names.get(key) or "No project" for key in keys}
    names = dict(LegalEntity.objects.filter(pk__in=wanted).values_list("pk", "name"))
    return {key: names.get(key) or "" for key in keys}


def _gl_revenue(start: date, end: date, key_field: str) -> list[tuple]:
    """Recognised revenue (credits − debits of revenue accounts, functional currency) per group, over the
    months the range touches. A line without a client dimension but with a project (revenue runs post so)
    counts for the project's client."""
    revenue_accounts = GLAccount.objects.filter(type=AccountType.REVENUE).values("pk")
    currencies = dict(LegalEntity.objects.values_list("pk", "functional_currency"))
    fields = [key_field, "legal_entity_id"] + (["project_id"] if key_field == "client_id" else [])
    rows = (
        GLMonthRollup.objects.filter(
            account_id__in=revenue_accounts, month__gte=date(start.year, start.month, 1), month__lte=end
        )
        .values(*fields)
        .annotate(
            credit=Sum("functional_credit", output_field=EXACT),
            debit=Sum("functional_debit", output_field=EXACT),
        )
        .order_by()
    )
    rows = list(rows)
    clients = {}
    if key_field == "client_id":
        wanted = {values["project_id"] for values in rows if not values["client_id"] and values["project_id"]}
        clients = dict(Project.objects.filter(pk__in=wanted).values_list("pk", "account_id"))
    totals: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for values in rows:
        key = values[key_field] or (clients.get(values["project_id"]) if clients else None) or None
        totals[(key, currencies[values["legal_entity_id"]])] += _dec(values["credit"]) - _dec(values["debit"])
    return [(key, currency, amount) for (key, currency), amount in totals.items()]


def _balance(role: str, end: date, sign: int) -> dict[int, Decimal]:
    """Per legal entity, the functional balance of the accounts of `role` on `end` (the ledger's own
    per-day balances): debit − credit for an asset (sign 1), credit − debit for a liability (sign −1)."""
    rows = (
        AccountBalance.objects.filter(account__role=role, date__lte=end)
        .values("legal_entity_id")
        .annotate(
            d=Sum("functional_debit", output_field=EXACT), c=Sum("functional_credit", output_field=EXACT)
        )
        .order_by()
    )
    return {row["legal_entity_id"]: sign * (_dec(row["d"]) - _dec(row["c"])) for row in rows}


def days_to_invoice(*, start: date, end: date, person: Person | None = None) -> tuple:
    """Median and p90 days from approval to invoice release, of time approved in the range and billed."""
    if person is None:
        lags = InvoiceLagRollup.objects.filter(approved_on__gte=start, approved_on__lte=end)
        histogram = dict(lags.values_list("days_to_invoice").annotate(n=Sum("entries")).order_by())
    else:
        facts = TimeFact.objects.filter(
            approved_on__gte=start, approved_on__lte=end, days_to_invoice__isnull=False, person_id=person.pk
        )
        histogram = dict(facts.values_list("days_to_invoice").annotate(n=Count("pk")).order_by())
    return percentile(histogram, Decimal("0.5")), percentile(histogram, Decimal("0.9"))


def entity_figures(*, start: date, end: date) -> list[dict]:
    """Per legal entity (functional currency): recognised revenue, deferred and unbilled revenue,
    overdue AR, DSO both ways and the write-off rate; balances on `end`."""
    deferred = _balance(AccountRole.DEFERRED_REVENUE, end, -1)
    unbilled = _balance(AccountRole.UNBILLED_REVENUE, end, 1)
    revenue = defaultdict(lambda: ZERO)
    for key, _currency, amount in _gl_revenue(start, end, "legal_entity_id"):
        revenue[key] += amount
    items = (
        ArItem.objects.filter(
            date__gte=start, date__lte=end, kind__in=[ArItemKind.INVOICE, ArItemKind.WRITE_OFF]
        )
        .values("legal_entity_id", "kind")
        .annotate(total=Sum("functional_amount", output_field=EXACT))
        .order_by()
    )
    ar = defaultdict(dict)
    for row in items:
        ar[row["legal_entity_id"]][row["kind"]] = abs(_dec(row["total"]))
    figures = []
    for entity in LegalEntity.objects.order_by("name"):
        aging = ar_aging(legal_entity=entity, as_of=end, basis="functional")["totals"]
        overdue = sum((row[b] for row in aging for b in ("1_30", "31_60", "61_90", "over_90")), ZERO)
        figures.append(
            {
                "legal_entity": entity.pk,
                "name": entity.name,
                "currency": entity.functional_currency,
                "revenue": revenue[entity.pk],
                "deferred_revenue": deferred.get(entity.pk, ZERO),
                "unbilled_revenue": unbilled.get(entity.pk, ZERO),
                "overdue_ar": overdue,
                "dso": dso_countback(legal_entity=entity, as_of=end),
                "dso_simple": dso_simple(legal_entity=entity, as_of=end),
                "write_off_rate": percent(
                    ar[entity.pk].get(ArItemKind.WRITE_OFF, ZERO), ar[entity.pk].get(ArItemKind.INVOICE)
                ),
                "backlog": {row["currency"]: row["total"] for row in rpo_disclosure(entity, end)["totals"]},
            }
        )
    return figures


def sales_figures(*, start: date, end: date) -> dict:
    """Bookings (contracts signed in the range) and the open weighted pipeline per currency, and the win
    rate of the opportunities closed in the range."""
    bookings = defaultdict(lambda: ZERO)
    for currency, total in (
        Contract.objects.filter(created_at__date__gte=start, created_at__date__lte=end)
        .values_list("currency")
        .annotate(total=Sum("total_amount", output_field=EXACT))
        .order_by()
    ):
        bookings[currency] += _dec(total)
    pipeline = defaultdict(lambda: ZERO)
    for currency, amount, probability in Opportunity.objects.exclude(
        stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST]
    ).values_list("currency", "amount", "probability"):
        pipeline[currency] += amount * probability / 100
    closed = Opportunity.objects.filter(
        closed_at__date__gte=start,
        closed_at__date__lte=end,
        stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST],
    ).aggregate(won=Count("pk", filter=Q(stage=Opportunity.Stage.WON)), all=Count("pk"))
    return {
        "bookings": dict(bookings),
        "pipeline_weighted": dict(pipeline),
        "win_rate": percent(Decimal(closed["won"]), Decimal(closed["all"])),
        "won": closed["won"],
        "closed": closed["all"],
    }


def kpi_report(
    *, start: date, end: date, group_by: str, person: Person | None = None, balances: bool = True
) -> dict:
    """The `kpis/` answer: rows per group and currency, and totals per currency with the firm's balances
    (all of them only for the whole firm; a consultant's report covers their own work only). Pages that
    only chart the rows pass `balances=False` to skip the ledger, revenue and CRM reads."""
    available = availability(start, end, person)
    rows = kpi_rows(start=start, end=end, group_by=group_by, person=person, available=available)
    totals: dict[str, Measures] = {}
    for row in rows:
        currency = row.measures.currency
        if currency is None:
            continue
        total = totals.setdefault(currency, Measures(currency=currency, available_hours=None))
        total.add(row.measures)
    all_hours = sum((row.measures.hours for row in rows), ZERO)
    all_billable = sum((row.measures.billable_hours for row in rows), ZERO)
    capacity = sum(_capacity("month", start, end, available).values(), ZERO)
    median, p90 = days_to_invoice(start=start, end=end, person=person)
    firm = person is None and balances
    entities = entity_figures(start=start, end=end) if firm else []
    sales = sales_figures(start=start, end=end) if firm else None
    for entity in entities:
        total = totals.setdefault(entity["currency"], Measures(currency=entity["currency"]))
        total.revenue = (total.revenue or ZERO) + entity["revenue"]
        for currency in entity["backlog"]:
            totals.setdefault(currency, Measures(currency=currency))
    total_rows = []
    for currency in sorted(totals):
        measures = totals[currency]
        measures.available_hours = capacity
        measures.group_hours = (all_hours, all_billable)
        presented = measures.presented()
        same = [e for e in entities if e["currency"] == currency]
        presented |= {
            "backlog": present(
                sum((e["backlog"].get(currency, ZERO) for e in entities), ZERO), "money", currency
            )
            if entities
            else None,
            "deferred_revenue": present(sum((e["deferred_revenue"] for e in same), ZERO), "money", currency)
            if same
            else None,
            "unbilled_revenue": present(sum((e["unbilled_revenue"] for e in same), ZERO), "money", currency)
            if same
            else None,
            "overdue_ar": present(sum((e["overdue_ar"] for e in same), ZERO), "money", currency)
            if same
            else None,
            "dso": same[0]["dso"] if len(same) == 1 else None,
            "dso_simple": same[0]["dso_simple"] if len(same) == 1 else None,
            "write_off_rate": present(same[0]["write_off_rate"], "percent") if len(same) == 1 else None,
            "bookings": present(sales["bookings"].get(currency, ZERO), "money", currency) if sales else None,
            "pipeline_weighted": present(sales["pipeline_weighted"].get(currency, ZERO), "money", currency)
            if sales
            else None,
            "days_to_invoice": present(median, "days"),
            "days_to_invoice_p90": present(p90, "days"),
        }
        total_rows.append(presented)
    by_entity = {e["legal_entity"]: e for e in entities}
    row_dicts = []
    for row in rows:
        values = row.as_dict() | dict.fromkeys(ROW_BALANCES)
        entity = by_entity.get(row.key) if group_by == "legal_entity" else None
        if entity and entity["currency"] == row.measures.currency:
            values |= {
                "backlog": present(
                    entity["backlog"].get(entity["currency"], ZERO), "money", entity["currency"]
                ),
                "deferred_revenue": present(entity["deferred_revenue"], "money", entity["currency"]),
                "unbilled_revenue": present(entity["unbilled_revenue"], "money", entity["currency"]),
                "overdue_ar": present(entity["overdue_ar"], "money", entity["currency"]),
                "dso": entity["dso"],
                "dso_simple": entity["dso_simple"],
                "write_off_rate": present(entity["write_off_rate"], "percent"),
            }
        row_dicts.append(values)
    return {
        "from": start,
        "to": end,
        "group_by": group_by,
        "rows": row_dicts,
        "totals": total_rows,
        "win_rate": present(sales["win_rate"], "percent") if sales else None,
    }


# Firm balances a row carries only when its group is a legal entity (null otherwise).
ROW_BALANCES = (
    "backlog", "deferred_revenue", "unbilled_revenue", "overdue_ar", "dso", "dso_simple", "days_to_invoice",
    "days_to_invoice_p90", "write_off_rate", "bookings", "pipeline_weighted",
)  # fmt: skip


# Who reads the whole firm's KPIs; anyone else reads their own work only.
FIRM_READERS = (UserRole.EXECUTIVE, UserRole.FINANCE, UserRole.INTEGRATOR)


def scope_for(user) -> Person | None | bool:
    """None: the whole firm; a Person: only that person's work; False: nothing to show."""
    if has_role(user, *FIRM_READERS):
        return None
    person = Person.objects.filter(user=user).first() if user.is_authenticated else None
    return person or False


REPORT_COLUMNS = (
    "key", "name", "currency", "hours", "billable_hours", "available_hours", "utilization",
    "billable_utilization", "standard_value", "billed_value", "realization", "effective_rate", "revenue",
    "cost", "margin", "margin_percent", "wip", "backlog", "deferred_revenue", "unbilled_revenue",
    "overdue_ar", "dso", "dso_simple", "days_to_invoice", "days_to_invoice_p90", "write_off_rate", "bookings",
    "pipeline_weighted",
)  # fmt: skip


def report_table(report: dict):
    """The KPI report as a CSV table: the rows, then a total line per currency."""
    rows = [[row.get(column) for column in REPORT_COLUMNS] for row in report["rows"]]
    rows += [
        [None, f"Total {total['currency']}", *[total.get(column) for column in REPORT_COLUMNS[2:]]]
        for total in report["totals"]
    ]
    return list(REPORT_COLUMNS), rows
