"""Dunning pages (finance writes, executives read): runs with their progress, notices and skipped clients,
and the policies with their levels and assigned clients. Policies are still edited through the API."""

from django import forms
from django.contrib import messages
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from ledger.choices import DunningRunStatus
from ledger.forms import EntityChoiceField, EntityPickerForm, LedgerForm, date_input
from ledger.models import DunningLevel, DunningNotice, DunningPolicy, DunningRun
from ledger.services.dunning import start_dunning_run

from .common import ledger_reader, paginate, render_page, require_writer

RUNS_PAGE_SIZE = 25
NOTICES_PAGE_SIZE = 50
ACTIVE = (DunningRunStatus.PENDING, DunningRunStatus.RUNNING)


class StartRunForm(LedgerForm):
    legal_entity = EntityChoiceField(empty_label=None)
    as_of = forms.DateField(
        widget=date_input(), label="As of", help_text="Invoices overdue on this day are evaluated."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["as_of"].initial = timezone.localdate()


def _runs_page(request, picker, entity, form: StartRunForm, status: int = 200):
    context = {"picker": picker, "entity": entity, "form": form}
    if entity is not None:
        runs = DunningRun.objects.filter(legal_entity=entity).order_by("-id")
        context["runs"] = paginate(request, runs, RUNS_PAGE_SIZE)
    return render_page(request, "ledger/dunning/runs.html", context, section="dunning", status=status)


@require_http_methods(["GET", "POST"])
@ledger_reader
def run_list(request):
    picker = EntityPickerForm.for_request(request)
    entity = picker.entity()
    if request.method == "GET":
        form = StartRunForm(initial={"legal_entity": entity.pk} if entity else None)
        return _runs_page(request, picker, entity, form)
    require_writer(request)
    form = StartRunForm(request.POST)
    if form.is_valid():
        entity = form.cleaned_data["legal_entity"]
        try:
            run = start_dunning_run(actor=request.user, legal_entity=entity, as_of=form.cleaned_data["as_of"])
        except DomainError as exc:
            # The refusal shows as a message and beside the field it concerns.
            form.add_service_error(exc)
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Dunning run {run.pk} as of {run.as_of.isoformat()} started.")
            return redirect("ledger:dunning-run", pk=run.pk)
    return _runs_page(request, picker, entity, form, status=400)


def _run(pk: int) -> DunningRun:
    return get_object_or_404(DunningRun.objects.select_related("legal_entity", "created_by"), pk=pk)


@require_GET
@ledger_reader
def run_detail(request, pk: int):
    run = _run(pk)
    notices = (
        DunningNotice.objects.filter(run=run)
        .select_related("client")
        .annotate(invoice_count=Count("items"))
        .order_by("client__name", "level", "id")
    )
    context = {
        "run": run,
        "active": run.status in ACTIVE,
        "notices": paginate(request, notices, NOTICES_PAGE_SIZE),
    }
    return render_page(request, "ledger/dunning/run.html", context, section="dunning")


@require_GET
@ledger_reader
def run_progress(request, pk: int):
    """htmx: the run's progress and counters, polled every two seconds while it is pending or running.
    Once it stops, the detail page's poll reloads the page so the notices and skipped clients show;
    the runs list's `compact` bar is just replaced by the final one."""
    run = _run(pk)
    active = run.status in ACTIVE
    compact = bool(request.GET.get("compact"))
    context = {"run": run, "active": active, "compact": compact}
    response = render_page(request, "ledger/dunning/_run_progress.html", context, section="dunning")
    if not active and request.headers.get("HX-Request") == "true" and request.GET.get("polling"):
        response["HX-Refresh"] = "true"
    return response


@require_GET
@ledger_reader
def policy_list(request):
    picker = EntityPickerForm.for_request(request)
    entity = picker.entity()
    context = {"picker": picker, "entity": entity}
    if entity is not None:
        policies = (
            DunningPolicy.objects.filter(legal_entity=entity)
            .annotate(client_count=Count("clients", distinct=True))
            .prefetch_related(Prefetch("levels", queryset=DunningLevel.objects.order_by("level")))
            .order_by("-is_default", "name")
        )
        context["policies"] = paginate(request, policies)
    return render_page(request, "ledger/dunning/policies.html", context, section="dunning-policies")


@require_GET
@ledger_reader
def policy_detail(request, pk: int):
    policy = get_object_or_404(DunningPolicy.objects.select_related("legal_entity"), pk=pk)
    clients = policy.clients.select_related("owner").order_by("name")
    context = {
        "policy": policy,
        "levels": policy.levels.order_by("level"),
        "clients": paginate(request, clients),
    }
    return render_page(request, "ledger/dunning/policy.html", context, section="dunning-policies")
