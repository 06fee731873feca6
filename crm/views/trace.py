"""The trace page of one deal: its quote-to-cash chain step by step, each with its figures and links, and
what blocks it, in words (the same reading as `GET opportunities/{id}/trace/`)."""

from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from crm.models import Opportunity
from crm.trace import opportunity_trace

from .common import crm_reader, render_page

STATE_STYLES = {
    "open": "text-bg-secondary",
    "lost": "text-bg-dark",
    "stuck": "text-bg-warning",
    "flowing": "text-bg-primary",
    "complete": "text-bg-success",
}


@require_GET
@crm_reader
def opportunity_trace_page(request, pk: int):
    opportunity = get_object_or_404(Opportunity.objects.select_related("account"), pk=pk)
    trace = opportunity_trace(opportunity)
    return render_page(
        request,
        "crm/opportunities/trace.html",
        {
            "opportunity": opportunity,
            "trace": trace,
            "state_style": STATE_STYLES[trace.state],
            "time_total": _totals(trace.time),
            "expense_total": _totals(trace.expenses),
        },
        section="opportunities",
    )


def _totals(rows: list[dict]) -> dict:
    return {
        "count": sum(row["count"] for row in rows),
        "hours": sum(row["hours"] for row in rows),
        "amount": sum(row["amount"] for row in rows),
    }
