"""The insights inbox: what the detectors found for the user's roles (or owned by them), by status tab,
filterable by kind and severity, each card with its explanation, figures and factors; dismissing with a
reason (htmx, in place) and starting a run with its progress."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied as PagePermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.views import role_required
from insights.access import INBOX_ROLES, can_review, can_start_runs
from insights.models import InsightKind, InsightRun, InsightRunStatus, InsightSeverity, InsightStatus
from insights.presenters import figure_rows
from insights.selectors import active_run, latest_run, status_counts, visible_insights
from insights.services.insights import dismiss_insight, reopen_insight
from insights.services.runs import start_insight_run

PAGE_SIZE = 20
ACTIVE = (InsightRunStatus.PENDING, InsightRunStatus.RUNNING)
SEVERITY_ORDER = {InsightSeverity.CRITICAL: 0, InsightSeverity.WARNING: 1, InsightSeverity.INFO: 2}


def _choice(value, choices) -> str:
    return value if value in choices else ""


def _card(request, insight, error: str = "", reason: str = "") -> dict:
    return {
        "insight": insight,
        "figures": figure_rows(insight.figures),
        "can_review": can_review(request.user, insight),
        "rule_label": insight.rule.replace("_", " "),
        "error": error,
        "reason": reason,
    }


@require_GET
@role_required(*INBOX_ROLES)
def inbox(request):
    status = _choice(request.GET.get("status"), InsightStatus.values) or InsightStatus.OPEN
    kind = _choice(request.GET.get("kind"), InsightKind.values)
    severity = _choice(request.GET.get("severity"), InsightSeverity.values)
    visible = visible_insights(request.user)
    in_tab = visible.filter(status=status)
    kinds = dict(in_tab.order_by().values_list("kind").annotate(n=Count("id")))
    severities = dict(in_tab.order_by().values_list("severity").annotate(n=Count("id")))
    shown = in_tab
    if kind:
        shown = shown.filter(kind=kind)
    if severity:
        shown = shown.filter(severity=severity)
    # Most severe first, then the most recently seen.
    rank = Case(*(When(severity=value, then=Value(order)) for value, order in SEVERITY_ORDER.items()))
    page = Paginator(shown.order_by(rank, "-last_seen_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "status": status,
        "kind": kind,
        "severity": severity,
        "counts": status_counts(visible),
        "statuses": InsightStatus.choices,
        "kind_choices": [(value, label, kinds.get(value, 0)) for value, label in InsightKind.choices],
        "severity_choices": [
            (value, label, severities.get(value, 0))
            for value, label in sorted(InsightSeverity.choices, key=lambda choice: SEVERITY_ORDER[choice[0]])
        ],
        "page": page,
        "cards": [_card(request, insight) for insight in page],
        "can_start": can_start_runs(request.user),
        "run": active_run() or latest_run(),
        "today": timezone.localdate(),
    }
    return render(request, "insights/inbox.html", context)


def _insight(request, pk: int):
    return get_object_or_404(visible_insights(request.user), pk=pk)


def _respond(request, insight, *, error: str = "", reason: str = "", notice: str = ""):
    """htmx: the card again (with the refusal beside the reason, answered 200 so htmx swaps it in);
    a plain form post: back to the inbox with a message."""
    if request.headers.get("HX-Request") == "true":
        return render(request, "insights/_card.html", _card(request, insight, error, reason))
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(f"{reverse('insights:inbox')}?status={InsightStatus.OPEN}")


@require_POST
@role_required(*INBOX_ROLES)
def dismiss(request, pk: int):
    insight = _insight(request, pk)
    reason = request.POST.get("reason", "")
    try:
        insight = dismiss_insight(actor=request.user, insight=insight, reason=reason)
    except DomainError as exc:
        if exc.status_code == 403:
            raise PagePermissionDenied(exc.detail) from exc
        detail = exc.fields.get("reason", [exc.detail])[0] if exc.fields else exc.detail
        message = "Say why you dismiss it." if detail == "Required." else detail
        return _respond(request, _insight(request, pk), error=message, reason=reason)
    return _respond(request, insight, notice=f"Dismissed: {insight.title}")


@require_POST
@role_required(*INBOX_ROLES)
def reopen(request, pk: int):
    try:
        insight = reopen_insight(actor=request.user, insight=_insight(request, pk))
    except DomainError as exc:
        if exc.status_code == 403:
            raise PagePermissionDenied(exc.detail) from exc
        return _respond(request, _insight(request, pk), error=exc.detail)
    return _respond(request, insight, notice=f"Reopened: {insight.title}")


@require_POST
@role_required(*INBOX_ROLES)
def run_start(request):
    if not can_start_runs(request.user):
        raise PagePermissionDenied("Finance and project managers start insight runs.")
    try:
        run = start_insight_run(actor=request.user, as_of=timezone.localdate())
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Insight run {run.pk} started; the inbox refreshes when it is done.")
    return redirect("insights:inbox")


@require_GET
@role_required(*INBOX_ROLES)
def run_progress(request, pk: int):
    """htmx: the run's progress, polled every two seconds while it is pending or running; once it stops,
    the page reloads so the new insights show."""
    run = get_object_or_404(InsightRun, pk=pk)
    active = run.status in ACTIVE
    response = render(request, "insights/_run.html", {"run": run, "active": active, "can_start": False})
    if not active and request.headers.get("HX-Request") == "true" and request.GET.get("polling"):
        response["HX-Refresh"] = "true"
    return response
