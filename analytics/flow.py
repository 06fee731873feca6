"""Flow health: how fast work moves through quote-to-cash, and the exceptions piling up on the way.

Four stages, each a pair of timestamps per item, measured in the month the item finished the stage:
- win → project active: a won deal's project (its move out of planned, or its creation when it was
  created active by the handoff), from the moment the deal was won;
- time approval → invoice release: each billed time entry, from its approval to its invoice's release;
- invoice release → payment: each paid invoice, from its issue date to the payment that settled it;
- period end → period close: each closed fiscal period, from the end of its last day to its first close.

Per month of the last twelve: throughput (items) and latency median and p90 in days. On PostgreSQL the
percentiles are `percentile_cont` in SQL; elsewhere (SQLite, the demo) the same interpolation runs in
Python over the window's rows.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    CharField,
    DateField,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.urls import reverse
from django.utils import timezone

from billing.choices import HoldStatus, InvoiceStatus
from billing.choices import RunStatus as BillingRunStatus
from billing.models import BillingRun, Invoice, OverCapEntry, TimeEntryBilling
from core.models import AuditEvent, Event, WebhookDelivery
from crm.choices import StageOutcome
from crm.models import Contract, Opportunity, PipelineStage
from ledger.choices import ArItemKind, DunningRunStatus
from ledger.models import Allocation, DunningRun, FiscalPeriod, PeriodCloseReport
from projects.choices import EntryStatus, ProjectStatus
from projects.models import Project, TimeEntry
from revrec.choices import RunStatus as RevenueRunStatus
from revrec.models import RevenueRun

DAY_SECONDS = 86400
MONTHS = 12
# A run still pending or running after this long is stuck (its worker died, or the queue is not served).
STUCK_AFTER = timedelta(hours=2)
# The rows behind an exception listed on its page.
ROWS_SHOWN = 200
DAYS = Decimal("0.1")


class Seconds(Func):
    """Seconds from `start` to `end` (dates or timestamps), as a float: `Seconds(end, start)`."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        end, start = (compiler.compile(expression) for expression in self.get_source_expressions())
        sql = f"EXTRACT(EPOCH FROM (CAST({end[0]} AS timestamptz) - CAST({start[0]} AS timestamptz)))"
        return sql, (*end[1], *start[1])

    def as_sqlite(self, compiler, connection, **extra):
        end, start = (compiler.compile(expression) for expression in self.get_source_expressions())
        return f"((julianday({end[0]}) - julianday({start[0]})) * {DAY_SECONDS})", (*end[1], *start[1])


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    description: str


STAGES = [
    Stage("win_to_active", "Win → project active", "From the deal's win to its project becoming active."),
    Stage(
        "approval_to_release",
        "Time approval → invoice release",
        "From each billed time entry's approval to the release of the invoice that bills it.",
    ),
    Stage(
        "release_to_payment",
        "Invoice release → payment",
        "From each paid invoice's issue date to the payment that settled it.",
    ),
    Stage(
        "period_to_close",
        "Period end → close",
        "From the end of a fiscal period's last day to its first close.",
    ),
]


def _win_to_active():
    became_active = (
        Event.objects.filter(
            type="project.status_changed",
            subject_type="projects.project",
            subject_id=Cast(OuterRef("pk"), CharField()),
            data__from=ProjectStatus.PLANNED,
            data__to=ProjectStatus.ACTIVE,
        )
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    return (
        Project.objects.filter(contract__opportunity__closed_at__isnull=False)
        .exclude(status=ProjectStatus.PLANNED)
        .annotate(
            started=F("contract__opportunity__closed_at"),
            finished=Coalesce(Subquery(became_active), "created_at"),
        )
    )


def _approval_to_release():
    return TimeEntryBilling.objects.filter(
        invoice_line__invoice__released_at__isnull=False, time_entry__approved_at__isnull=False
    ).annotate(started=F("time_entry__approved_at"), finished=F("invoice_line__invoice__released_at"))


def _release_to_payment():
    settled_on = (
        Allocation.objects.filter(debit_item=OuterRef("ar_item_id"), credit_item__kind=ArItemKind.PAYMENT)
        .order_by("-date")
        .values("date")[:1]
    )
    return (
        Invoice.objects.filter(ar_item__open_amount=0, issue_date__isnull=False)
        .exclude(status=InvoiceStatus.VOID)
        .annotate(started=F("issue_date"), finished=Subquery(settled_on))
        .filter(finished__isnull=False)
    )


def _period_to_close():
    first_close = (
        PeriodCloseReport.objects.filter(period=OuterRef("pk")).order_by("closed_at").values("closed_at")[:1]
    )
    return FiscalPeriod.objects.annotate(started=F("end"), finished=Subquery(first_close)).filter(
        finished__isnull=False
    )


# A period ends when its last day does: its latency counts from the next midnight.
SHIFT_SECONDS = {"period_to_close": DAY_SECONDS}
STAGE_ROWS = {
    "win_to_active": _win_to_active,
    "approval_to_release": _approval_to_release,
    "release_to_payment": _release_to_payment,
    "period_to_close": _period_to_close,
}


def window(today: date) -> list[date]:
    """The first days of the last `MONTHS` months, oldest first, this month last."""
    months = []
    year, month = today.year, today.month
    for _ in range(MONTHS):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def percentile(values: list[float], fraction: float) -> float:
    """`percentile_cont`: linear interpolation between the two closest ranks of the sorted values."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _days(seconds) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / DAY_SECONDS).quantize(DAYS, rounding=ROUND_HALF_UP)


def _latencies(key: str, since: date):
    """(month, seconds) of every item that finished `key` since `since`, as a queryset."""
    rows = STAGE_ROWS[key]()
    seconds = Seconds(F("finished"), F("started"))
    if key in SHIFT_SECONDS:
        seconds = ExpressionWrapper(seconds - Value(float(SHIFT_SECONDS[key])), output_field=FloatField())
    finished = rows.query.annotations["finished"].output_field
    if not isinstance(finished, DateField) or isinstance(finished, DateTimeField):
        since = timezone.make_aware(datetime.combine(since, time.min))
    return (
        rows.filter(finished__gte=since)
        .annotate(month=TruncMonth("finished"), seconds=seconds)
        .values("month", "seconds")
        .order_by()
    )


def _month_of(value) -> date:
    if hasattr(value, "date") and callable(value.date):
        return timezone.localtime(value).date().replace(day=1) if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


LATENCY_SELECT = (
    "SELECT month, COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), "
    "percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)"
)


def _in_sql(rows) -> dict[date, tuple[int, float, float]]:
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        # The inner query is Django's own compilation; its values stay in `params`.
        cursor.execute(f"{LATENCY_SELECT} FROM ({sql}) AS stage GROUP BY month", params)  # noqa: S608
        return {_month_of(month): (count, median, p90) for month, count, median, p90 in cursor.fetchall()}


def _in_python(rows) -> dict[date, tuple[int, float, float]]:
    by_month: dict[date, list[float]] = defaultdict(list)
    for row in rows:
        by_month[_month_of(row["month"])].append(row["seconds"])
    return {
        month: (len(values), percentile(values, 0.5), percentile(values, 0.9))
        for month, values in by_month.items()
    }


def stage_health(today: date | None = None, *, in_sql: bool | None = None) -> list[dict]:
    """Per stage: its months with throughput and latency (median, p90, in days), and the window's totals."""
    today = today or timezone.localdate()
    months = window(today)
    in_sql = connection.vendor == "postgresql" if in_sql is None else in_sql
    result = []
    for stage in STAGES:
        rows = _latencies(stage.key, months[0])
        found = _in_sql(rows) if in_sql else _in_python(rows)
        series = []
        for month in months:
            count, median, p90 = found.get(month, (0, None, None))
            series.append(
                {"month": month, "count": count, "median_days": _days(median), "p90_days": _days(p90)}
            )
        result.append({"stage": stage, "months": series, "count": sum(row["count"] for row in series)})
    return result


@dataclass(frozen=True)
class ExceptionKind:
    key: str
    label: str
    description: str


EXCEPTIONS = [
    ExceptionKind(
        "handoff_refused",
        "Handoffs refused",
        "Deals whose win was refused (the handoff found problems to fix first) and that are still not won.",
    ),
    ExceptionKind(
        "handoff_incomplete",
        "Won deals without a project",
        "The win made a contract but delivery has no project for it (a refused handoff rolls back whole, so "
        "these are the deals the handoff left half done).",
    ),
    ExceptionKind(
        "over_cap",
        "Time over cap",
        "Time held over a not-to-exceed cap, waiting for a write-off or a change order.",
    ),
    ExceptionKind(
        "rejected_time",
        "Rejected time not resubmitted",
        "Time entries rejected by a manager and still with the consultant.",
    ),
    ExceptionKind(
        "dead_webhooks", "Failed webhook deliveries", "Deliveries dead-lettered after their last retry."
    ),
    ExceptionKind(
        "runs_failed_or_stuck",
        "Runs failed or stuck",
        "Billing, revenue and dunning runs that failed, or are pending or running with no sign of progress "
        "for over two hours.",
    ),
]
EXCEPTION_KINDS = {kind.key: kind for kind in EXCEPTIONS}


def _failed_or_stuck(runs, status, now, *signs_of_life: str):
    """Runs that failed, or are pending or running with no sign of life (the latest of `signs_of_life`,
    else their creation) for over `STUCK_AFTER`."""
    alive = Coalesce(*signs_of_life, "created_at") if signs_of_life else F("created_at")
    active = Q(status__in=[status.PENDING, status.RUNNING], last_alive__lt=now - STUCK_AFTER)
    return runs.annotate(last_alive=alive).filter(Q(status=status.FAILED) | active)


def _handoff_refused():
    """The latest refusal of each deal whose win was refused and that is still open."""
    refused = (
        AuditEvent.objects.filter(action="opportunity.handoff_refused", object_type="crm.opportunity")
        .order_by("object_id", "-created_at")
        .values("object_id", "created_at", "reason", "changes")
    )
    latest = {}
    for row in refused:
        latest.setdefault(int(row["object_id"]), row)
    still_open = Opportunity.objects.filter(pk__in=latest, contracts__isnull=True).exclude(
        stage__in=PipelineStage.objects.exclude(outcome=StageOutcome.OPEN).values("code")
    )
    return [(opportunity, latest[opportunity.pk]) for opportunity in still_open.select_related("account")]


def _handoff_incomplete():
    return (
        Contract.objects.filter(opportunity__isnull=False, projects__isnull=True)
        .select_related("opportunity", "account")
        .order_by("-created_at")
    )


def _over_cap():
    return (
        OverCapEntry.objects.filter(status=HoldStatus.HELD)
        .select_related("time_entry__person", "plan__contract")
        .order_by("created_at")
    )


def _rejected_time():
    return (
        TimeEntry.objects.filter(status=EntryStatus.REJECTED)
        .select_related("person", "project")
        .order_by("rejected_at", "id")
    )


def _dead_webhooks():
    return (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DEAD)
        .select_related("event", "subscription")
        .order_by("-id")
    )


def _runs(now):
    return [
        (
            "Billing run",
            "billing:run-detail",
            _failed_or_stuck(BillingRun.objects, BillingRunStatus, now, "started_at"),
        ),
        (
            "Revenue run",
            "revrec:run-detail",
            _failed_or_stuck(RevenueRun.objects, RevenueRunStatus, now, "started_at"),
        ),
        # A dunning run beats a heartbeat after every chunk: a long run that beats is not stuck.
        (
            "Dunning run",
            "ledger:dunning-run",
            _failed_or_stuck(DunningRun.objects, DunningRunStatus, now, "heartbeat_at", "started_at"),
        ),
    ]


def exception_counts(now=None) -> list[dict]:
    """Each exception kind with how many rows are behind it (and the held amount per currency over cap)."""
    now = now or timezone.now()
    held = (
        OverCapEntry.objects.filter(status=HoldStatus.HELD)
        .values("plan__currency")
        .order_by("plan__currency")
        .annotate(total=Sum("amount"))
    )
    counts = {
        "handoff_refused": len(_handoff_refused()),
        "handoff_incomplete": _handoff_incomplete().count(),
        "over_cap": _over_cap().count(),
        "rejected_time": _rejected_time().count(),
        "dead_webhooks": _dead_webhooks().count(),
        "runs_failed_or_stuck": sum(runs.count() for _, _, runs in _runs(now)),
    }
    return [
        {
            "kind": kind,
            "count": counts[kind.key],
            "amounts": [(row["plan__currency"], row["total"]) for row in held]
            if kind.key == "over_cap"
            else [],
            "url": reverse("analytics:flow-exceptions", args=[kind.key]),
        }
        for kind in EXCEPTIONS
    ]


def exception_rows(key: str, now=None) -> list[dict]:
    """The rows behind one exception (at most `ROWS_SHOWN`): what, detail, since when, and a link."""
    now = now or timezone.now()
    if key == "handoff_refused":
        refused = sorted(_handoff_refused(), key=lambda pair: pair[1]["created_at"], reverse=True)
        return [
            {
                "what": f"{opportunity.name} ({opportunity.account.name})",
                "detail": "; ".join(
                    message
                    for messages in row["changes"].get("problems", {}).values()
                    for message in messages
                )
                or row["reason"],
                "since": row["created_at"],
                "url": reverse("crm:opportunity-detail", args=[opportunity.pk]),
            }
            for opportunity, row in refused[:ROWS_SHOWN]
        ]
    if key == "handoff_incomplete":
        return [
            {
                "what": f"{contract.opportunity.name} ({contract.account.name})",
                "detail": f"Contract {contract.number}, no project",
                "since": contract.created_at,
                "url": reverse("crm:opportunity-trace", args=[contract.opportunity_id]),
            }
            for contract in _handoff_incomplete()[:ROWS_SHOWN]
        ]
    if key == "over_cap":
        return [
            {
                "what": f"{hold.time_entry.person.name}, {hold.time_entry.date.isoformat()}",
                "detail": f"{hold.hours} h, {hold.amount} {hold.plan.currency} over the cap of "
                f"{hold.plan.contract.number}",
                "since": hold.created_at,
                "url": reverse("crm:contract-detail", args=[hold.plan.contract_id]),
            }
            for hold in _over_cap()[:ROWS_SHOWN]
        ]
    if key == "rejected_time":
        return [
            {
                "what": f"{entry.person.name}, {entry.date.isoformat()}, {entry.hours} h on "
                f"{entry.project.code}",
                "detail": entry.rejection_reason or "no reason given",
                "since": entry.rejected_at,
                "url": reverse("projects:detail", args=[entry.project_id]),
            }
            for entry in _rejected_time()[:ROWS_SHOWN]
        ]
    if key == "dead_webhooks":
        return [
            {
                "what": f"{delivery.event.type} #{delivery.event_id} → {delivery.subscription.url}",
                "detail": f"{delivery.attempts} attempts; "
                f"{delivery.last_error or delivery.last_status_code or 'no answer'}",
                "since": delivery.last_attempt_at or delivery.created_at,
                "url": reverse("core:webhook-detail", args=[delivery.subscription_id]),
            }
            for delivery in _dead_webhooks()[:ROWS_SHOWN]
        ]
    if key == "runs_failed_or_stuck":
        rows = []
        for label, url_name, runs in _runs(now):
            for run in runs.order_by("-created_at")[:ROWS_SHOWN]:
                state = (
                    run.error[:200]
                    if run.status == "failed" and run.error
                    else f"{run.status} since {run.created_at:%Y-%m-%d %H:%M}"
                )
                rows.append(
                    {
                        "what": f"{label} #{run.pk}",
                        "detail": f"{run.get_status_display()}: {state}",
                        "since": run.created_at,
                        "url": reverse(url_name, args=[run.pk]),
                    }
                )
        return rows[:ROWS_SHOWN]
    raise KeyError(key)
