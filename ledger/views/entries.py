"""The journal browser, one entry's page, the manual entry editor and reversals."""

import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from ledger.forms import (
    EntityPickerForm,
    EntryForm,
    JournalFilterForm,
    LineForm,
    ReverseEntryForm,
    line_formset,
)
from ledger.models import Allocation, Currency, JournalEntry, JournalLine, LegalEntity, Payment
from ledger.reports.financial import journal
from ledger.services.ar import ALLOCATION_SOURCE, PAYMENT_DOCUMENT, WRITE_OFF_DOCUMENT
from ledger.services.entries import DIRECTLY_REVERSIBLE, MANUAL_SOURCE, post_manual_entry, reverse_entry
from ledger.services.posting import LineSpec

from .common import ledger_reader, ledger_writer, paginate, render_page

ZERO = Decimal(0)
SOURCE_LABELS = {
    MANUAL_SOURCE: "Manual entry",
    PAYMENT_DOCUMENT: "Payment",
    ALLOCATION_SOURCE: "Payment allocation (realized FX)",
    WRITE_OFF_DOCUMENT: "Write-off",
    "billing.invoice": "Invoice",
    "billing.creditnote": "Credit note",
}
LINE_REFERENCE = re.compile(r"^Line (\d+)")


def entry_totals(entry_ids: list[int]) -> dict[int, Decimal]:
    """Functional debits per entry (an entry's size), in one query for a page of entries."""
    rows = (
        JournalLine.objects.filter(entry_id__in=entry_ids)
        .values("entry_id")
        .order_by()
        .annotate(total=Sum("functional_debit"))
    )
    return {row["entry_id"]: row["total"] or ZERO for row in rows}


def with_totals_and_reversals(entries: list[JournalEntry]) -> list[JournalEntry]:
    """Attach `total` (functional debits) and `reversed_by_id` to a page of entries: two queries."""
    ids = [entry.pk for entry in entries]
    totals = entry_totals(ids)
    reversals = dict(JournalEntry.objects.filter(reversal_of_id__in=ids).values_list("reversal_of_id", "pk"))
    for entry in entries:
        entry.total = totals.get(entry.pk, ZERO)
        entry.reversed_by_id = reversals.get(entry.pk)
        entry.source_label = SOURCE_LABELS.get(entry.source_type, entry.source_type)
    return entries


@require_GET
@ledger_reader
def journal_list(request):
    source_types = [
        (source, SOURCE_LABELS.get(source, source))
        for source in JournalEntry.objects.order_by("source_type")
        .values_list("source_type", flat=True)
        .distinct()
    ]
    form = JournalFilterForm(request.GET or None, source_types=source_types)
    entity = form.cleaned_data.get("legal_entity") if form.is_valid() else None
    filters = form.filters()
    entries = journal(legal_entity=entity, filters=filters).select_related("legal_entity")
    page = paginate(request, entries)
    page.object_list = with_totals_and_reversals(list(page.object_list))
    filtered = bool(entity) or any(value for value in filters.values())
    return render_page(
        request,
        "ledger/journal/list.html",
        {
            "form": form,
            "entries": page,
            "filtered": filtered,
            "one_entity": entity is not None or LegalEntity.objects.count() == 1,
            "has_entities": LegalEntity.objects.exists(),
        },
        section="journal",
    )


def _source_document(entry: JournalEntry) -> dict:
    """What caused the entry, for reading: a label, the document's id and, when it has a page, its URL."""
    label = SOURCE_LABELS.get(entry.source_type, entry.source_type)
    document = {"label": label, "reference": entry.source_id, "url": None}
    if entry.source_type == MANUAL_SOURCE:
        document["reference"] = ""
    elif entry.source_type == PAYMENT_DOCUMENT:
        payment = Payment.objects.filter(ar_item__document_id=entry.source_id).first()
        if payment is not None:
            document.update(
                reference=payment.reference or f"#{payment.pk}",
                url=reverse("ledger:payment-detail", args=[payment.pk]),
            )
    elif entry.source_type == ALLOCATION_SOURCE and entry.source_id.isdigit():
        allocation = (
            Allocation.objects.filter(pk=entry.source_id)
            .select_related("credit_item__payment", "debit_item")
            .first()
        )
        if allocation is not None:
            document["reference"] = f"{allocation.credit_item.number} → {allocation.debit_item.number}"
            payment = getattr(allocation.credit_item, "payment", None)
            if payment is not None:
                document["url"] = reverse("ledger:payment-detail", args=[payment.pk])
    return document


def _detail_context(entry: JournalEntry, reverse_form: ReverseEntryForm | None = None) -> dict:
    lines = list(entry.lines.select_related("account", "client").order_by("id"))
    by_currency: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    functional = [ZERO, ZERO]
    for line in lines:
        line.rate_display = f"{line.rate.normalize():f}" if line.rate else ""
        by_currency[line.currency][0] += line.debit
        by_currency[line.currency][1] += line.credit
        functional[0] += line.functional_debit
        functional[1] += line.functional_credit
    reversed_by = JournalEntry.objects.filter(reversal_of=entry).first()
    reversible = (
        entry.source_type in DIRECTLY_REVERSIBLE and entry.reversal_of_id is None and reversed_by is None
    )
    if reverse_form is None:
        reverse_form = ReverseEntryForm(initial={"date": max(timezone.localdate(), entry.date)})
    return {
        "entry": entry,
        "lines": lines,
        "currency_totals": [
            {"currency": currency, "debit": debit, "credit": credit}
            for currency, (debit, credit) in sorted(by_currency.items())
        ],
        "functional_totals": {"debit": functional[0], "credit": functional[1]},
        "functional_currency": entry.legal_entity.functional_currency,
        "multi_currency": any(line.currency != entry.legal_entity.functional_currency for line in lines),
        "source": _source_document(entry),
        "reversed_by": reversed_by,
        "reversible": reversible,
        "reverse_form": reverse_form,
    }


def _entry(pk: int) -> JournalEntry:
    return get_object_or_404(
        JournalEntry.objects.select_related("legal_entity", "period", "created_by", "reversal_of"), pk=pk
    )


@require_GET
@ledger_reader
def entry_detail(request, pk: int):
    entry = _entry(pk)
    return render_page(request, "ledger/entries/detail.html", _detail_context(entry), section="journal")


@require_POST
@ledger_writer
def entry_reverse(request, pk: int):
    entry = _entry(pk)
    form = ReverseEntryForm(request.POST)
    if form.is_valid():
        try:
            reversal = reverse_entry(
                actor=request.user,
                entry=entry,
                on=form.cleaned_data["date"],
                memo=form.cleaned_data["memo"].strip() or None,
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"{entry.display_number} is reversed by {reversal.display_number}.")
            return redirect("ledger:entry-detail", pk=reversal.pk)
    return render_page(request, "ledger/entries/detail.html", _detail_context(entry, form), section="journal")


def _posted_rows(data) -> list[dict]:
    """The editor's rows as posted (raw strings), to show them again with one more row."""
    try:
        total = min(int(data.get("lines-TOTAL_FORMS", 0)), 199)
    except ValueError:
        total = 0
    return [{name: data.get(f"lines-{i}-{name}", "") for name in LineForm.base_fields} for i in range(total)]


def balance_by_currency(data) -> list[dict]:
    """Debits, credits and the difference per currency of the posted rows, for the editor's totals."""
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in _posted_rows(data):
        amounts = []
        for side in ("debit", "credit"):
            try:
                amounts.append(Decimal(str(row[side]).strip() or "0"))
            except InvalidOperation:
                amounts.append(ZERO)
        if any(amounts) and row["currency"]:
            totals[row["currency"]][0] += amounts[0]
            totals[row["currency"]][1] += amounts[1]
    return [
        {"currency": currency, "debit": debit, "credit": credit, "difference": debit - credit}
        for currency, (debit, credit) in sorted(totals.items())
    ]


def _mark_rows(filled: list[tuple[int, LineForm]], exc: DomainError, functional: str) -> None:
    """Put a posting refusal on the rows it is about: "Line N" of the service is the N-th filled row."""
    for reference in exc.fields.get("lines", []):
        match = LINE_REFERENCE.match(str(reference))
        if match and 0 < int(match.group(1)) <= len(filled):
            filled[int(match.group(1)) - 1][1].add_error(None, exc.detail)
    if exc.code == "missing_exchange_rate":
        for _, form in filled:
            currency = form.cleaned_data.get("currency")
            if currency != functional and f"{currency}→{functional}" in exc.detail:
                form.add_error("currency", f"No {currency}→{functional} rate on or before this date.")


@require_http_methods(["GET", "POST"])
@ledger_writer
def entry_create(request):
    if request.method == "GET":
        picker = EntityPickerForm.for_request(request)
        entity = picker.entity()
        if entity is None:
            return render_page(request, "ledger/entries/form.html", {"entity": None}, section="new-entry")
        form = EntryForm(initial={"legal_entity": entity.pk, "date": timezone.localdate()})
        formset = line_formset(entity=entity)
        return _editor(request, picker, entity, form, formset, totals=[])

    entity = get_object_or_404(LegalEntity, pk=request.POST.get("legal_entity") or 0)
    picker = EntityPickerForm({"legal_entity": entity.pk})
    if "add_line" in request.POST:
        # Without JavaScript, "Add line" posts the editor back: show the rows again plus a blank one.
        rows = _posted_rows(request.POST)
        form = EntryForm(initial={name: request.POST.get(name, "") for name in EntryForm.base_fields})
        formset = line_formset(entity=entity, initial=rows, rows=len(rows) + 1)
        return _editor(request, picker, entity, form, formset, totals=balance_by_currency(request.POST))

    form = EntryForm(request.POST)
    formset = line_formset(entity=entity, data=request.POST)
    valid = form.is_valid() & formset.is_valid()
    if formset.non_form_errors():
        form.add_error(None, list(formset.non_form_errors()))
    if valid:
        filled = formset.lines()
        specs = [
            LineSpec(
                account=line.cleaned_data["account"],
                currency=line.cleaned_data["currency"],
                debit=line.cleaned_data["debit"] or ZERO,
                credit=line.cleaned_data["credit"] or ZERO,
                client_id=line.cleaned_data["client"].pk if line.cleaned_data["client"] else None,
                memo=line.cleaned_data["memo"],
            )
            for _, line in filled
        ]
        try:
            entry = post_manual_entry(
                actor=request.user,
                legal_entity=entity,
                date=form.cleaned_data["date"],
                memo=form.cleaned_data["memo"],
                lines=specs,
            )
        except DomainError as exc:
            form.add_service_error(exc)
            _mark_rows(filled, exc, entity.functional_currency)
        else:
            messages.success(request, f"{entry.display_number} posted.")
            return redirect("ledger:entry-detail", pk=entry.pk)
    return _editor(request, picker, entity, form, formset, totals=balance_by_currency(request.POST))


def _editor(request, picker, entity, form, formset, *, totals):
    balance_state = None
    if totals:
        balance_state = "unbalanced" if any(total["difference"] for total in totals) else "balanced"
    units = dict(
        Currency.objects.filter(code__in=formset.choices["currencies"]).values_list("code", "minor_units")
    )
    return render_page(
        request,
        "ledger/entries/form.html",
        {
            "picker": picker,
            "entity": entity,
            "form": form,
            "formset": formset,
            "totals": totals,
            "balance_state": balance_state,
            "currency_units": units,
        },
        section="new-entry",
    )
