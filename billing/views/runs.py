"""Billing runs: the list, the new-run form with its preview, a run's page with live progress, resuming."""

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors
from billing.choices import ExceptionKind, RunStatus
from billing.forms import RunForm
from billing.models import BillingRun
from billing.services.runs import resume_billing_run, start_billing_run
from core.errors import DomainError
from crm.models import Account, Contract
from ledger.forms import EntityPickerForm
from ledger.models import LegalEntity

from .common import billing_reader, billing_writer, is_htmx, paginate, render_page, require_writer

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)
SCOPE_NAMES_SHOWN = 5


def run_totals(run: BillingRun) -> list[tuple[str, Decimal]]:
    """The run's draft totals per currency; stored as strings in JSON, shown as money."""
    return [(currency, Decimal(total)) for currency, total in sorted((run.totals or {}).items())]


def scope_summary(run: BillingRun) -> dict:
    """Names of the clients and contracts a run was limited to (the first few), for reading."""
    scope = run.scope or {}
    accounts = scope.get("accounts") or []
    contracts = scope.get("contracts") or []
    return {
        "everything": not accounts and not contracts,
        "accounts": list(
            Account.objects.filter(pk__in=accounts[:SCOPE_NAMES_SHOWN])
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "more_accounts": max(len(accounts) - SCOPE_NAMES_SHOWN, 0),
        "contracts": list(
            Contract.objects.filter(pk__in=contracts[:SCOPE_NAMES_SHOWN])
            .order_by("number")
            .values_list("number", flat=True)
        ),
        "more_contracts": max(len(contracts) - SCOPE_NAMES_SHOWN, 0),
    }


@require_GET
@billing_reader
def run_list(request):
    runs = paginate(request, BillingRun.objects.select_related("legal_entity", "created_by"))
    for run in runs:
        run.currency_totals = run_totals(run)
    return render_page(request, "billing/runs/list.html", {"runs": runs}, section="runs")


def default_period_end():
    """Runs usually bill a closed month: the last day of the previous month."""
    return timezone.localdate().replace(day=1) - timedelta(days=1)


@require_http_methods(["GET", "POST"])
@billing_writer
def run_create(request):
    if request.method == "GET":
        picker = EntityPickerForm.for_request(request)
        entity = picker.entity()
        form = None
        if entity is not None:
            form = RunForm(
                entity=entity, initial={"legal_entity": entity.pk, "period_end": default_period_end()}
            )
        return _run_form(request, picker, entity, form)

    entity = get_object_or_404(LegalEntity, pk=request.POST.get("legal_entity") or 0)
    picker = EntityPickerForm({"legal_entity": entity.pk})
    form = RunForm(request.POST, entity=entity)
    if form.is_valid():
        try:
            run = start_billing_run(
                actor=request.user,
                legal_entity=entity,
                period_end=form.cleaned_data["period_end"],
                **form.scope(),
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"Billing run #{run.pk} started: work of {entity.name} up to {run.period_end}."
            )
            return redirect("billing:run-detail", pk=run.pk)
    return _run_form(request, picker, entity, form)


def _run_form(request, picker, entity, form):
    return render_page(
        request,
        "billing/runs/form.html",
        {"picker": picker, "entity": entity, "form": form},
        section="runs",
    )


@require_GET
@billing_writer
def run_preview(request):
    """htmx: what a run with the form's scope would bill now, per contract. Reads only, writes nothing."""
    entity = get_object_or_404(LegalEntity, pk=request.GET.get("legal_entity") or 0)
    form = RunForm(request.GET, entity=entity)
    preview = None
    if form.is_valid():
        preview = selectors.preview_billing(
            legal_entity=entity, period_end=form.cleaned_data["period_end"], **form.scope()
        )
        kinds = dict(ExceptionKind.choices)
        for contract in preview.contracts:
            for exception in contract.exceptions:
                exception["label"] = kinds.get(exception["kind"], exception["kind"])
    return render_page(
        request,
        "billing/runs/_preview.html",
        {
            "form": form,
            "entity": entity,
            "preview": preview,
            "preview_totals": sorted(preview.totals.items()) if preview else [],
        },
        section="runs",
    )


def _run(pk: int) -> BillingRun:
    return get_object_or_404(BillingRun.objects.select_related("legal_entity", "created_by"), pk=pk)


@require_GET
@billing_reader
def run_detail(request, pk: int):
    run = _run(pk)
    invoices = paginate(request, selectors.invoices().filter(run=run).order_by("account__name", "id"))
    return render_page(
        request,
        "billing/runs/detail.html",
        {
            "run": run,
            "active": run.status in ACTIVE,
            "currency_totals": run_totals(run),
            "scope": scope_summary(run),
            "exceptions": run.exceptions.select_related("contract", "project"),
            "invoices": invoices,
            "draft_count": run.invoices.filter(status="draft").count(),
        },
        section="runs",
    )


@require_GET
@billing_reader
def run_progress(request, pk: int):
    """htmx: the progress bar and counters, polled while the run is pending or running. Once it stops,
    the page reloads so its exceptions and invoices show too."""
    run = _run(pk)
    active = run.status in ACTIVE
    response = render_page(
        request,
        "billing/runs/_progress.html",
        {"run": run, "active": active, "currency_totals": run_totals(run)},
        section="runs",
    )
    if not active and is_htmx(request) and request.GET.get("polling"):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@billing_reader
def run_resume(request, pk: int):
    require_writer(request)
    run = _run(pk)
    try:
        resume_billing_run(actor=request.user, run=run)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"Billing run #{run.pk} resumed; it continues with the contracts it had not done."
        )
    return redirect("billing:run-detail", pk=run.pk)
