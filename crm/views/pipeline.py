"""The pipeline board (htmx moves), the opportunity list and page, the forecast, the Win button."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from crm import selectors
from crm.forms import ActivityForm, LineForm, OpportunityFilterForm, OpportunityForm, QuoteForm, ReasonForm
from crm.models import Opportunity, PipelineStage, StageChange
from crm.services.accounts import create_activity
from crm.services.handoff import win_opportunity
from crm.services.pipeline import create_opportunity, lose_opportunity, move_opportunity, update_opportunity
from crm.services.quotes import create_quote
from crm.services.terms import terms_of
from crm.trace import opportunity_trace

from .common import crm_reader, may_change, paginate, render_page, require_writer

BOARD_CARDS_PER_STAGE = 40


def _board_context(request, *, error: dict | None = None) -> dict:
    stages = list(selectors.stages())
    open_stages = [stage for stage in stages if stage.outcome == "open"]
    query = selectors.open_opportunities().select_related("account", "owner").order_by("expected_close", "id")
    mine = request.GET.get("mine") == "1"
    if mine:
        query = query.filter(owner=request.user)
    by_stage = {stage.code: [] for stage in open_stages}
    for opportunity in query:
        by_stage.setdefault(opportunity.stage, []).append(opportunity)
    columns = []
    for stage in open_stages:
        cards = by_stage[stage.code]
        totals: dict[str, list] = {}
        for card in cards:
            entry = totals.setdefault(card.currency, [0, 0])
            entry[0] += card.amount
            entry[1] += selectors.weighted(card.amount, card.probability, card.currency)
        columns.append(
            {
                "stage": stage,
                "cards": cards[:BOARD_CARDS_PER_STAGE],
                "count": len(cards),
                "totals": sorted(totals.items()),
            }
        )
    won = next((stage for stage in stages if stage.outcome == "won"), None)
    lost = next((stage for stage in stages if stage.outcome == "lost"), None)
    return {
        "columns": columns,
        "won_stage": won,
        "lost_stage": lost,
        "mine": mine,
        "error": error,
        "stages": open_stages,
    }


@require_GET
@crm_reader
def board(request):
    return render_page(request, "crm/board.html", _board_context(request), section="board")


@require_POST
@crm_reader
def opportunity_move(request, pk: int):
    """htmx: move a card (drag and drop or the card's menu); answers with the redrawn board."""
    require_writer(request)
    opportunity = get_object_or_404(Opportunity, pk=pk)
    error = None
    try:
        move_opportunity(
            actor=request.user,
            opportunity=opportunity,
            stage=request.POST.get("stage", ""),
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        error = {"opportunity": opportunity, "detail": exc.detail, "fields": exc.fields}
    context = _board_context(request, error=error)
    return render_page(request, "crm/_board.html", context, section="board")


@require_GET
@crm_reader
def opportunity_list(request):
    form = OpportunityFilterForm(request.GET or None)
    query = Opportunity.objects.select_related("account", "owner").order_by("expected_close", "id")
    filtered = False
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            query = query.filter(name__icontains=data["q"])
        if data["stage"] == "open":
            query = query.filter(stage__in=selectors.stages(open_only=True).values("code"))
        elif data["stage"]:
            query = query.filter(stage=data["stage"])
        if data["account"]:
            query = query.filter(account=data["account"])
        if data["owner"]:
            query = query.filter(owner=data["owner"])
        filtered = any(data.values())
    stage_names = dict(PipelineStage.objects.values_list("code", "name"))
    page = paginate(request, query)
    for opportunity in page:
        opportunity.stage_name = stage_names.get(opportunity.stage, opportunity.stage)
        opportunity.weighted = selectors.weighted(
            opportunity.amount, opportunity.probability, opportunity.currency
        )
    return render_page(
        request,
        "crm/opportunities/list.html",
        {"form": form, "opportunities": page, "filtered": filtered},
        section="opportunities",
    )


@require_http_methods(["GET", "POST"])
@crm_reader
def opportunity_create(request):
    require_writer(request)
    initial = {"account": request.GET.get("account"), "owner": request.user.pk}
    form = OpportunityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["amount"] = data["amount"] or 0
        try:
            opportunity = create_opportunity(actor=request.user, **data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"Opportunity “{opportunity}” created. Add the lines it would sell.")
            return redirect("crm:opportunity-detail", pk=opportunity.pk)
    return render_page(request, "crm/opportunities/form.html", {"form": form}, section="opportunities")


def _opportunity(pk: int) -> Opportunity:
    return get_object_or_404(
        Opportunity.objects.select_related("account", "owner", "renewal_of").prefetch_related(
            "lines__role",
            Prefetch("stage_changes", queryset=StageChange.objects.select_related("changed_by")),
        ),
        pk=pk,
    )


def _detail(request, opportunity, *, line_form=None, activity_form=None, win_error=None, status=200):
    editable = may_change(request, opportunity.owner_id) and opportunity.is_open
    stage_names = dict(PipelineStage.objects.values_list("code", "name"))
    history = list(opportunity.stage_changes.all())
    for change in history:
        change.from_name = stage_names.get(change.from_stage, change.from_stage)
        change.to_name = stage_names.get(change.to_stage, change.to_stage)
    return render_page(
        request,
        "crm/opportunities/detail.html",
        {
            "opportunity": opportunity,
            "stage_name": stage_names.get(opportunity.stage, opportunity.stage),
            "history": history,
            "weighted": selectors.weighted(opportunity.amount, opportunity.probability, opportunity.currency),
            "editable": editable,
            "line_form": line_form or LineForm(initial={"start": opportunity.expected_close}),
            "activity_form": activity_form or ActivityForm(),
            "quote_form": QuoteForm(),
            "lose_form": ReasonForm(),
            "quotes": opportunity.quotes.order_by("-version"),
            "activities": opportunity.activities.select_related("owner").order_by("done", "due"),
            "trace": opportunity_trace(opportunity),
            "win_error": win_error,
            "move_stages": selectors.stages(open_only=True).exclude(code=opportunity.stage),
        },
        section="opportunities",
        status=status,
    )


@require_GET
@crm_reader
def opportunity_detail(request, pk: int):
    return _detail(request, _opportunity(pk))


@require_POST
@crm_reader
def opportunity_win(request, pk: int):
    """The Win button: on success go to the contract; else show every problem inline (htmx fragment)."""
    require_writer(request)
    opportunity = _opportunity(pk)
    try:
        contract = win_opportunity(actor=request.user, opportunity=opportunity)
    except DomainError as exc:
        context = {"win_error": exc, "opportunity": opportunity}
        if request.headers.get("HX-Request"):
            return render_page(
                request, "crm/opportunities/_win_problems.html", context, section="opportunities"
            )
        return _detail(request, opportunity, win_error=exc, status=400 if exc.status_code == 400 else 409)
    messages.success(request, f"Won. Contract {contract.number} is signed and delivery has its project.")
    url = reverse("crm:contract-detail", args=[contract.pk])
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_POST
@crm_reader
def opportunity_lose(request, pk: int):
    require_writer(request)
    opportunity = _opportunity(pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            lose_opportunity(actor=request.user, opportunity=opportunity, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"“{opportunity}” closed as lost.")
    else:
        messages.error(request, "Say why the deal was lost.")
    return redirect("crm:opportunity-detail", pk=pk)


@require_POST
@crm_reader
def opportunity_stage(request, pk: int):
    """The opportunity page's stage menu (no JavaScript needed)."""
    require_writer(request)
    opportunity = _opportunity(pk)
    try:
        move_opportunity(actor=request.user, opportunity=opportunity, stage=request.POST.get("stage", ""))
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("crm:opportunity-detail", pk=pk)


def _line_specs(opportunity) -> list[dict]:
    return [
        terms_of(line) | {"service": line.service, "amount": line.amount} for line in opportunity.lines.all()
    ]


@require_POST
@crm_reader
def opportunity_add_line(request, pk: int):
    require_writer(request)
    opportunity = _opportunity(pk)
    form = LineForm(request.POST)
    if form.is_valid():
        try:
            update_opportunity(
                actor=request.user, opportunity=opportunity, lines=[*_line_specs(opportunity), form.spec()]
            )
        except DomainError as exc:
            for name, problems in exc.fields.items():
                field = name.rsplit(".", 1)[-1]
                form.add_error(field if field in form.fields else None, list(problems))
            if not exc.fields:
                form.add_error(None, exc.detail)
        else:
            messages.success(request, "Line added.")
            return redirect("crm:opportunity-detail", pk=pk)
    return _detail(request, _opportunity(pk), line_form=form, status=400)


@require_POST
@crm_reader
def opportunity_remove_line(request, pk: int, line_id: int):
    require_writer(request)
    opportunity = _opportunity(pk)
    specs = [
        terms_of(line) | {"service": line.service, "amount": line.amount}
        for line in opportunity.lines.all()
        if line.pk != line_id
    ]
    try:
        update_opportunity(actor=request.user, opportunity=opportunity, lines=specs)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Line removed.")
    return redirect("crm:opportunity-detail", pk=pk)


@require_POST
@crm_reader
def opportunity_add_activity(request, pk: int):
    require_writer(request)
    opportunity = _opportunity(pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            create_activity(
                actor=request.user, account=opportunity.account, opportunity=opportunity, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Activity added.")
            return redirect("crm:opportunity-detail", pk=pk)
    return _detail(request, opportunity, activity_form=form, status=400)


@require_POST
@crm_reader
def opportunity_quote(request, pk: int):
    require_writer(request)
    opportunity = _opportunity(pk)
    form = QuoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The discount is 0 to 100 percent.")
        return redirect("crm:opportunity-detail", pk=pk)
    try:
        quote = create_quote(
            actor=request.user,
            opportunity=opportunity,
            discount_percent=form.cleaned_data["discount_percent"],
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("crm:opportunity-detail", pk=pk)
    messages.success(request, f"Quote version {quote.version} created.")
    return redirect("crm:quote-detail", pk=quote.pk)


@require_GET
@crm_reader
def forecast(request):
    data = selectors.forecast()
    for rows in (data["by_month"], data["by_owner"]):
        peak = max((row["weighted"] for row in rows), default=0) or 1
        for row in rows:
            row["share"] = int(row["weighted"] * 100 / peak)
    return render_page(request, "crm/forecast.html", {"forecast": data}, section="forecast")
