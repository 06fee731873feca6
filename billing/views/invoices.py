"""Invoices: the list, one invoice's page (lines, tax, balance, credit notes, history), its PDF, sending,
voiding and the credit note form."""

import smtplib

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors
from billing.choices import InvoiceStatus, SourceType
from billing.forms import CreditNoteForm, InvoiceFilterForm, ReasonForm, SendForm
from billing.models import Invoice
from billing.services.credit_notes import create_credit_note, credited_so_far
from billing.services.invoices import billing_address, send_invoice, void_invoice
from billing.services.tax import tax_codes_of, tax_summary
from core.errors import DomainError
from core.money import format_money

from .common import billing_reader, billing_writer, int_ids, paginate, render_page, require_writer
from .workbench import annotate_lines, flag_labels

CREDITABLE = (InvoiceStatus.RELEASED, InvoiceStatus.SENT)


@require_GET
@billing_reader
def invoice_list(request):
    form = InvoiceFilterForm(request.GET or None)
    rows = selectors.invoices().order_by("-issue_date", "-id")
    if form.value("status"):
        rows = rows.filter(effective_status=form.value("status"))
    if form.value("legal_entity"):
        rows = rows.filter(legal_entity=form.value("legal_entity"))
    if form.value("client"):
        rows = rows.filter(account=form.value("client"))
    return render_page(
        request,
        "billing/invoices/list.html",
        {"form": form, "invoices": paginate(request, rows), "filtered": form.filtered()},
        section="invoices",
    )


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(
        selectors.invoices().select_related(
            "run", "project", "released_by", "created_by", "account__billing_contact"
        ),
        pk=pk,
    )


def invoice_page(request, pk: int, *, status: int = 200, panel=None, **forms):
    """The invoice's page; `forms` carries a bound send/void form back with its errors."""
    invoice = _invoice(pk)
    lines = annotate_lines(list(invoice.lines.select_related("project", "role")))
    taxes, tax_error = [], ""
    try:
        taxes = tax_summary(lines, tax_codes_of(invoice.legal_entity_id), invoice.currency)
    except DomainError as exc:
        tax_error = exc.detail
    credited = credited_so_far([line.pk for line in lines])
    for line in lines:
        line.credited = credited.get(line.pk)
    creditable = invoice.status in CREDITABLE
    return render_page(
        request,
        "billing/invoices/detail.html",
        {
            "invoice": invoice,
            "status": selectors.effective_status(invoice),
            "balance": selectors.invoice_balance(invoice),
            "lines": lines,
            "taxes": taxes,
            "tax_error": tax_error,
            "flags": flag_labels(invoice.flags) if invoice.status == InvoiceStatus.DRAFT else [],
            "credit_notes": selectors.credit_notes().filter(invoice=invoice).order_by("id"),
            "adjustments": invoice.adjustments.select_related("line", "actor"),
            "billing_address": billing_address(invoice),
            "sendable": creditable,
            "voidable": creditable,
            "creditable": creditable,
            "send_form": forms.get("send_form") or SendForm(prefix="send"),
            "void_form": forms.get("void_form") or ReasonForm(prefix="void"),
            "panel": panel,
        },
        section="drafts" if invoice.status == InvoiceStatus.DRAFT else "invoices",
        status=status,
    )


@require_GET
@billing_reader
def invoice_detail(request, pk: int):
    return invoice_page(request, pk)


@require_GET
@billing_reader
def invoice_pdf(request, pk: int):
    """The invoice as a PDF, shown in the browser (`?time=1` adds the time detail pages)."""
    from billing.pdf import render_invoice_pdf

    invoice = _invoice(pk)
    content = render_invoice_pdf(invoice, time_detail=request.GET.get("time") == "1")
    name = invoice.number or f"draft-{invoice.pk}"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


def _refused(request, invoice: Invoice, exc: DomainError, **forms):
    """A refused send or void: on its form while the invoice still offers it; else (already void, still a
    draft) as an alert on the invoice's page."""
    if invoice.status in CREDITABLE:
        for form in forms.values():
            form.add_service_error(exc)
        return invoice_page(request, invoice.pk, **forms)
    messages.error(request, exc.detail)
    return redirect("billing:invoice-detail", pk=invoice.pk)


@require_POST
@billing_reader
def invoice_send(request, pk: int):
    require_writer(request)
    invoice = _invoice(pk)
    form = SendForm(request.POST, prefix="send")
    if not form.is_valid():
        return invoice_page(request, pk, send_form=form)
    try:
        invoice = send_invoice(actor=request.user, invoice=invoice, to=form.cleaned_data["to"] or None)
    except DomainError as exc:
        return _refused(request, invoice, exc, send_form=form)
    except (OSError, smtplib.SMTPException) as exc:
        # The mail server refused or is down: the service's transaction rolled back, so nothing is marked
        # sent; say so instead of failing the page.
        form.add_error(None, f"The e-mail could not be sent ({exc}); try again later.")
        return invoice_page(request, pk, send_form=form)
    messages.success(request, f"Invoice {invoice.number} sent to {invoice.sent_to}.")
    return redirect("billing:invoice-detail", pk=pk)


@require_POST
@billing_reader
def invoice_void(request, pk: int):
    require_writer(request)
    invoice = _invoice(pk)
    form = ReasonForm(request.POST, prefix="void")
    if form.is_valid():
        try:
            invoice = void_invoice(actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            return _refused(request, invoice, exc, void_form=form)
        else:
            messages.success(
                request,
                f"Invoice {invoice.number} is void; a full credit note cancels it and its work is unbilled.",
            )
            return redirect("billing:invoice-detail", pk=pk)
    return invoice_page(request, pk, void_form=form)


@require_http_methods(["GET", "POST"])
@billing_writer
def credit_note_create(request, pk: int):
    """Take back part of a released invoice: amounts per line and/or exact time entries."""
    invoice = _invoice(pk)
    if invoice.status not in CREDITABLE:
        raise Http404("Only a released or sent invoice can be credited.")
    lines = annotate_lines(list(invoice.lines.select_related("project", "role")))
    credited = credited_so_far([line.pk for line in lines])
    entries = {}
    for line in lines:
        line.credited = credited.get(line.pk)
        line.left = line.amount - (line.credited or 0)
        if line.source_type == SourceType.TIME:
            entries[line.pk] = list(selectors.line_time_entries(line))
        line.entries = entries.get(line.pk, [])
    entry_ids = [entry.pk for rows in entries.values() for entry in rows]
    form = CreditNoteForm(request.POST or None, lines=lines, entry_ids=entry_ids)
    if request.method == "POST" and form.is_valid():
        try:
            note = create_credit_note(
                actor=request.user,
                invoice=invoice,
                reason=form.cleaned_data["reason"],
                lines=form.line_specs(),
                time_entries=int_ids(form.cleaned_data["time_entries"]),
                rebill=form.cleaned_data["outcome"] == "rebill",
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            total = format_money(note.total_amount, note.currency)
            messages.success(request, f"Draft credit note for {total} created; release it to post it.")
            return redirect("billing:credit-note-detail", pk=note.pk)
    for line in lines:
        line.amount_field = form.amount_field(line)
    chosen = set(int_ids(form["time_entries"].value() or []))
    return render_page(
        request,
        "billing/invoices/credit.html",
        {"invoice": invoice, "lines": lines, "form": form, "chosen": chosen},
        section="invoices",
    )
