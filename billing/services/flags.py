"""Anomaly flags a reviewer sees on a draft invoice before releasing it.

The invoice-anomaly insights (`insights.detectors.invoices`) apply the same rules to released invoices:
`deviation_from`, `rate_mismatches` and `unassigned_people` are shared.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, Sum

from billing.choices import HoldStatus, InvoiceStatus, SourceType
from billing.models import Invoice, InvoiceLine, OverCapEntry
from core.money import format_money
from ledger.models import ArItem
from projects.choices import EntryStatus, RateSource
from projects.models import Assignment, Project, ProjectRateOverride, TimeEntry
from projects.selectors.rates import RateBook

ZERO = Decimal(0)
DEVIATION = Decimal("0.30")
STALE_DAYS = 60
ISSUED = (InvoiceStatus.RELEASED, InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


def _previous_totals(invoices) -> dict[int, list[Decimal]]:
    contracts = {invoice.contract_id for invoice in invoices if invoice.contract_id}
    previous: dict[int, list[Decimal]] = defaultdict(list)
    rows = (
        Invoice.objects.filter(contract_id__in=contracts, status__in=ISSUED)
        .order_by("contract_id", "-issue_date", "-id")
        .values_list("contract_id", "total_amount")
    )
    for contract_id, total in rows:
        if len(previous[contract_id]) < 3:
            previous[contract_id].append(total)
    return previous


def deviation_from(total: Decimal, history: list[Decimal]) -> Decimal | None:
    """The mean of `history` when `total` is more than 30% off it; None otherwise (or with no history)."""
    if not history:
        return None
    mean = sum(history, ZERO) / len(history)
    if mean and abs(total - mean) > mean * DEVIATION:
        return mean
    return None


@dataclass(frozen=True)
class RateMismatch:
    """A time line billed at a rate neither the rate card nor a project rate override gives its role."""

    description: str
    billed_rate: Decimal
    card_rate: Decimal
    on: date


@dataclass(frozen=True)
class UnassignedTime:
    """Time of a person billed on a line although they were not assigned to the project on those days."""

    person: str
    project: str
    hours: Decimal
    first_date: date
    last_date: date


def _time_lines_checked(invoices) -> dict:
    """The projects the invoices' time lines may name, their rate book, and the time of unassigned people
    the lines may bill: entries linked to a saved invoice's lines, or approved entries not billed yet (a
    draft being written). Five or six queries for the whole set of invoices."""
    contracts = {invoice.contract_id for invoice in invoices if invoice.contract_id}
    projects = list(
        Project.objects.filter(Q(contract_id__in=contracts) | Q(pk__in={i.project_id for i in invoices}))
    )
    project_ids = [project.pk for project in projects]
    people = set(
        ProjectRateOverride.objects.filter(project_id__in=project_ids).values_list("person_id", flat=True)
    )
    saved = [invoice.pk for invoice in invoices if invoice.pk]
    assigned = Assignment.objects.filter(
        person_id=OuterRef("person_id"),
        project_id=OuterRef("project_id"),
        start__lte=OuterRef("date"),
        end__gte=OuterRef("date"),
    )
    entries = (
        TimeEntry.objects.filter(project_id__in=project_ids, project__allow_any_person=False)
        .filter(
            Q(billing__isnull=True, status=EntryStatus.APPROVED)
            | Q(billing__invoice_line__invoice_id__in=saved)
        )
        .filter(~Exists(assigned), Exists(Assignment.objects.filter(project_id=OuterRef("project_id"))))
        .values(
            "person__name",
            "project_id",
            "project__code",
            "role_id",
            "bill_rate",
            "date",
            "hours",
            "billing__invoice_line_id",
        )  # fmt: skip
    )
    return {
        "projects": {project.pk: project for project in projects},
        "book": RateBook(projects, people),
        "unassigned": list(entries) if project_ids else [],
    }


@dataclass
class FlagContext:
    """What flagging a set of drafts reads from the database, read once for all of them."""

    previous: dict[int, list[Decimal]]
    over_cap: set[int]
    open_ar: dict[tuple[int, str], Decimal]
    lines: dict = field(default_factory=dict)


def _time_lines(lines):
    return [
        line
        for line in lines
        if line.source_type == SourceType.TIME and line.project_id and line.role_id and line.period_end
    ]


def rate_mismatches(lines, context: FlagContext) -> list[RateMismatch]:
    """Time lines whose rate (as the run priced it, before any reasoned edit) is not the rate card's rate
    for the line's role on the first or last day it bills, nor a project rate override valid then.
    Lines of a role no card prices are left alone (the zero-rate flag speaks for them)."""
    found = []
    book = context.lines["book"]
    for line in _time_lines(lines):
        project = context.lines["projects"].get(line.project_id)
        if project is None:
            continue
        billed = line.original_unit_price if line.original_unit_price is not None else line.unit_price
        first = line.period_start or line.period_end
        card = {}
        for day in (first, line.period_end):
            rate, source = book.bill_rate(None, project, line.role_id, day)
            if source != RateSource.NONE:
                card[day] = rate
        if not card:
            continue
        overrides = {
            row["rate"]
            for (project_id, _), rows in book.overrides.items()
            if project_id == project.pk
            for row in rows
            if row["valid_from"] <= line.period_end and (row["valid_to"] is None or row["valid_to"] >= first)
        }
        if billed not in set(card.values()) | overrides:
            on = max(card)
            found.append(RateMismatch(line.description, billed, card[on], on))
    return found


def unassigned_people(lines, context: FlagContext) -> list[UnassignedTime]:
    """Per person and project, the time the lines bill of people not assigned to the project that day.
    Projects open to anyone, and projects with no assignment at all (not staffed through assignments),
    are left alone. A saved line's entries are its links; a line being written bills
    the approved unbilled entries of its project, role and rate within its dates."""
    totals: dict[tuple[str, str], list] = {}
    for line in _time_lines(lines):
        first = line.period_start or line.period_end
        for row in context.lines["unassigned"]:
            if line.pk:
                billed = row["billing__invoice_line_id"] == line.pk
            else:
                billed = (
                    row["billing__invoice_line_id"] is None
                    and (row["project_id"], row["role_id"], row["bill_rate"])
                    == (line.project_id, line.role_id, line.unit_price)
                    and first <= row["date"] <= line.period_end
                )
            if billed:
                key = (row["person__name"], row["project__code"])
                total = totals.setdefault(key, [ZERO, row["date"], row["date"]])
                total[0] += row["hours"]
                total[1], total[2] = min(total[1], row["date"]), max(total[2], row["date"])
    return [
        UnassignedTime(person, project, hours, first, last)
        for (person, project), (hours, first, last) in sorted(totals.items())
    ]


def rate_message(found: list[RateMismatch], currency: str) -> str:
    return "; ".join(
        f"“{item.description}” bills {format_money(item.billed_rate, currency)} an hour, the rate card "
        f"{format_money(item.card_rate, currency)} on {item.on.isoformat()}"
        for item in found
    )


def unassigned_message(found: list[UnassignedTime]) -> str:
    return "; ".join(
        f"{item.person} was not assigned to {item.project} for {item.hours.normalize():f} h billed "
        f"({item.first_date.isoformat()} to {item.last_date.isoformat()})"
        for item in found
    )


def flag_context(invoices, *, over_cap_contracts=()) -> FlagContext:
    """The contracts' recent issued totals, the contracts with time held over a cap (plus
    `over_cap_contracts`: holds being written in the same transaction), and the open AR of clients with
    a credit limit."""
    contracts = {invoice.contract_id for invoice in invoices}
    over_cap = set(
        OverCapEntry.objects.filter(plan__contract_id__in=contracts, status=HoldStatus.HELD).values_list(
            "plan__contract_id", flat=True
        )
    ) | set(over_cap_contracts)
    limited = {invoice.account.pk for invoice in invoices if invoice.account.credit_limit is not None}
    open_ar = defaultdict(lambda: ZERO)
    if limited:
        for client_id, currency, total in (
            ArItem.objects.filter(client_id__in=limited)
            .values("client_id", "currency")
            .annotate(total=Sum("open_amount"))
            .values_list("client_id", "currency", "total")
        ):
            open_ar[(client_id, currency)] += total or ZERO
    return FlagContext(
        previous=_previous_totals(invoices),
        over_cap=over_cap,
        open_ar=open_ar,
        lines=_time_lines_checked(invoices),
    )


def flags_for(invoice, lines, context: FlagContext) -> list[dict]:
    """A draft's flags: total off the contract's recent invoices by more than 30%, a line at rate 0, a
    time line off the rate card, time of a person not assigned to the project, time held over a cap,
    work older than 60 days, a client over its limit. `lines` are the draft's lines (saved or not)."""
    found = []
    history = context.previous.get(invoice.contract_id, [])
    mean = deviation_from(invoice.total_amount, history)
    if mean is not None:
        found.append(
            {
                "code": "deviation",
                "message": f"Total {format_money(invoice.total_amount, invoice.currency)} "
                "is more than 30% "
                f"off the mean of the last {len(history)} invoices "
                f"({format_money(mean, invoice.currency)}).",
            }
        )
    zero = [line for line in lines if line.unit_price == 0 and line.source_type != SourceType.MANUAL]
    if zero:
        found.append({"code": "zero_rate", "message": f"{len(zero)} line(s) at a rate of 0."})
    mismatched = rate_mismatches(lines, context)
    if mismatched:
        found.append({"code": "rate_mismatch", "message": rate_message(mismatched, invoice.currency) + "."})
    unassigned = unassigned_people(lines, context)
    if unassigned:
        found.append({"code": "unassigned_person", "message": unassigned_message(unassigned) + "."})
    if invoice.contract_id in context.over_cap:
        found.append(
            {"code": "over_cap", "message": "Time of this contract is held over its not-to-exceed cap."}
        )
    if invoice.period_end:
        oldest = min(
            (
                line.period_start
                for line in lines
                if line.period_start and line.source_type in (SourceType.TIME, SourceType.EXPENSE)
            ),
            default=None,
        )
        if oldest and oldest < invoice.period_end - timedelta(days=STALE_DAYS):
            found.append(
                {
                    "code": "stale_work",
                    "message": f"Includes work from {oldest}, more than {STALE_DAYS} days old.",
                }
            )
    account = invoice.account
    if account.credit_limit is not None:
        exposure = context.open_ar[(account.pk, invoice.currency)] + invoice.total_amount
        if exposure > account.credit_limit:
            found.append(
                {
                    "code": "credit_limit",
                    "message": f"{account.name} would owe "
                    f"{format_money(exposure, invoice.currency)}, over its "
                    f"credit limit of {format_money(account.credit_limit, invoice.currency)}.",
                }
            )
    return found


def invoice_flags(invoices) -> dict[int, list[dict]]:
    """{invoice id: [{"code", "message"}]} for saved drafts (see `flags_for`)."""
    invoices = [invoice for invoice in invoices if invoice.pk]
    if not invoices:
        return {}
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=[invoice.pk for invoice in invoices]).only(
        "invoice_id",
        "source_type",
        "unit_price",
        "original_unit_price",
        "period_start",
        "period_end",
        "description",
        "project_id",
        "role_id",
    ):
        lines[line.invoice_id].append(line)
    context = flag_context(invoices)
    return {invoice.pk: flags_for(invoice, lines[invoice.pk], context) for invoice in invoices}


def refresh_flags(invoices) -> None:
    invoices = [invoice for invoice in invoices if invoice.pk]
    if not invoices:
        return
    for invoice in invoices:
        if "account" not in invoice._state.fields_cache:
            invoice.account  # noqa: B018 - one query per invoice is fine below the run's chunk size
    found = invoice_flags(invoices)
    for invoice in invoices:
        invoice.flags = found.get(invoice.pk, [])
    Invoice.objects.bulk_update(invoices, ["flags"])
