"""Revenue runs: the list, the new-run form with its preview, a run's page with live progress, resuming."""

from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from ledger.forms import EntityPickerForm
from ledger.models import LegalEntity
from revrec.choices import RevenueMethod, RunStatus
from revrec.forms import RunForm, last_month_end
from revrec.models import RevenueRun, RevenueRunContract, RevenueScheduleLine
from revrec.selectors import preview_revenue
from revrec.services.runs import resume_revenue_run, start_revenue_run

from .common import (
    currency_totals,
    is_htmx,
    paginate,
    render_page,
    require_writer,
    revenue_reader,
    revenue_writer,
)

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)
METHOD_LABELS = dict(RevenueMethod.choices)


@require_GET
@revenue_reader
def run_list(request):
    runs = paginate(request, RevenueRun.objects.select_related("legal_entity", "created_by"))
    for run in runs:
        run.currency_totals = currency_totals(run.totals)
    return render_page(request, "revrec/runs/list.html", {"runs": runs}, section="runs")


@require_http_methods(["GET", "POST"])
@revenue_writer
def run_create(request):
    if request.method == "GET":
        picker = EntityPickerForm.for_request(request)
        entity = picker.entity()
        form = None
        if entity is not None:
            form = RunForm(initial={"legal_entity": entity.pk, "period_end": last_month_end()})
        return _run_form(request, picker, entity, form)

    entity = get_object_or_404(LegalEntity, pk=request.POST.get("legal_entity") or 0)
    picker = EntityPickerForm({"legal_entity": entity.pk})
    form = RunForm(request.POST)
    if form.is_valid():
        try:
            run = start_revenue_run(
                actor=request.user, legal_entity=entity, period_end=form.cleaned_data["period_end"]
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"Revenue run #{run.pk} started: {entity.name}, recognised up to {run.period_end}."
            )
            return redirect("revrec:run-detail", pk=run.pk)
    return _run_form(request, picker, entity, form, status=400)


def _run_form(request, picker, entity, form, *, status=200):
    return render_page(
        request,
        "revrec/runs/form.html",
        {"picker": picker, "entity": entity, "form": form},
        section="runs",
        status=status,
    )


@require_GET
@revenue_writer
def run_preview(request):
    """htmx: what a run would recognise now, per contract, with its warnings. Reads only, writes nothing."""
    entity = get_object_or_404(LegalEntity, pk=request.GET.get("legal_entity") or 0)
    form = RunForm(request.GET)
    preview = None
    if form.is_valid():
        preview = preview_revenue(legal_entity=entity, period_end=form.cleaned_data["period_end"])
        for contract in preview.contracts:
            for obligation in contract["obligations"]:
                obligation["method_label"] = METHOD_LABELS.get(obligation["method"], obligation["method"])
    return render_page(
        request,
        "revrec/runs/_preview.html",
        {
            "form": form,
            "entity": entity,
            "preview": preview,
            "preview_totals": sorted(preview.totals.items()) if preview else [],
        },
        section="runs",
    )


def _run(pk: int) -> RevenueRun:
    return get_object_or_404(RevenueRun.objects.select_related("legal_entity", "created_by"), pk=pk)


def _run_contracts(request, run: RevenueRun):
    """A page of what the run recognised per contract (its recognised schedule lines) and the entry posted."""
    page = paginate(
        request,
        RevenueScheduleLine.objects.filter(run=run)
        .values(
            "obligation__contract_id",
            "obligation__contract__number",
            "obligation__account__name",
            "obligation__currency",
        )
        .annotate(amount=Sum("amount"))
        .order_by("obligation__account__name", "obligation__contract__number"),
    )
    entries = dict(
        RevenueRunContract.objects.filter(
            run=run, contract_id__in=[row["obligation__contract_id"] for row in page]
        ).values_list("contract_id", "journal_entry_id")
    )
    page.object_list = [
        {
            "contract_id": row["obligation__contract_id"],
            "number": row["obligation__contract__number"],
            "account": row["obligation__account__name"],
            "currency": row["obligation__currency"],
            "amount": row["amount"],
            "entry_id": entries.get(row["obligation__contract_id"]),
        }
        for row in page
    ]
    return page


@require_GET
@revenue_reader
def run_detail(request, pk: int):
    run = _run(pk)
    return render_page(
        request,
        "revrec/runs/detail.html",
        {
            "run": run,
            "active": run.status in ACTIVE,
            "currency_totals": currency_totals(run.totals),
            "contracts": _run_contracts(request, run),
        },
        section="runs",
    )


@require_GET
@revenue_reader
def run_progress(request, pk: int):
    """htmx: the progress bar and counters, polled while the run is pending or running. Once it stops, the
    page reloads so its contracts and warnings show too."""
    run = _run(pk)
    active = run.status in ACTIVE
    response = render_page(
        request,
        "revrec/runs/_progress.html",
        {"run": run, "active": active, "currency_totals": currency_totals(run.totals)},
        section="runs",
    )
    if not active and is_htmx(request) and request.GET.get("polling"):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@revenue_reader
def run_resume(request, pk: int):
    require_writer(request)
    run = _run(pk)
    try:
        resume_revenue_run(actor=request.user, run=run)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"Revenue run #{run.pk} resumed; it continues with the contracts it had not done."
        )
    return redirect("revrec:run-detail", pk=run.pk)
