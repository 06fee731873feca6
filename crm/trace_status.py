"""How a quote-to-cash trace reads: its steps (done, waiting, blocked, not started, and when each was
reached) and its blockers in words, from the figures `crm.trace` gathered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone

from billing.choices import InvoiceStatus
from core.money import quantize
from crm.choices import ContractStatus
from ledger.choices import DunningNoticeStatus
from projects.choices import EntryStatus, ProjectStatus

if TYPE_CHECKING:
    from crm.trace import Trace

ZERO = Decimal(0)
# Time that has passed approval: it counts as approved work whatever billing did with it since.
APPROVED_OR_LATER = (EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@dataclass
class Blocker:
    """Why the chain does not move at one step: `code` for machines, `message` for people."""

    step: str
    code: str
    message: str
    url: str = ""


@dataclass
class Step:
    """One link of the chain. `status`: done, waiting (reached but not finished), blocked or not_started."""

    key: str
    label: str
    status: str
    reached_at: datetime | None
    summary: str
    url: str = ""


def amount_text(amount: Decimal, currency: str) -> str:
    """ "1,500.00 USD": an amount at its currency's minor unit with its code, for sentences."""
    value = quantize(amount, currency)
    return f"{value:,} {currency}"


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _days_between(earlier, today: date) -> int:
    if earlier is None:
        return 0
    if isinstance(earlier, datetime):
        earlier = timezone.localtime(earlier).date()
    return (today - earlier).days


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _month_label(day: date) -> str:
    return day.strftime("%B %Y")


def _status_row(rows: list[dict], status: str) -> dict:
    return next(row for row in rows if row["status"] == status)


def blockers_of(trace: Trace, today: date) -> list[Blocker]:
    opportunity, contract = trace.opportunity, trace.contract
    if contract is None:
        days = _days_between(opportunity.stage_changed_at or opportunity.created_at, today)
        return [
            Blocker(
                "won",
                "not_won",
                f"not won yet: in stage {trace.stage_name} for {days} day{'s' if days != 1 else ''}",
                reverse("crm:opportunity-detail", args=[opportunity.pk]),
            )
        ]
    won = f"won {_ago(_days_between(opportunity.closed_at or contract.created_at, today))}"
    contract_url = reverse("crm:contract-detail", args=[contract.pk])
    blockers = []
    if not trace.projects:
        return [Blocker("project", "no_project", f"{won}, no project yet", contract_url)]
    if not any(project["active_since"] for project in trace.projects):
        codes = ", ".join(project["code"] for project in trace.projects)
        return [
            Blocker(
                "project",
                "project_planned",
                f"{won}, project {codes} is still planned",
                trace.projects[0]["url"],
            )
        ]
    approved = sum(_status_row(trace.time, status)["count"] for status in APPROVED_OR_LATER)
    submitted = _status_row(trace.time, EntryStatus.SUBMITTED)
    if not approved and not trace.invoices:
        message = f"{won}, no time approved yet"
        if submitted["count"]:
            message += f" ({submitted['hours']} h submitted, awaiting approval)"
        blockers.append(Blocker("time", "no_time_approved", message, reverse("projects:approvals")))
    if trace.over_cap["count"]:
        blockers.append(
            Blocker(
                "time",
                "over_cap",
                f"{amount_text(trace.over_cap['amount'], contract.currency)} over cap awaiting a decision",
                contract_url,
            )
        )
    month_start = today.replace(day=1)
    unbilled_since = [
        row["oldest_date"]
        for row in (
            _status_row(trace.time, EntryStatus.APPROVED),
            _status_row(trace.expenses, EntryStatus.APPROVED),
        )
        if row["oldest_date"] and row["oldest_date"] < month_start
    ]
    if unbilled_since:
        unbilled = (
            _status_row(trace.time, EntryStatus.APPROVED)["amount"]
            + _status_row(trace.expenses, EntryStatus.APPROVED)["amount"]
        )
        blockers.append(
            Blocker(
                "invoice",
                "billing_run_not_done",
                f"billing run for {_month_label(min(unbilled_since))} not done: "
                f"{amount_text(unbilled, contract.currency)} of approved work not invoiced",
                reverse("billing:runs"),
            )
        )
    for invoice in trace.invoices:
        if invoice["status"] == InvoiceStatus.DRAFT:
            days = _days_between(invoice["created_at"], today)
            blockers.append(
                Blocker(
                    "invoice",
                    "draft_not_released",
                    f"draft invoice #{invoice['id']} "
                    f"({amount_text(invoice['total_amount'], invoice['currency'])}) "
                    f"waiting for release for {days} day{'s' if days != 1 else ''}",
                    invoice["url"],
                )
            )
        elif invoice["days_overdue"]:
            level = invoice["dunning_level"]
            if not level:
                reminder = "no reminder sent yet"
            elif invoice["dunning_status"] == DunningNoticeStatus.SENT:
                reminder = f"{ORDINALS.get(level, f'level {level}')} notice sent"
            else:
                reminder = f"{ORDINALS.get(level, f'level {level}')} notice {invoice['dunning_status']}"
            blockers.append(
                Blocker(
                    "payment",
                    "invoice_overdue",
                    f"invoice {invoice['number']} overdue {invoice['days_overdue']} days, {reminder}",
                    invoice["url"],
                )
            )
    months = trace.revenue["months_not_run"]
    if months:
        planned = amount_text(sum((month["amount"] for month in months), ZERO), contract.currency)
        first, last = _month_label(months[0]["month"]), _month_label(months[-1]["month"])
        which = f"run for {first}" if len(months) == 1 else f"runs for {first} to {last}"
        blockers.append(
            Blocker(
                "revenue",
                "revenue_run_not_done",
                f"revenue {which} not done ({planned} planned)",
                reverse("revrec:runs"),
            )
        )
    return blockers


def is_complete(trace: Trace) -> bool:
    if trace.contract is None:
        return False
    open_ar = sum((row["balance_amount"] for row in trace.invoices), ZERO)
    unbilled = (
        _status_row(trace.time, EntryStatus.APPROVED)["count"]
        + _status_row(trace.expenses, EntryStatus.APPROVED)["count"]
    )
    delivered = trace.contract.status == ContractStatus.CLOSED or all(
        project["status"] == ProjectStatus.CLOSED for project in trace.projects
    )
    return (
        bool(trace.invoices)
        and delivered
        and not open_ar
        and not unbilled
        and not trace.revenue["planned_amount"]
    )


def _first(values):
    present = [value for value in values if value is not None]
    return min(present) if present else None


def steps_of(trace: Trace, blockers: list[Blocker]) -> list[Step]:
    blocked = {blocker.step for blocker in blockers}
    contract = trace.contract
    accepted = next((q for q in trace.quotes if q["status"] == "accepted"), None)
    latest = trace.quotes[-1] if trace.quotes else None
    time_done = [_status_row(trace.time, status) for status in APPROVED_OR_LATER]
    released = [
        row for row in trace.invoices if row["status"] not in (InvoiceStatus.DRAFT, InvoiceStatus.VOID)
    ]
    open_ar = sum((row["balance_amount"] for row in released), ZERO)
    currency = trace.currency

    def step(key, label, reached, finished, reached_at, summary, url=""):
        status = (
            "blocked" if key in blocked else "done" if finished else "waiting" if reached else "not_started"
        )
        return Step(key, label, status, reached_at, summary, url)

    hours = sum((row["hours"] for row in time_done), ZERO)
    return [
        step(
            "quote",
            "Quote",
            bool(latest),
            accepted is not None,
            accepted["accepted_at"] if accepted else None,
            f"version {latest['version']} {latest['status']}" if latest else "no quote (won from its lines)",
            latest["url"] if latest else "",
        ),
        step(
            "won",
            "Won",
            contract is not None,
            contract is not None,
            trace.opportunity.closed_at if contract else None,
            f"stage {trace.stage_name}",
            reverse("crm:opportunity-detail", args=[trace.opportunity.pk]),
        ),
        step(
            "contract",
            "Contract",
            contract is not None,
            contract is not None,
            contract.created_at if contract else None,
            f"{contract.number} version {contract.version}, {contract.status}" if contract else "none yet",
            reverse("crm:contract-detail", args=[contract.pk]) if contract else "",
        ),
        step(
            "project",
            "Project",
            bool(trace.projects),
            any(p["active_since"] for p in trace.projects),
            _first(p["active_since"] for p in trace.projects),
            ", ".join(f"{p['code']} {p['status']}" for p in trace.projects) or "none yet",
            trace.projects[0]["url"] if trace.projects else "",
        ),
        step(
            "time",
            "Time approved",
            any(row["count"] for row in trace.time),
            bool(hours),
            _first(row["first_approved_at"] for row in time_done),
            f"{hours} h approved" if hours else "no approved time",
        ),
        step(
            "invoice",
            "Invoiced",
            bool(trace.invoices),
            bool(released),
            _first(row["released_at"] for row in released),
            f"{len(released)} released, {len(trace.invoices) - len(released)} other"
            if trace.invoices
            else "none yet",
        ),
        step(
            "payment",
            "Paid",
            bool(trace.payments),
            bool(released) and not open_ar,
            _first(_start_of(row["date"]) for row in trace.payments),
            f"{amount_text(open_ar, currency)} open" if released else "nothing to pay yet",
        ),
        step(
            "revenue",
            "Revenue recognised",
            bool(trace.revenue["recognized_amount"]),
            bool(trace.revenue["recognized_amount"]) and not trace.revenue["planned_amount"],
            trace.revenue["first_recognized_at"],
            f"{amount_text(trace.revenue['recognized_amount'], currency)} recognised, "
            f"{amount_text(trace.revenue['planned_amount'], currency)} planned",
        ),
        step(
            "journal",
            "Journal entries",
            bool(trace.journal),
            bool(trace.journal),
            _first(row["first_posted_at"] for row in trace.journal),
            f"{sum(row['count'] for row in trace.journal)} posted" if trace.journal else "none yet",
        ),
    ]


def sentence(blockers: list[Blocker]) -> str:
    text = "; ".join(blocker.message for blocker in blockers)
    return text[:1].upper() + text[1:] + "."
