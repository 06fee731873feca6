"""Credit notes: the list, one note's page (lines, the work it takes back, history) and releasing it."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from billing import selectors
from billing.choices import CreditNoteStatus
from billing.forms import CreditNoteFilterForm, IssueDateForm
from billing.models import CreditedEntry, CreditNote
from billing.services.credit_notes import release_credit_note
from core.errors import DomainError
from core.money import format_money

from .common import billing_reader, paginate, render_page, require_writer


@require_GET
@billing_reader
def credit_note_list(request):
    form = CreditNoteFilterForm(request.GET or None)
    notes = selectors.credit_notes().order_by("-id")
    if form.value("status"):
        notes = notes.filter(status=form.value("status"))
    if form.value("legal_entity"):
        notes = notes.filter(legal_entity=form.value("legal_entity"))
    return render_page(
        request,
        "billing/credit_notes/list.html",
        {"form": form, "notes": paginate(request, notes), "filtered": form.filtered()},
        section="credit-notes",
    )


def _note(pk: int) -> CreditNote:
    return get_object_or_404(
        selectors.credit_notes().select_related("created_by", "released_by", "journal_entry"), pk=pk
    )


def _detail(request, note: CreditNote, release_form: IssueDateForm | None = None):
    entries = CreditedEntry.objects.filter(credit_line__credit_note=note).select_related(
        "credit_line", "time_entry__person", "expense__person", "plan_item"
    )
    return render_page(
        request,
        "billing/credit_notes/detail.html",
        {
            "note": note,
            "lines": note.lines.select_related("invoice_line"),
            "entries": entries,
            "release_form": release_form or IssueDateForm(prefix="release"),
            "releasable": note.status == CreditNoteStatus.DRAFT,
        },
        section="credit-notes",
    )


@require_GET
@billing_reader
def credit_note_detail(request, pk: int):
    return _detail(request, _note(pk))


@require_POST
@billing_reader
def credit_note_release(request, pk: int):
    require_writer(request)
    note = _note(pk)
    form = IssueDateForm(request.POST, prefix="release")
    if form.is_valid():
        try:
            note = release_credit_note(
                actor=request.user, credit_note=note, issue_date=form.cleaned_data["issue_date"]
            )
        except DomainError as exc:
            if note.status != CreditNoteStatus.DRAFT:
                # Released meanwhile: the form is gone from the page, so say it in an alert.
                messages.error(request, exc.detail)
                return redirect("billing:credit-note-detail", pk=pk)
            form.add_service_error(exc)
        else:
            total = format_money(note.total_amount, note.currency)
            messages.success(
                request, f"Credit note {note.number} released: {total} credited to {note.invoice}."
            )
            return redirect("billing:credit-note-detail", pk=pk)
    return _detail(request, note, form)
