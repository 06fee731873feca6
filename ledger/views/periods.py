"""Fiscal periods: the list per legal entity and fiscal year, and the month-end close of one period: its
checklist (live), closing and reopening with a reason, posting the FX revaluation, and the close reports."""

from dataclasses import asdict
from decimal import Decimal
from itertools import groupby

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from ledger.choices import PeriodStatus
from ledger.close_checklist import close_checklist
from ledger.forms import EntityPickerForm, PeriodActionForm
from ledger.models import FiscalPeriod, JournalEntry, PeriodCloseReport
from ledger.services.close import CloseBlocked, close_period, reopen_period
from ledger.services.revaluation import revalue_open_items

from .common import ledger_reader, ledger_writer, render_page, require_writer

ACTIONS = {
    "close": (close_period, PeriodStatus.OPEN, "closed"),
    "reopen": (reopen_period, PeriodStatus.CLOSED, "reopened"),
}


# The columns of each checklist item's offending rows, as (key, heading); the page shows them as tables.
ROW_COLUMNS = {
    "approvals": [
        ("name", "Person"), ("time_entries", "Time entries"), ("hours", "Hours"), ("expenses", "Expenses"),
        ("draft", "Draft"), ("submitted", "Submitted"), ("rejected", "Rejected"),
    ],
    "billing": [
        ("code", "Project"), ("name", "Name"), ("explanation", "Why unbilled"),
        ("time_entries", "Time entries"), ("hours", "Hours"), ("expenses", "Expenses"),
    ],
    "revenue": [("pk", "Run"), ("status", "Status"), ("recognized_amount", "Recognised")],
    "fx_revaluation": [
        ("currency", "Currency"), ("items", "Open items"), ("open", "Open amount"),
        ("closing_rate", "Closing rate"), ("differs", "Booked at another rate"),
    ],
    "reconciliations": [
        ("check", "Check"), ("currency", "Currency"), ("ledger", "Ledger"), ("subledger", "Subledger"),
        ("difference", "Difference"),
    ],
    "trial_balance": [
        ("entry", "Entry"), ("currency", "Currency"), ("debit", "Debits"), ("credit", "Credits"),
    ],
}  # fmt: skip
# Each item's figures in reading order (a stored report's JSON does not keep the order), with labels.
FIGURE_LABELS = {
    "time_entries": "Time entries not approved", "hours": "Their hours", "expenses": "Expenses not approved",
    "people": "People", "billing_plans": "Billing plans in the month", "run": "Run",
    "run_period_end": "Run to", "unbilled_time_entries": "Unbilled time entries",
    "unbilled_hours": "Unbilled hours", "unbilled_expenses": "Unbilled expenses",
    "draft_invoices": "Drafts not released", "active_obligations": "Active performance obligations",
    "recognized_amount": "Recognised", "open_foreign_items": "Open foreign-currency items",
    "entry": "Revaluation entry", "ar_subledger": "AR subledger", "ar_control": "AR control account",
    "deferred_revenue": "Deferred revenue (ledger)", "contract_liabilities": "Contract liabilities",
    "unbilled_revenue": "Unbilled revenue (ledger)", "contract_assets": "Contract assets",
    "debit": "Debits", "credit": "Credits", "entries_in_month": "Entries in the month",
}  # fmt: skip
FIGURE_ORDER = {name: index for index, name in enumerate(FIGURE_LABELS)}
STATUS_LABELS = {"ok": "OK", "blocking": "Blocking", "warning": "Warning"}


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{_text(amount)} {key}" for key, amount in value.items()) or "—"
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def present(item: dict) -> dict:
    """A checklist item (as plain data, live or stored in a close report) laid out for the page."""
    columns = ROW_COLUMNS.get(item["key"], [])
    return {
        **item,
        "status_label": STATUS_LABELS[item["status"]],
        "figure_list": [
            (FIGURE_LABELS.get(name, name.replace("_", " ").capitalize()), _text(item["figures"][name]))
            for name in sorted(
                item["figures"], key=lambda name: (FIGURE_ORDER.get(name, len(FIGURE_ORDER)), name)
            )
        ],
        "headings": [heading for _, heading in columns],
        "cells": [[_text(row.get(key)) for key, _ in columns] for row in item["rows"]],
        "more": item["row_count"] - len(item["rows"]),
    }


def periods_url(entity_id: int) -> str:
    return f"{reverse('ledger:periods')}?legal_entity={entity_id}"


@require_GET
@ledger_reader
def period_list(request):
    picker = EntityPickerForm.for_request(request)
    entity = picker.entity()
    years = []
    today = timezone.localdate()
    if entity is not None:
        periods = (
            FiscalPeriod.objects.filter(legal_entity=entity)
            .select_related("closed_by", "reopened_by")
            .order_by("-fiscal_year", "number")
        )
        for year, rows in groupby(periods, key=lambda p: p.fiscal_year):
            rows = list(rows)
            years.append(
                {
                    "year": year,
                    "periods": rows,
                    "closed": sum(1 for p in rows if p.status == PeriodStatus.CLOSED),
                    "start": rows[0].start,
                    "end": rows[-1].end,
                    "current": any(p.start <= today <= p.end for p in rows),
                }
            )
    # The current fiscal year first, then the earlier ones (latest first), then the years to come.
    years.sort(
        key=lambda fy: (0, 0) if fy["current"] else (1, -fy["year"]) if fy["end"] < today else (2, fy["year"])
    )
    return render_page(
        request,
        "ledger/periods/list.html",
        {"picker": picker, "entity": entity, "years": years, "today": today},
        section="periods",
    )


def _period(pk: int) -> FiscalPeriod:
    return get_object_or_404(
        FiscalPeriod.objects.select_related("legal_entity", "closed_by", "reopened_by"), pk=pk
    )


def _checklist_page(request, period, *, action: str, form, blocked=None, status: int = 200):
    _, from_status, _ = ACTIONS[action]
    context = {
        "period": period,
        "action": action,
        "form": form,
        "applicable": period.status == from_status,
        "blocked": blocked,
        "entry_count": JournalEntry.objects.filter(period=period).count(),
        "reports": list(
            PeriodCloseReport.objects.filter(period=period)
            .select_related("closed_by")
            .only("pk", "closed_at", "closed_by", "reason", "period_id")
            .order_by("-closed_at")
        ),
        "periods_url": periods_url(period.legal_entity_id),
    }
    # A closed period's checklist is what it was at the close (its latest report); an open one is live.
    if period.status == PeriodStatus.OPEN:
        checklist = close_checklist(period)
        context["items"] = [present(asdict(item)) for item in checklist.items]
        context["can_close"] = checklist.can_close
    if request.headers.get("HX-Request") == "true" and request.GET.get("part") == "items":
        return render_page(request, "ledger/periods/_checklist_items.html", context, section="periods")
    return render_page(request, "ledger/periods/checklist.html", context, section="periods", status=status)


@require_http_methods(["GET", "POST"])
@ledger_reader
def period_checklist(request, pk: int):
    """The close checklist of one entity and month, with Close (or Reopen, once closed) and a reason."""
    return _checklist_or_action(request, pk, None)


@require_http_methods(["GET", "POST"])
@ledger_writer
def period_action(request, pk: int, action: str):
    """The same page reached from the period list's Close / Reopen buttons: finance only."""
    return _checklist_or_action(request, pk, action)


def _checklist_or_action(request, pk: int, action: str | None):
    period = _period(pk)
    action = action or ("close" if period.status == PeriodStatus.OPEN else "reopen")
    form = PeriodActionForm(request.POST or None)
    blocked = None
    if request.method == "POST":
        require_writer(request)
        if form.is_valid():
            service, _, done = ACTIONS[action]
            try:
                service(actor=request.user, period=period, reason=form.cleaned_data["reason"])
            except CloseBlocked as exc:
                blocked = exc.blockers
                form.add_error(None, f"The period {period.start:%Y-%m} cannot be closed yet.")
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"Period {period.start:%Y-%m} of {period.legal_entity} is {done}.")
                return redirect("ledger:period-checklist", pk=period.pk)
        period = _period(pk)
    return _checklist_page(request, period, action=action, form=form, blocked=blocked)


@require_POST
@ledger_writer
def period_revalue(request, pk: int):
    """Post the month-end FX revaluation of open foreign-currency receivables (checklist item 4)."""
    period = _period(pk)
    try:
        entry = revalue_open_items(
            actor=request.user, legal_entity=period.legal_entity, period_end=period.end
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        if entry is None:
            messages.info(request, "Nothing to revalue: every open receivable is at the closing rate.")
        else:
            messages.success(request, f"FX revaluation {entry.display_number} posted at {period.end}.")
    return redirect("ledger:period-checklist", pk=period.pk)


def _decimals(data, keys=("debit", "credit", "balance", "amount", "revenue", "expenses", "net_income")):
    """A stored statement (amounts kept as strings) with its amounts as Decimals again, for `money`."""
    if isinstance(data, list):
        return [_decimals(value, keys) for value in data]
    if isinstance(data, dict):
        return {
            key: Decimal(value) if key in keys and isinstance(value, str) else _decimals(value, keys)
            for key, value in data.items()
        }
    return data


@require_GET
@ledger_reader
def close_report(request, pk: int):
    """What the period looked like when it was closed: checklist, trial balance, P&L."""
    report = get_object_or_404(
        PeriodCloseReport.objects.select_related("period__legal_entity", "closed_by"), pk=pk
    )
    return render_page(
        request,
        "ledger/periods/report.html",
        {
            "report": report,
            "items": [present(item) for item in report.checklist["items"]],
            "stored": True,
            "trial_balance": _decimals(report.trial_balance),
            "profit_and_loss": _decimals(report.profit_and_loss),
            "period": report.period,
            "later": PeriodCloseReport.objects.filter(
                period=report.period, closed_at__gt=report.closed_at
            ).exists(),
            "periods_url": periods_url(report.period.legal_entity_id),
        },
        section="periods",
    )
