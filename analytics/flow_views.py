"""The flow-health page: per quote-to-cash stage, throughput and latency (median, p90) month by month
with a chart each, and the exceptions accumulating, each count linked to the rows behind it. Read live
from the operational tables (`analytics.flow`), not from the rollups; the table downloads as CSV."""

from datetime import date

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics import flow
from analytics.views import FLOW_READERS, sections_for
from core.views import role_required
from ledger.views.common import csv_response, wants_csv


def _render(request, template: str, context: dict):
    return render(
        request, template, {"section": "flow", "analytics_sections": sections_for(request.user), **context}
    )


def _chart(health: dict) -> dict:
    """One stage's chart for flow-charts.js: throughput bars (left axis) and latency lines in days (right)."""
    months = health["months"]

    def days(key):
        return [None if row[key] is None else str(row[key]) for row in months]

    return {
        "labels": [row["month"].strftime("%b %Y") for row in months],
        "throughput": [row["count"] for row in months],
        "median": days("median_days"),
        "p90": days("p90_days"),
    }


@require_GET
@role_required(*FLOW_READERS)
def flow_health(request):
    today = timezone.localdate()
    if request.GET.get("as_of"):
        # The twelve months up to another day, e.g. to compare with last quarter's close.
        try:
            today = date.fromisoformat(request.GET["as_of"])
        except ValueError:
            return HttpResponseBadRequest("as_of must be a date: YYYY-MM-DD.")
    stages = flow.stage_health(today)
    if wants_csv(request):
        return csv_response(
            f"flow-health-{today.isoformat()}.csv",
            ["stage", "month", "throughput", "median_days", "p90_days"],
            (
                [health["stage"].label, row["month"], row["count"], row["median_days"], row["p90_days"]]
                for health in stages
                for row in health["months"]
            ),
        )
    for index, health in enumerate(stages):
        health["chart_id"] = f"flow_chart_{index}"
        health["chart"] = _chart(health)
    context = {"stages": stages, "exceptions": flow.exception_counts(), "today": today}
    return _render(request, "analytics/flow.html", context)


@require_GET
@role_required(*FLOW_READERS)
def flow_exceptions(request, kind: str):
    if kind not in flow.EXCEPTION_KINDS:
        raise Http404("No such exception.")
    rows = flow.exception_rows(kind)
    context = {"kind": flow.EXCEPTION_KINDS[kind], "rows": rows, "limit": flow.ROWS_SHOWN}
    return _render(request, "analytics/flow_exceptions.html", context)
