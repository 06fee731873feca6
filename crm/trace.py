"""The quote-to-cash trace of one opportunity: every step the deal produced (quotes, contract versions,
projects, time and expenses by status, invoices with their dunning, payments, recognised revenue, journal
entries), when each was reached, and where the chain is stuck, in words (`crm.trace_status` reads it).

Each step is read with one aggregate query over its table (about fifteen queries for any deal), never a
query per time entry, invoice or schedule line.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from billing.choices import HoldStatus, InvoiceStatus
from billing.models import Invoice, OverCapEntry
from core.models import Event
from core.money import quantize
from crm.choices import RevenueMethod
from crm.models import Contract, Opportunity, PipelineStage
from crm.trace_status import Blocker, Step, blockers_of, is_complete, sentence, steps_of
from ledger.choices import ArItemKind
from ledger.models import Allocation, DunningNoticeItem, JournalEntry, JournalLine, Payment
from projects.choices import EntryStatus, ProjectStatus
from projects.models import Expense, Project, TimeEntry
from revrec.choices import LineStatus
from revrec.models import RevenueRun, RevenueScheduleLine

ZERO = Decimal(0)
HOURS = Decimal("0.01")
ENTRY_STATUSES = [status.value for status in EntryStatus]


@dataclass
class Trace:
    opportunity: Opportunity
    stage_name: str
    currency: str
    state: str
    stuck: str
    steps: list[Step]
    blockers: list[Blocker]
    quotes: list[dict] = field(default_factory=list)
    contract: Contract | None = None
    versions: list[dict] = field(default_factory=list)
    projects: list[dict] = field(default_factory=list)
    time: list[dict] = field(default_factory=list)
    expenses: list[dict] = field(default_factory=list)
    over_cap: dict = field(default_factory=dict)
    invoices: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    revenue: dict = field(default_factory=dict)
    journal: list[dict] = field(default_factory=list)


def _quotes(opportunity: Opportunity) -> list[dict]:
    rows = opportunity.quotes.order_by("version").values(
        "id", "version", "status", "currency", "total_amount", "created_at", "submitted_at", "approved_at",
        "accepted_at",
    )  # fmt: skip
    return [row | {"url": reverse("crm:quote-detail", args=[row["id"]])} for row in rows]


def _projects(contract: Contract) -> list[dict]:
    rows = list(
        Project.objects.filter(contract=contract)
        .order_by("id")
        .values("id", "code", "name", "status", "currency", "start", "end", "created_at")
    )
    if not rows:
        return rows
    # When a project became active: its move out of planned, else (created active) its creation.
    activated = dict(
        Event.objects.filter(
            type="project.status_changed",
            subject_type="projects.project",
            subject_id__in=[str(row["id"]) for row in rows],
            data__from=ProjectStatus.PLANNED,
            data__to=ProjectStatus.ACTIVE,
        )
        .values("subject_id")
        .annotate(first=Min("occurred_at"))
        .values_list("subject_id", "first")
    )
    for row in rows:
        first = activated.get(str(row["id"]))
        if first is None and row["status"] != ProjectStatus.PLANNED:
            first = row["created_at"]
        row["active_since"] = first
        row["url"] = reverse("projects:detail", args=[row["id"]])
    return rows


def _by_status(rows, currency: str) -> list[dict]:
    """Every entry status in its order, zeros included, from {status: aggregate row}."""
    found = {row["effective"]: row for row in rows}
    result = []
    for status in ENTRY_STATUSES:
        row = found.get(status, {})
        result.append(
            {
                "status": status,
                "label": EntryStatus(status).label,
                "count": row.get("count", 0),
                "hours": (row.get("hours") or ZERO).quantize(HOURS),
                "amount": quantize(row.get("amount") or ZERO, currency),
                "currency": currency,
                "first_approved_at": row.get("first_approved_at"),
                "oldest_date": row.get("oldest_date"),
            }
        )
    return result


def _effective_status():
    """Billing never rewrites the rows it bills (its link table is the bill-once record): an approved
    entry with a billing link reads `billed`, as in the projects API."""
    billed = When(status=EntryStatus.APPROVED, billing__isnull=False, then=Value(EntryStatus.BILLED.value))
    return Case(billed, default=F("status"), output_field=CharField())


def _time(project_ids: list[int], currency: str) -> list[dict]:
    value = ExpressionWrapper(
        F("hours") * F("bill_rate"), output_field=DecimalField(max_digits=30, decimal_places=8)
    )
    rows = (
        TimeEntry.objects.filter(project_id__in=project_ids)
        .annotate(effective=_effective_status())
        .values("effective")
        .order_by()
        .annotate(
            # Before `hours`, which would shadow the column in the product.
            amount=Sum(value, filter=Q(billable=True)),
            count=Count("id"),
            hours=Sum("hours"),
            first_approved_at=Min("approved_at"),
            oldest_date=Min("date", filter=Q(billable=True)),
        )
    )
    return _by_status(rows, currency)


def _expenses(project_ids: list[int], currency: str) -> list[dict]:
    rows = (
        Expense.objects.filter(project_id__in=project_ids)
        .annotate(effective=_effective_status())
        .values("effective")
        .order_by()
        .annotate(
            count=Count("id"),
            amount=Sum("converted_amount"),
            first_approved_at=Min("approved_at"),
            oldest_date=Min("date", filter=Q(billable=True)),
        )
    )
    return _by_status(rows, currency)


def _over_cap(contract: Contract) -> dict:
    held = OverCapEntry.objects.filter(plan__contract=contract, status=HoldStatus.HELD).aggregate(
        count=Count("time_entry_id"), hours=Sum("hours"), amount=Sum("amount"), since=Min("created_at")
    )
    return {
        "count": held["count"],
        "hours": held["hours"] or ZERO,
        "amount": quantize(held["amount"] or ZERO, contract.currency),
        "currency": contract.currency,
        "since": held["since"],
    }


def _invoices(contract: Contract, today: date) -> list[dict]:
    invoices = list(
        Invoice.objects.filter(contract=contract)
        .order_by("id")
        .values(
            "id", "number", "status", "currency", "issue_date", "due_date", "subtotal_amount",
            "tax_amount", "total_amount", "created_at", "released_at", "journal_entry_id", "ar_item_id",
            "ar_item__open_amount",
        )
    )  # fmt: skip
    ar_ids = [row["ar_item_id"] for row in invoices if row["ar_item_id"]]
    notices: dict[int, dict] = {}
    for item in (
        DunningNoticeItem.objects.filter(ar_item_id__in=ar_ids)
        .order_by("level")
        .values("ar_item_id", "level", "notice_id", "notice__status", "notice__sent_at")
    ):
        notices[item["ar_item_id"]] = item
    for row in invoices:
        released = row["status"] != InvoiceStatus.DRAFT
        balance = (
            row["ar_item__open_amount"] if row["ar_item_id"] else (row["total_amount"] if released else ZERO)
        )
        if row["status"] == InvoiceStatus.VOID:
            balance = ZERO
        row["balance_amount"] = balance
        if released and row["ar_item_id"] and row["status"] != InvoiceStatus.VOID:
            row["status"] = (
                InvoiceStatus.PAID
                if balance == 0
                else InvoiceStatus.PARTIALLY_PAID
                if balance < row["total_amount"]
                else row["status"]
            )
        overdue = bool(released and balance > 0 and row["due_date"] and row["due_date"] < today)
        row["days_overdue"] = (today - row["due_date"]).days if overdue else 0
        notice = notices.get(row["ar_item_id"])
        row["dunning_level"] = notice["level"] if notice else 0
        row["dunning_status"] = notice["notice__status"] if notice else ""
        row["dunning_sent_at"] = notice["notice__sent_at"] if notice else None
        row["url"] = reverse(
            "billing:invoice-detail" if released else "billing:draft-detail", args=[row["id"]]
        )
    return invoices


def _payments(invoices: list[dict]) -> list[dict]:
    """Payments applied to the contract's invoices: per payment, what it applied to them (net of
    reversed allocations) and when."""
    ar_ids = [row["ar_item_id"] for row in invoices if row["ar_item_id"]]
    if not ar_ids:
        return []
    numbers = {row["ar_item_id"]: row["number"] for row in invoices}
    payments: dict[int, dict] = {}
    for row in (
        Allocation.objects.filter(debit_item_id__in=ar_ids, credit_item__kind=ArItemKind.PAYMENT)
        .values("credit_item_id", "debit_item_id")
        .order_by()
        .annotate(amount=Sum("amount"), first=Min("date"))
        .values("credit_item_id", "debit_item_id", "amount", "first", "credit_item__currency")
    ):
        payment = payments.setdefault(
            row["credit_item_id"],
            {
                "currency": row["credit_item__currency"],
                "applied_amount": ZERO,
                "first": row["first"],
                "allocations": [],
            },
        )
        payment["applied_amount"] += row["amount"]
        payment["first"] = min(payment["first"], row["first"])
        payment["allocations"].append({"invoice": numbers[row["debit_item_id"]], "amount": row["amount"]})
    found = Payment.objects.filter(ar_item_id__in=payments).values(
        "id", "ar_item_id", "date", "amount", "currency", "reference", "journal_entry_id"
    )
    result = []
    for row in found.order_by("date", "id"):
        applied = payments[row["ar_item_id"]]
        result.append(
            row
            | {
                "applied_amount": applied["applied_amount"],
                "allocations": applied["allocations"],
                "url": reverse("ledger:payment-detail", args=[row["id"]]),
            }
        )
    return result


def _revenue(contract: Contract, today: date) -> dict:
    rows = list(
        RevenueScheduleLine.objects.filter(obligation__contract=contract)
        .values("status", "run_id", "period_end", "obligation__method")
        .order_by()
        .annotate(amount=Sum("amount"), first=Min("recognized_at"))
    )
    run_ids = {row["run_id"] for row in rows if row["run_id"]}
    runs = {
        run["id"]: run
        for run in RevenueRun.objects.filter(pk__in=run_ids).values(
            "id", "period_end", "status", "finished_at"
        )
    }
    recognized = sum((r["amount"] for r in rows if r["status"] == LineStatus.RECOGNIZED), ZERO)
    planned = sum((r["amount"] for r in rows if r["status"] == LineStatus.PLANNED), ZERO)
    by_run: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["run_id"]:
            by_run[row["run_id"]] += row["amount"]
    overdue_months: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        # Only ratable revenue is due by the calendar; milestones wait for acceptance, not for a run.
        ratable = row["obligation__method"] == RevenueMethod.RATABLE
        if ratable and row["status"] == LineStatus.PLANNED and row["period_end"] < today and row["amount"]:
            overdue_months[row["period_end"].replace(day=1)] += row["amount"]
    first = [row["first"] for row in rows if row["first"]]
    currency = contract.currency
    return {
        "currency": currency,
        "recognized_amount": quantize(recognized, currency),
        "planned_amount": quantize(planned, currency),
        "first_recognized_at": min(first) if first else None,
        "runs": [
            runs[run_id]
            | {"amount": quantize(amount, currency), "url": reverse("revrec:run-detail", args=[run_id])}
            for run_id, amount in sorted(by_run.items())
        ],
        "months_not_run": [
            {"month": month, "amount": quantize(amount, currency)}
            for month, amount in sorted(overdue_months.items())
        ],
    }


def _journal(project_ids: list[int], invoices: list[dict], payments: list[dict]) -> list[dict]:
    """Entries that carry the deal's projects on a line, plus its invoices' and payments' own entries
    (a payment's entry is counted whole, even when it also paid other invoices)."""
    direct = [row["journal_entry_id"] for row in [*invoices, *payments] if row.get("journal_entry_id")]
    entries = JournalEntry.objects.filter(Q(pk__in=direct) | Q(lines__project_id__in=project_ids)).values(
        "pk"
    )
    rows = (
        JournalLine.objects.filter(entry_id__in=entries)
        .values("entry__source_type", "currency")
        .order_by("entry__source_type", "currency")
        .annotate(entries=Count("entry_id", distinct=True), debit=Sum("debit"), first=Min("entry__posted_at"))
    )
    return [
        {
            "source_type": row["entry__source_type"],
            "currency": row["currency"],
            "count": row["entries"],
            "debit_amount": quantize(row["debit"] or ZERO, row["currency"]),
            "first_posted_at": row["first"],
        }
        for row in rows
    ]


def opportunity_trace(opportunity: Opportunity, *, today: date | None = None) -> Trace:
    """The chain `opportunity` produced so far, its steps and its blockers (see the module docstring)."""
    today = today or timezone.localdate()
    stage_name = PipelineStage.objects.filter(code=opportunity.stage).values_list("name", flat=True).first()
    contract = Contract.objects.filter(opportunity=opportunity).first()
    currency = contract.currency if contract else opportunity.currency
    trace = Trace(
        opportunity=opportunity,
        stage_name=stage_name or opportunity.stage,
        currency=currency,
        state="",
        stuck="",
        steps=[],
        blockers=[],
        quotes=_quotes(opportunity),
        contract=contract,
        time=_by_status([], currency),
        expenses=_by_status([], currency),
        over_cap={"count": 0, "hours": ZERO, "amount": ZERO, "currency": currency, "since": None},
        revenue={
            "currency": currency,
            "recognized_amount": ZERO,
            "planned_amount": ZERO,
            "first_recognized_at": None,
            "runs": [],
            "months_not_run": [],
        },
    )
    if contract is not None:
        trace.versions = list(
            contract.versions.order_by("number").values("number", "reason", "total_amount", "created_at")
        )
        trace.projects = _projects(contract)
        project_ids = [row["id"] for row in trace.projects]
        trace.time = _time(project_ids, currency)
        trace.expenses = _expenses(project_ids, currency)
        trace.over_cap = _over_cap(contract)
        trace.invoices = _invoices(contract, today)
        trace.payments = _payments(trace.invoices)
        trace.revenue = _revenue(contract, today)
        trace.journal = _journal(project_ids, trace.invoices, trace.payments)
    if opportunity.stage == Opportunity.Stage.LOST:
        trace.state = "lost"
        trace.stuck = f"Lost: {opportunity.lost_reason or 'no reason given'}. The chain ends here."
    else:
        trace.blockers = blockers_of(trace, today)
        if trace.blockers:
            trace.state = "open" if contract is None else "stuck"
            trace.stuck = sentence(trace.blockers)
        elif is_complete(trace):
            trace.state = "complete"
            trace.stuck = "Complete: delivered, invoiced, paid and recognised."
        else:
            trace.state = "flowing"
            trace.stuck = "Flowing: nothing is stuck."
    trace.steps = steps_of(trace, trace.blockers)
    return trace
