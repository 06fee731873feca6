"""Performance obligations: the list (by legal entity, contract, method and status), one obligation with its
schedule (planned against recognised, month by month) and allocation history, and finance's two edits —
the standalone selling price and the estimate at completion, each with a reason."""

from decimal import Decimal

from django.contrib import messages
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from ledger.choices import AccountRole
from ledger.models import GLAccount
from revrec.choices import LineStatus, Measure, RevenueMethod
from revrec.forms import EstimateForm, ObligationFilterForm, StandalonePriceForm
from revrec.models import Allocation, PerformanceObligation
from revrec.services.obligations import set_estimate, set_standalone_price

from .common import can_write, paginate, render_page, require_writer, revenue_reader

ZERO = Decimal(0)
AMOUNT = DecimalField(max_digits=20, decimal_places=4)


def _with_totals(obligations):
    """Obligations with what their schedule has recognised and still plans, summed in the database."""
    return obligations.annotate(
        recognized=Coalesce(
            Sum("schedule_lines__amount", filter=Q(schedule_lines__status=LineStatus.RECOGNIZED)),
            Value(ZERO),
            output_field=AMOUNT,
        ),
        planned=Coalesce(
            Sum("schedule_lines__amount", filter=Q(schedule_lines__status=LineStatus.PLANNED)),
            Value(ZERO),
            output_field=AMOUNT,
        ),
    )


@require_GET
@revenue_reader
def obligation_list(request):
    form = ObligationFilterForm(request.GET or None)
    obligations = PerformanceObligation.objects.select_related("contract", "account", "legal_entity")
    if form.value("legal_entity"):
        obligations = obligations.filter(legal_entity=form.value("legal_entity"))
    if form.value("contract"):
        obligations = obligations.filter(contract=form.value("contract"))
    if form.value("method"):
        obligations = obligations.filter(method=form.value("method"))
    if form.value("status"):
        obligations = obligations.filter(status=form.value("status"))
    page = paginate(request, _with_totals(obligations).order_by("contract__number", "id"))
    return render_page(
        request,
        "revrec/obligations/list.html",
        {
            "form": form,
            "obligations": page,
            "filtered": form.filtered(),
            "any_obligations": page.paginator.count > 0 or PerformanceObligation.objects.exists(),
        },
        section="obligations",
    )


def _obligation(pk: int) -> PerformanceObligation:
    return get_object_or_404(
        _with_totals(
            PerformanceObligation.objects.select_related(
                "contract", "account", "legal_entity", "contract_line", "role"
            )
        ),
        pk=pk,
    )


def _schedule(obligation) -> list:
    return list(
        obligation.schedule_lines.select_related("run", "journal_entry").order_by(
            "period_start", "status", "id"
        )
    )


def _allocations(obligation) -> list[dict]:
    """The contract's allocations, newest first, with this obligation's share of each."""
    rows = []
    allocations = Allocation.objects.filter(contract_id=obligation.contract_id).select_related("actor")
    for allocation in allocations.order_by("-id")[:20]:
        share = allocation.shares.get(str(obligation.pk))
        rows.append({"allocation": allocation, "share": Decimal(share) if share is not None else None})
    return rows


def _detail(request, obligation, *, ssp_form=None, estimate_form=None, status=200):
    writer = can_write(request.user)
    siblings = list(
        PerformanceObligation.objects.filter(contract_id=obligation.contract_id)
        .exclude(pk=obligation.pk)
        .order_by("id")
    )
    lines = _schedule(obligation)
    is_percent = obligation.method == RevenueMethod.PERCENT_COMPLETE
    loss = (
        is_percent
        and obligation.measure == Measure.COST
        and obligation.estimated_total_cost is not None
        and obligation.estimated_total_cost > obligation.allocated_amount
    )
    no_estimate = is_percent and not (
        obligation.estimated_total_hours
        if obligation.measure == Measure.HOURS
        else obligation.estimated_total_cost
    )
    context = {
        "obligation": obligation,
        "lines": lines,
        "siblings": siblings,
        "allocations": _allocations(obligation),
        "is_percent": is_percent,
        "loss": loss,
        "no_estimate": no_estimate,
        "recognized_percent": (
            min(100, int(obligation.recognized * 100 / obligation.allocated_amount))
            if obligation.allocated_amount > 0
            else 0
        ),
        "revenue_account": GLAccount.objects.filter(
            legal_entity_id=obligation.legal_entity_id, role=obligation.revenue_role
        ).first(),
        "revenue_role": AccountRole(obligation.revenue_role).label
        if obligation.revenue_role in AccountRole.values
        else obligation.revenue_role,
    }
    if writer:
        context["ssp_form"] = ssp_form or StandalonePriceForm.for_obligation(obligation)
        if is_percent:
            context["estimate_form"] = estimate_form or EstimateForm.for_obligation(obligation)
    return render_page(
        request, "revrec/obligations/detail.html", context, section="obligations", status=status
    )


@require_GET
@revenue_reader
def obligation_detail(request, pk: int):
    return _detail(request, _obligation(pk))


@require_POST
@revenue_reader
def obligation_ssp(request, pk: int):
    require_writer(request)
    obligation = _obligation(pk)
    form = StandalonePriceForm.for_obligation(obligation, request.POST)
    if form.is_valid():
        try:
            set_standalone_price(
                actor=request.user,
                obligation=obligation,
                price=form.cleaned_data["standalone_price"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                "Standalone price saved; the contract's price is re-allocated and its schedules re-planned.",
            )
            return redirect("revrec:obligation-detail", pk=obligation.pk)
    return _detail(request, obligation, ssp_form=form, status=400)


@require_POST
@revenue_reader
def obligation_estimate(request, pk: int):
    require_writer(request)
    obligation = _obligation(pk)
    form = EstimateForm.for_obligation(obligation, request.POST)
    if obligation.method != RevenueMethod.PERCENT_COMPLETE:
        messages.error(request, "Only percent-complete obligations have an estimate at completion.")
        return redirect("revrec:obligation-detail", pk=obligation.pk)
    if form.is_valid():
        # Only what changed: the form shows both estimates, and the audit row should name the one revised.
        changed = {
            name: form.cleaned_data[name]
            for name, current in (
                ("total_cost", obligation.estimated_total_cost),
                ("total_hours", obligation.estimated_total_hours),
            )
            if form.cleaned_data[name] is not None and form.cleaned_data[name] != current
        }
        if not changed:
            form.add_error(None, "The estimate is unchanged; enter a new total cost or hours.")
    if form.is_valid():
        try:
            set_estimate(
                actor=request.user, obligation=obligation, reason=form.cleaned_data["reason"], **changed
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, "Estimate at completion saved; the next revenue run catches up cumulatively."
            )
            return redirect("revrec:obligation-detail", pk=obligation.pk)
    return _detail(request, obligation, estimate_form=form, status=400)
