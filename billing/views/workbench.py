"""The review workbench: draft invoices (a run's, or all) as cards with their flags, drill-down from a line
to the work it bills, and the reviewer's actions — edit a line with a reason, take work off, delete the
draft, release it. Each action posts to a view that calls one service and answers with the card again
(htmx), or redirects back (without JavaScript)."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors
from billing.choices import InvoiceStatus, SourceType
from billing.forms import (
    DeleteDraftForm,
    DraftFilterForm,
    IssueDateForm,
    LineEditForm,
    ReasonForm,
    RemoveEntriesForm,
)
from billing.models import BillingRun, Invoice, InvoiceLine, OverCapEntry, PlanItem
from billing.services.invoices import (
    delete_draft_invoice,
    edit_invoice_line,
    release_invoice,
    remove_invoice_line,
    remove_time_entries,
)
from core.errors import DomainError
from core.money import format_money

from .common import billing_reader, can_write, is_htmx, paginate, render_page, require_writer

CARDS_PER_PAGE = 20
TIME_SOURCES = (SourceType.TIME, SourceType.RETAINER_OVERAGE)
# Retainer lines come and go with the whole draft (the service refuses to remove them one by one).
FIXED_SOURCES = (SourceType.RETAINER_FEE, SourceType.RETAINER_OVERAGE)
FLAG_LABELS = {
    "deviation": "Unusual total",
    "zero_rate": "Zero rate",
    "over_cap": "Over cap",
    "stale_work": "Old work",
    "credit_limit": "Credit limit",
    "rate_mismatch": "Off the rate card",
    "unassigned_person": "Unassigned person",
}


@dataclass
class Panel:
    """What is open under one line: its work ("sources"), the edit form or the remove form."""

    line_id: int
    kind: str
    form: object = None
    sources: dict = field(default_factory=dict)


@dataclass
class DraftCard:
    invoice: Invoice | None
    lines: list = field(default_factory=list)
    release_form: IssueDateForm | None = None
    delete_form: DeleteDraftForm | None = None
    panel: Panel | None = None
    error: str = ""
    notice: str = ""
    # Set when the draft no longer exists (deleted, or its last line removed).
    gone: dict | None = None

    @property
    def flags(self) -> list[dict]:
        return flag_labels(self.invoice.flags) if self.invoice is not None else []


def flag_labels(flags) -> list[dict]:
    return [
        {**flag, "label": FLAG_LABELS.get(flag.get("code"), flag.get("code", "Flag"))} for flag in flags or []
    ]


def annotate_lines(lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """Attach how many rows each line bills and whether review changed it (one query per source kind)."""
    counts = selectors.source_ids(lines)
    for line in lines:
        line.source_count = len(counts.get(line.pk, []))
        line.edited = line.original_amount is not None and line.original_amount != line.amount
        line.removable = line.source_type not in FIXED_SOURCES
    return lines


def build_cards(invoices, **state) -> list[DraftCard]:
    """Cards for a page of invoices: their lines in one query, the release and delete forms."""
    invoices = list(invoices)
    by_invoice: dict[int, list] = {invoice.pk: [] for invoice in invoices}
    lines = list(
        InvoiceLine.objects.filter(invoice_id__in=list(by_invoice)).select_related("project", "role")
    )
    for line in annotate_lines(lines):
        by_invoice[line.invoice_id].append(line)
    return [
        DraftCard(
            invoice=invoice,
            lines=by_invoice[invoice.pk],
            release_form=state.get("release_form") or IssueDateForm(prefix=f"release-{invoice.pk}"),
            delete_form=state.get("delete_form") or DeleteDraftForm(prefix=f"delete-{invoice.pk}"),
            panel=state.get("panel"),
            error=state.get("error", ""),
            notice=state.get("notice", ""),
        )
        for invoice in invoices
    ]


def _drafts():
    return selectors.invoices().select_related("run", "project").filter(status=InvoiceStatus.DRAFT)


@require_GET
@billing_reader
def draft_list(request):
    form = DraftFilterForm(request.GET or None)
    drafts = _drafts().order_by("account__name", "id")
    run = None
    run_id = request.GET.get("run", "")
    if run_id:
        if not run_id.isdigit():
            raise Http404("No such billing run.")
        run = get_object_or_404(BillingRun.objects.select_related("legal_entity"), pk=run_id)
        drafts = drafts.filter(run=run)
    if form.value("legal_entity"):
        drafts = drafts.filter(legal_entity=form.value("legal_entity"))
    if form.value("client"):
        drafts = drafts.filter(account=form.value("client"))
    if form.value("flagged"):
        drafts = drafts.exclude(flags=[])
    page = paginate(request, drafts, CARDS_PER_PAGE)
    summary = list(
        drafts.order_by()
        .values("currency")
        .annotate(count=Count("id"), total=Sum("total_amount"))
        .order_by("currency")
    )
    return render_page(
        request,
        "billing/workbench/list.html",
        {
            "form": form,
            "run": run,
            "drafts": page,
            "cards": build_cards(page.object_list),
            "summary": summary,
            "draft_count": sum(row["count"] for row in summary),
            "flagged_count": drafts.exclude(flags=[]).count(),
            "filtered": form.filtered(),
        },
        section="drafts",
    )


def _draft_page(request, card: DraftCard, *, status: int = 200):
    """One draft's card on its own page: the workbench without JavaScript, and a link to share."""
    return render_page(
        request,
        "billing/workbench/detail.html",
        {"card": card, "invoice": card.invoice},
        section="drafts",
        status=status,
    )


def _invoice(pk: int) -> Invoice | None:
    return selectors.invoices().select_related("run", "project").filter(pk=pk).first()


@require_GET
@billing_reader
def draft_detail(request, pk: int):
    invoice = _invoice(pk)
    if invoice is None:
        raise Http404("No such invoice.")
    if invoice.status != InvoiceStatus.DRAFT:
        return redirect("billing:invoice-detail", pk=pk)
    return _draft_page(request, build_cards([invoice])[0])


def _card(request, pk: int, *, gone: dict | None = None, **state) -> DraftCard:
    invoice = _invoice(pk)
    if invoice is None:
        return DraftCard(
            invoice=None, gone=gone or {"pk": pk, "label": f"Draft #{pk}"}, notice=state.get("notice", "")
        )
    return build_cards([invoice], **state)[0]


def _answer(request, pk: int, *, done: str = "", gone: dict | None = None, failed: bool = False, **state):
    """After an action: the card again for htmx; else back to the draft (or where it went) with a message.

    A refusal (`failed`: an `error`, or a form with errors in `panel` or the release / delete form)
    shows the card with the problem; without htmx, on the draft's own page.
    """
    card = _card(request, pk, gone=gone, notice=done, **state)
    if is_htmx(request):
        return render_page(request, "billing/workbench/_card.html", {"card": card}, section="drafts")
    if failed and card.invoice is not None and card.invoice.status == InvoiceStatus.DRAFT:
        return _draft_page(request, card)
    if card.error:
        messages.error(request, card.error)
    elif done:
        messages.success(request, done)
    if card.invoice is None:
        return redirect("billing:drafts")
    if card.invoice.status != InvoiceStatus.DRAFT:
        return redirect("billing:invoice-detail", pk=pk)
    return redirect("billing:draft-detail", pk=pk)


def _line(pk: int, line_pk: int) -> InvoiceLine:
    return get_object_or_404(
        InvoiceLine.objects.select_related("invoice", "project", "role"), pk=line_pk, invoice_id=pk
    )


def line_sources(line: InvoiceLine) -> dict:
    """The rows a line bills, for the drill-down: time entries, expenses or plan items (and held time)."""
    if line.source_type in TIME_SOURCES:
        return {
            "kind": "time",
            "entries": list(selectors.line_time_entries(line)),
            "holds": list(
                OverCapEntry.objects.filter(invoice_line=line).select_related("time_entry__person")
            ),
        }
    if line.source_type == SourceType.EXPENSE:
        return {"kind": "expense", "expenses": list(selectors.line_expenses(line))}
    if line.source_type == SourceType.MANUAL:
        return {"kind": "manual"}
    return {"kind": "items", "items": list(PlanItem.objects.filter(invoice_line=line).order_by("date", "id"))}


def _sources_panel(request, line: InvoiceLine, form: RemoveEntriesForm | None = None) -> Panel:
    sources = line_sources(line)
    removable = (
        line.invoice.status == InvoiceStatus.DRAFT
        and line.source_type == SourceType.TIME
        and can_write(request.user)
        and sources["entries"]
    )
    if removable and form is None:
        form = RemoveEntriesForm(
            prefix=f"entries-{line.pk}", entry_ids=[entry.pk for entry in sources["entries"]]
        )
    return Panel(line_id=line.pk, kind="sources", form=form if removable else None, sources=sources)


def _panel_response(request, line: InvoiceLine, panel: Panel):
    """A panel under a line: the row alone for htmx; else the draft's page (or the invoice's) with it open."""
    if is_htmx(request):
        line = annotate_lines([line])[0]
        return render_page(
            request,
            "billing/workbench/_panel.html",
            {"line": line, "panel": panel, "invoice": line.invoice, "columns": 8},
            section="drafts",
        )
    if line.invoice.status != InvoiceStatus.DRAFT:
        from .invoices import invoice_page

        return invoice_page(request, line.invoice_id, panel=panel)
    return _draft_page(request, _card(request, line.invoice_id, panel=panel))


def _to_invoice(request, pk: int):
    """A page open since before the draft was released asks to change it: show the invoice instead (the
    whole page, not inside the line's panel)."""
    url = reverse("billing:invoice-detail", args=[pk])
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_GET
@billing_reader
def line_sources_view(request, pk: int, line_pk: int):
    """The drill-down from any invoice line to the time entries, expenses or plan items it bills."""
    line = _line(pk, line_pk)
    return _panel_response(request, line, _sources_panel(request, line))


@require_http_methods(["GET", "POST"])
@billing_reader
def line_edit(request, pk: int, line_pk: int):
    require_writer(request)
    line = _line(pk, line_pk)
    form = LineEditForm.for_line(line, request.POST if request.method == "POST" else None)
    if request.method == "GET":
        if line.invoice.status != InvoiceStatus.DRAFT:
            return _to_invoice(request, pk)
        return _panel_response(request, line, Panel(line_id=line.pk, kind="edit", form=form))
    if form.is_valid():
        data = form.cleaned_data
        try:
            line = edit_invoice_line(
                actor=request.user,
                line=line,
                reason=data["reason"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            amount = format_money(line.amount, line.invoice.currency)
            return _answer(request, pk, done=f"Line “{line.description}” now bills {amount}.")
    return _answer(request, pk, failed=True, panel=Panel(line_id=line.pk, kind="edit", form=form))


@require_http_methods(["GET", "POST"])
@billing_reader
def line_remove(request, pk: int, line_pk: int):
    require_writer(request)
    line = _line(pk, line_pk)
    form = ReasonForm(request.POST if request.method == "POST" else None, prefix=f"remove-{line.pk}")
    if request.method == "GET":
        if line.invoice.status != InvoiceStatus.DRAFT:
            return _to_invoice(request, pk)
        return _panel_response(request, line, Panel(line_id=line.pk, kind="remove", form=form))
    gone = _gone(line.invoice)
    if form.is_valid():
        try:
            remove_invoice_line(actor=request.user, line=line, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            return _answer(
                request,
                pk,
                gone=gone,
                done=f"Line “{line.description}” removed; its work is back to unbilled.",
            )
    return _answer(request, pk, failed=True, panel=Panel(line_id=line.pk, kind="remove", form=form))


@require_POST
@billing_reader
def entries_remove(request, pk: int, line_pk: int):
    """Take ticked time entries off a draft line; they return to unbilled."""
    require_writer(request)
    line = _line(pk, line_pk)
    entry_ids = [entry.pk for entry in selectors.line_time_entries(line)]
    form = RemoveEntriesForm(request.POST, prefix=f"entries-{line.pk}", entry_ids=entry_ids)
    gone = _gone(line.invoice)
    if form.is_valid():
        chosen = [int(pk) for pk in form.cleaned_data["time_entries"]]
        try:
            remove_time_entries(
                actor=request.user, invoice=line.invoice, entry_ids=chosen, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            count = len(chosen)
            return _answer(
                request,
                pk,
                gone=gone,
                done=f"{count} time entr{'y' if count == 1 else 'ies'} taken off; back to unbilled.",
            )
    return _answer(request, pk, failed=True, panel=_sources_panel(request, line, form))


def _gone(invoice: Invoice) -> dict:
    """How to name a draft once it is deleted."""
    return {"pk": invoice.pk, "label": f"Draft #{invoice.pk} for {invoice.account.name}"}


def _draft(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("account"), pk=pk)


@require_POST
@billing_reader
def draft_release(request, pk: int):
    require_writer(request)
    invoice = _draft(pk)
    form = IssueDateForm(request.POST, prefix=f"release-{pk}")
    if form.is_valid():
        try:
            invoice = release_invoice(
                actor=request.user, invoice=invoice, issue_date=form.cleaned_data["issue_date"]
            )
        except DomainError as exc:
            return _answer(request, pk, failed=True, error=exc.detail, release_form=form)
        total = format_money(invoice.total_amount, invoice.currency)
        return _answer(request, pk, done=f"Released as {invoice.number}: {total}, due {invoice.due_date}.")
    return _answer(request, pk, failed=True, release_form=form)


@require_POST
@billing_reader
def draft_delete(request, pk: int):
    require_writer(request)
    invoice = _draft(pk)
    form = DeleteDraftForm(request.POST, prefix=f"delete-{pk}")
    if form.is_valid():
        gone = _gone(invoice)
        try:
            delete_draft_invoice(actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            return _answer(request, pk, failed=True, error=exc.detail, delete_form=form)
        return _answer(request, pk, gone=gone, done=f"{gone['label']} deleted; its work is back to unbilled.")
    return _answer(request, pk, failed=True, delete_form=form)
