"""Dunning pages (finance writes, executives read): runs with their progress, notices and skipped clients,
and the policies with their levels and assigned clients, which finance edits (`update_dunning_policy`)."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from ledger.choices import DunningRunStatus
from ledger.forms import EntityChoiceField, EntityPickerForm, LedgerForm, amount_field, date_input
from ledger.models import DunningLevel, DunningNotice, DunningPolicy, DunningRun
from ledger.services.dunning import LevelSpec, start_dunning_run, update_dunning_policy

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


class PolicyForm(LedgerForm):
    name = forms.CharField(max_length=200)
    payment_instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    active = forms.BooleanField(
        required=False, help_text="An inactive policy pauses dunning for its clients."
    )
    is_default = forms.BooleanField(required=False, label="Default for the legal entity")


class LevelForm(LedgerForm):
    days_overdue = forms.IntegerField(min_value=1, required=False, label="Days overdue")
    fee_amount = amount_field(label="Fee")
    annual_interest_percent = forms.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=100, required=False, label="Interest % a year"
    )
    escalate_to_owner = forms.BooleanField(required=False, label="Escalate")
    subject_template = forms.CharField(max_length=500, required=False, label="Subject")
    body_template = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Body")

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return (
            data.get("days_overdue") is None
            and not data.get("subject_template")
            and not data.get("body_template")
        )

    def clean(self):
        data = super().clean()
        if not self.is_blank():
            for name in ("days_overdue", "subject_template", "body_template"):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, "This field is required.")
        return data


# One spare row to add a level; a level is removed by clearing its row.
LevelFormSet = forms.formset_factory(LevelForm, extra=1, max_num=20)


def _cents(value: Decimal) -> Decimal:
    """A fee without the column's trailing zeros: 25.0000 shows as 25.00."""
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


def _level_initial(policy: DunningPolicy) -> list[dict]:
    return [
        {
            "days_overdue": level.days_overdue,
            "fee_amount": _cents(level.fee_amount),
            "annual_interest_percent": (
                None if level.annual_interest_percent is None else level.annual_interest_percent.normalize()
            ),
            "escalate_to_owner": level.escalate_to_owner,
            "subject_template": level.subject_template,
            "body_template": level.body_template,
        }
        for level in policy.levels.order_by("level")
    ]


def _save_policy(request, policy: DunningPolicy, form: PolicyForm, formset) -> bool:
    """Call the service with the forms' values; put its refusals on the policy form and level rows."""
    rows = [level_form for level_form in formset if not level_form.is_blank()]
    specs = [
        LevelSpec(
            level=number,
            days_overdue=row.cleaned_data["days_overdue"],
            subject_template=row.cleaned_data["subject_template"],
            body_template=row.cleaned_data["body_template"],
            fee_amount=row.cleaned_data["fee_amount"] or Decimal(0),
            annual_interest_percent=row.cleaned_data["annual_interest_percent"],
            escalate_to_owner=row.cleaned_data["escalate_to_owner"],
        )
        for number, row in enumerate(rows, start=1)
    ]
    data = form.cleaned_data
    try:
        update_dunning_policy(
            actor=request.user,
            policy=policy,
            name=data["name"],
            payment_instructions=data["payment_instructions"],
            active=data["active"],
            is_default=data["is_default"],
            levels=specs,
        )
    except DomainError as exc:
        level_errors = exc.fields.get("levels")
        if isinstance(level_errors, dict):
            for index, errors in level_errors.items():
                for field, field_messages in errors.items():
                    target = field if field in rows[int(index)].fields else None
                    rows[int(index)].add_error(target, list(field_messages))
        for name, field_messages in exc.fields.items():
            if name in form.fields:
                form.add_error(name, list(field_messages))
        form.add_error(None, exc.detail)
        return False
    return True


@require_http_methods(["GET", "POST"])
@ledger_reader
def policy_edit(request, pk: int):
    require_writer(request)
    policy = get_object_or_404(DunningPolicy.objects.select_related("legal_entity"), pk=pk)
    if request.method == "POST":
        form = PolicyForm(request.POST)
        formset = LevelFormSet(request.POST, prefix="levels")
        if form.is_valid() and formset.is_valid() and _save_policy(request, policy, form, formset):
            messages.success(request, f"Dunning policy {form.cleaned_data['name']} saved.")
            return redirect("ledger:dunning-policy", pk=policy.pk)
        status = 400
    else:
        form = PolicyForm(
            initial={
                "name": policy.name,
                "payment_instructions": policy.payment_instructions,
                "active": policy.active,
                "is_default": policy.is_default,
            }
        )
        formset = LevelFormSet(initial=_level_initial(policy), prefix="levels")
        status = 200
    context = {"policy": policy, "form": form, "formset": formset}
    return render_page(
        request, "ledger/dunning/policy_edit.html", context, section="dunning-policies", status=status
    )
