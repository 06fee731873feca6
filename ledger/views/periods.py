"""Fiscal periods: the list per legal entity and fiscal year, closing and reopening with a reason."""

from itertools import groupby

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from ledger.choices import PeriodStatus
from ledger.forms import EntityPickerForm, PeriodActionForm
from ledger.models import FiscalPeriod, JournalEntry
from ledger.services.setup import close_period, reopen_period

from .common import ledger_reader, ledger_writer, render_page

ACTIONS = {
    "close": (close_period, PeriodStatus.OPEN, "closed"),
    "reopen": (reopen_period, PeriodStatus.CLOSED, "reopened"),
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
            .select_related("closed_by")
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


@require_http_methods(["GET", "POST"])
@ledger_writer
def period_action(request, pk: int, action: str):
    service, from_status, done = ACTIONS[action]
    period = get_object_or_404(FiscalPeriod.objects.select_related("legal_entity", "closed_by"), pk=pk)
    form = PeriodActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(actor=request.user, period=period, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Period {period.start:%Y-%m} of {period.legal_entity} is {done}.")
            return redirect(periods_url(period.legal_entity_id))
    return render_page(
        request,
        "ledger/periods/action.html",
        {
            "period": period,
            "action": action,
            "form": form,
            "applicable": period.status == from_status,
            "entry_count": JournalEntry.objects.filter(period=period).count(),
            "periods_url": periods_url(period.legal_entity_id),
        },
        section="periods",
    )
