"""The approvals inbox of project managers: submitted time grouped by person and week with anomalies,
approved or rejected in bulk; submitted expenses likewise."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from projects.models import Timesheet
from projects.selectors.inbox import approval_inbox, submitted_entries, submitted_expenses
from projects.services.expenses import approve_expenses, reject_expense
from projects.services.time import approve_time_entries, approve_timesheet, reject_time_entries

from .common import approver, render_page


def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _handle(request):
    user = request.user
    reason = request.POST.get("reason", "").strip()
    action = request.POST.get("action", "")
    if "approve_week" in request.POST:
        sheet = get_object_or_404(Timesheet.objects.select_related("person"), pk=request.POST["approve_week"])
        before = sheet.entries.filter(status="submitted").count()
        sheet = approve_timesheet(actor=user, timesheet=sheet)
        done = before - sheet.entries.filter(status="submitted").count()
        messages.success(
            request,
            f"Approved {_plural(done, 'entry', 'entries')} of {sheet.person.name}, "
            f"week of {sheet.week_start:%d %b %Y}.",
        )
        return
    if action in ("approve", "reject"):
        entries = list(submitted_entries(user).filter(pk__in=_ids(request.POST.getlist("entry"))))
        if not entries:
            messages.error(request, "Tick the entries to decide first.")
            return
        if action == "approve":
            approve_time_entries(actor=user, entries=entries)
            messages.success(request, f"Approved {_plural(len(entries), 'entry', 'entries')}.")
        else:
            reject_time_entries(actor=user, entries=entries, reason=reason)
            messages.success(request, f"Rejected {_plural(len(entries), 'entry', 'entries')}: {reason}")
        return
    if action in ("approve_expenses", "reject_expenses"):
        expenses = list(submitted_expenses(user).filter(pk__in=_ids(request.POST.getlist("expense"))))
        if not expenses:
            messages.error(request, "Tick the expenses to decide first.")
            return
        if action == "approve_expenses":
            approve_expenses(actor=user, expenses=expenses)
        else:
            for expense in expenses:
                reject_expense(actor=user, expense=expense, reason=reason)
        verb = "Approved" if action == "approve_expenses" else "Rejected"
        messages.success(request, f"{verb} {_plural(len(expenses), 'expense', 'expenses')}.")
        return
    messages.error(request, "Choose an action.")


@require_http_methods(["GET", "POST"])
@approver
def inbox(request):
    if request.method == "POST":
        try:
            _handle(request)
        except DomainError as exc:
            messages.error(request, exc.detail)
        return redirect("projects:approvals")
    groups = approval_inbox(request.user)
    expenses = list(submitted_expenses(request.user))
    return render_page(
        request,
        "projects/approvals.html",
        {
            "groups": groups,
            "expenses": expenses,
            "entry_count": sum(len(g.entries) for g in groups),
            "anomaly_count": sum(g.anomaly_count for g in groups),
        },
        section="approvals",
    )
