"""Cash from clients: the payments list, recording a payment, applying it to invoices, un-allocating."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.money import format_money
from crm.models import Account
from ledger.forms import AllocationForm, EntityChoiceField, EntityPickerForm, PaymentForm, UnallocateForm
from ledger.models import Allocation, ArItem, Currency, JournalEntry, LegalEntity, Payment
from ledger.services.ar import allocate_payment, record_payment, reverse_allocation

from .common import ledger_reader, ledger_writer, paginate, render_page

ZERO = Decimal(0)


class PaymentFilterForm(forms.Form):
    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "All payments"),
            ("unallocated", "With money left to allocate"),
            ("allocated", "Fully allocated"),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"


@require_GET
@ledger_reader
def payment_list(request):
    form = PaymentFilterForm(request.GET or None)
    payments = Payment.objects.select_related("legal_entity", "client", "bank_account", "ar_item").order_by(
        "-date", "-id"
    )
    filtered = False
    if form.is_valid():
        if form.cleaned_data["legal_entity"]:
            payments = payments.filter(legal_entity=form.cleaned_data["legal_entity"])
            filtered = True
        if form.cleaned_data["status"] == "unallocated":
            payments = payments.filter(~Q(ar_item__open_amount=0))
            filtered = True
        elif form.cleaned_data["status"] == "allocated":
            payments = payments.filter(ar_item__open_amount=0)
            filtered = True
    return render_page(
        request,
        "ledger/payments/list.html",
        {"form": form, "payments": paginate(request, payments), "filtered": filtered},
        section="payments",
    )


def open_invoices(payment: Payment):
    """The client's invoices still open in the payment's currency, oldest due first."""
    return (
        ArItem.objects.filter(
            legal_entity_id=payment.legal_entity_id,
            client_id=payment.client_id,
            currency=payment.currency,
            amount__gt=0,
        )
        .exclude(open_amount=0)
        .order_by("due_date", "date", "pk")
    )


@require_http_methods(["GET", "POST"])
@ledger_writer
def payment_create(request):
    if request.method == "GET":
        picker = EntityPickerForm.for_request(request)
        entity = picker.entity()
        form = None
        if entity is not None:
            form = PaymentForm(
                entity=entity,
                initial={
                    "legal_entity": entity.pk,
                    "date": timezone.localdate(),
                    "currency": entity.functional_currency,
                },
            )
        return _payment_form(request, picker, entity, form)

    entity = get_object_or_404(LegalEntity, pk=request.POST.get("legal_entity") or 0)
    picker = EntityPickerForm({"legal_entity": entity.pk})
    form = PaymentForm(request.POST, entity=entity)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment = record_payment(
                actor=request.user,
                legal_entity=entity,
                client=data["client"],
                date=data["date"],
                amount=data["amount"],
                currency=data["currency"],
                bank_account=data["bank_account"],
                reference=data["reference"].strip(),
                allocations=[],
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            amount = format_money(payment.amount, payment.currency)
            if open_invoices(payment).exists():
                messages.success(
                    request, f"Payment of {amount} recorded. Now apply it to the client's invoices."
                )
                return redirect("ledger:payment-allocate", pk=payment.pk)
            messages.success(
                request,
                f"Payment of {amount} recorded. {payment.client} has no open {payment.currency} invoices, "
                "so it stays unallocated until one is released.",
            )
            return redirect("ledger:payment-detail", pk=payment.pk)
    return _payment_form(request, picker, entity, form)


def _payment_form(request, picker, entity, form):
    has_clients = entity is not None and Account.objects.filter(legal_entity=entity).exists()
    return render_page(
        request,
        "ledger/payments/form.html",
        {"picker": picker, "entity": entity, "form": form, "has_clients": has_clients},
        section="payments",
    )


def _payment(pk: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related(
            "legal_entity", "client", "bank_account", "ar_item", "journal_entry", "created_by"
        ),
        pk=pk,
    )


@require_GET
@ledger_reader
def payment_detail(request, pk: int):
    payment = _payment(pk)
    allocations = list(
        Allocation.objects.filter(credit_item=payment.ar_item)
        .select_related("debit_item", "created_by")
        .order_by("id")
    )
    reversed_ids = {row.reversal_of_id for row in allocations if row.reversal_of_id}
    fx_entries = dict(
        JournalEntry.objects.filter(
            posting_key__in=[f"allocation:{row.pk}" for row in allocations]
        ).values_list("posting_key", "pk")
    )
    for row in allocations:
        row.is_reversed = row.pk in reversed_ids
        row.fx_entry_id = fx_entries.get(f"allocation:{row.pk}")
    applied = sum((row.amount for row in allocations), ZERO)
    fx_total = sum((row.fx_difference for row in allocations), ZERO)
    return render_page(
        request,
        "ledger/payments/detail.html",
        {
            "payment": payment,
            "allocations": allocations,
            "applied": applied,
            "fx_total": fx_total,
            "unallocated": -payment.ar_item.open_amount,
            "functional_currency": payment.legal_entity.functional_currency,
            "booking_rate": f"{payment.ar_item.rate.normalize():f}",
            "booked_value": -payment.ar_item.functional_amount,
            "has_open_invoices": open_invoices(payment).exists(),
        },
        section="payments",
    )


@require_http_methods(["GET", "POST"])
@ledger_writer
def payment_allocate(request, pk: int):
    payment = _payment(pk)
    items = list(open_invoices(payment))
    today = timezone.localdate()
    form = AllocationForm(request.POST or None, items=items, initial={"on": max(today, payment.date)})
    if request.method == "POST" and form.is_valid():
        try:
            made = allocate_payment(
                actor=request.user,
                payment=payment,
                allocations=form.allocations(),
                on=form.cleaned_data["on"],
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            payment.ar_item.refresh_from_db(fields=["open_amount"])
            applied = format_money(sum((row.amount for row in made), ZERO), payment.currency)
            left = format_money(-payment.ar_item.open_amount, payment.currency)
            invoices = f"{len(made)} invoice{'s' if len(made) != 1 else ''}"
            messages.success(request, f"Applied {applied} to {invoices}; {left} left unallocated.")
            return redirect("ledger:payment-detail", pk=payment.pk)
    for item in items:
        item.days_overdue = max((today - item.due_date).days, 0)
    return render_page(
        request,
        "ledger/payments/allocate.html",
        {
            "payment": payment,
            "form": form,
            "unallocated": -payment.ar_item.open_amount,
            "minor_units": dict(
                Currency.objects.filter(code=payment.currency).values_list("code", "minor_units")
            ),
        },
        section="payments",
    )


@require_http_methods(["GET", "POST"])
@ledger_writer
def allocation_reverse(request, pk: int):
    allocation = get_object_or_404(
        Allocation.objects.select_related("debit_item", "credit_item__payment", "created_by").filter(
            credit_item__payment__isnull=False, reversal_of__isnull=True
        ),
        pk=pk,
    )
    payment = allocation.credit_item.payment
    already = Allocation.objects.filter(reversal_of=allocation).exists()
    form = UnallocateForm(request.POST or None)
    if request.method == "POST" and not already and form.is_valid():
        try:
            reverse_allocation(actor=request.user, allocation=allocation, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            amount = format_money(allocation.amount, allocation.debit_item.currency)
            messages.success(
                request,
                f"{amount} taken off {allocation.debit_item.number}; it is unallocated on the payment again.",
            )
            return redirect("ledger:payment-detail", pk=payment.pk)
    return render_page(
        request,
        "ledger/payments/unallocate.html",
        {"allocation": allocation, "payment": payment, "form": form, "already": already},
        section="payments",
    )
