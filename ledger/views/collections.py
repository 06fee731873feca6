"""The collections workbench (finance): overdue clients by priority, and one client's file with the actions.

Every action posts to `client_action` and calls one service: log a call, record a promise to pay, open or
resolve a dispute, e-mail a statement, record a payment (applied oldest due first). Executives read.
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.money import format_money
from crm.models import Account, Contact
from ledger.choices import ArItemKind, HoldStatus
from ledger.collections import SORTS, client_file, trends, workbench, workbench_totals
from ledger.forms import (
    AccountChoiceField,
    EntityPickerForm,
    LedgerForm,
    amount_field,
    bank_accounts,
    currencies_in_use,
    date_input,
)
from ledger.models import ArItem, CollectionHold, DunningNotice, DunningRun
from ledger.services.ar import record_payment
from ledger.services.collections import (
    log_collection_call,
    open_dispute,
    record_promise_to_pay,
    resolve_hold,
    send_statement,
)
from ledger.services.dunning.letters import render_notice_pdf, render_statement_pdf
from ledger.services.dunning.notices import notice_filename

from .common import ledger_reader, paginate, render_page, require_writer

WORKBENCH_PAGE_SIZE = 25


def _open_invoices(client: Account):
    return ArItem.objects.filter(
        client=client, kind=ArItemKind.INVOICE, amount__gt=0, open_amount__gt=0
    ).order_by("due_date", "id")


def _item_label(item: ArItem) -> str:
    open_amount = format_money(item.open_amount, item.currency)
    return f"{item.number} · due {item.due_date.isoformat()} · {open_amount} open"


class ItemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _item_label(obj)


class ItemsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return _item_label(obj)


class CallForm(LedgerForm):
    summary = forms.CharField(max_length=180, help_text="What was said or agreed, in a line.")
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(), required=False, empty_label="Nobody named"
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    follow_up = forms.DateField(
        widget=date_input(), required=False, help_text="Plans a task for you that day."
    )

    def __init__(self, *args, client: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(account=client).order_by("name")


class PromiseForm(LedgerForm):
    until = forms.DateField(widget=date_input(), label="Pay by")
    amount = amount_field(required=True, label="Promised amount")
    currency = forms.ChoiceField()
    invoices = ItemsChoiceField(
        queryset=ArItem.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for a promise on the whole account.",
    )
    note = forms.CharField(max_length=500, required=False, label="Note")

    def __init__(self, *args, client: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoices"].queryset = _open_invoices(client)
        codes = [client.currency, *currencies_in_use(client.legal_entity)]
        self.fields["currency"].choices = [(code, code) for code in dict.fromkeys(codes)]
        self.fields["currency"].initial = client.currency


class DisputeForm(LedgerForm):
    ar_item = ItemChoiceField(
        queryset=ArItem.objects.none(), label="Invoice", empty_label="Choose an invoice…"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="What the client disputes.")

    def __init__(self, *args, client: Account, **kwargs):
        super().__init__(*args, **kwargs)
        disputed = CollectionHold.objects.filter(
            client=client, kind="dispute", status=HoldStatus.OPEN
        ).values("ar_item_id")
        self.fields["ar_item"].queryset = _open_invoices(client).exclude(pk__in=disputed)


class ResolveForm(LedgerForm):
    hold = forms.IntegerField(widget=forms.HiddenInput)
    resolution = forms.CharField(
        max_length=1000, help_text="What was agreed, or why the promise is withdrawn."
    )


class CollectPaymentForm(LedgerForm):
    date = forms.DateField(widget=date_input(), help_text="When the money reached the bank.")
    amount = amount_field(required=True)
    currency = forms.ChoiceField()
    bank_account = AccountChoiceField(queryset=None, label="Bank account", empty_label=None)
    reference = forms.CharField(max_length=100, required=False)

    def __init__(self, *args, client: Account, **kwargs):
        super().__init__(*args, **kwargs)
        entity = client.legal_entity
        codes = [client.currency, *currencies_in_use(entity)]
        self.fields["currency"].choices = [(code, code) for code in dict.fromkeys(codes)]
        self.fields["currency"].initial = client.currency
        self.fields["bank_account"].queryset = bank_accounts(entity)
        self.fields["date"].initial = timezone.localdate()


FORMS = {
    "call": CallForm,
    "promise": PromiseForm,
    "dispute": DisputeForm,
    "resolve": ResolveForm,
    "payment": CollectPaymentForm,
}


@require_GET
@ledger_reader
def collections_workbench(request):
    picker = EntityPickerForm.for_request(request)
    entity = picker.entity()
    context = {"picker": picker, "entity": entity, "sorts": list(SORTS)}
    if entity is not None:
        as_of = timezone.localdate()
        sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "score"
        descending = request.GET.get("dir") != "asc"
        rows = workbench(legal_entity=entity, as_of=as_of, sort=sort, descending=descending)
        points = trends(legal_entity=entity, as_of=as_of)
        context.update(
            as_of=as_of,
            sort=sort,
            descending=descending,
            rows=paginate(request, rows, WORKBENCH_PAGE_SIZE),
            totals=workbench_totals(rows, entity.functional_currency),
            last_run=DunningRun.objects.filter(legal_entity=entity).order_by("-id").first(),
            chart={
                "currency": entity.functional_currency,
                "labels": [point["date"].isoformat() for point in points],
                "ar": [str(point["ar"]) for point in points],
                "overdue": [str(point["overdue"]) for point in points],
                "dso": [None if point["dso"] is None else str(point["dso"]) for point in points],
            },
        )
    return render_page(request, "ledger/collections/workbench.html", context, section="collections")


def _client(pk: int) -> Account:
    return get_object_or_404(Account.objects.select_related("legal_entity", "owner"), pk=pk)


def _client_page(request, client: Account, bound: dict | None = None, status: int = 200):
    as_of = timezone.localdate()
    # Prefixed: the forms share one page, so their field ids must not collide.
    forms_by_name = {
        name: form_class(client=client, prefix=name)
        for name, form_class in FORMS.items()
        if name != "resolve"
    }
    forms_by_name["resolve"] = ResolveForm()
    forms_by_name.update(bound or {})
    context = {
        "client": client,
        "as_of": as_of,
        "file": client_file(client=client, as_of=as_of),
        "forms": forms_by_name,
        "open_tab": next(iter(bound), "") if bound else "",
    }
    return render_page(
        request, "ledger/collections/client.html", context, section="collections", status=status
    )


@require_GET
@ledger_reader
def collections_client(request, pk: int):
    return _client_page(request, _client(pk))


def _run(request, client: Account, name: str, form) -> str:
    """Call the action's service with the form's data; returns the message to flash."""
    data, actor = form.cleaned_data, request.user
    if name == "call":
        log_collection_call(
            actor=actor,
            client=client,
            summary=data["summary"],
            contact=data["contact"],
            notes=data["notes"],
            follow_up=data["follow_up"],
        )
        return "Call logged in the CRM" + (
            f", follow-up planned for {data['follow_up']}." if data["follow_up"] else "."
        )
    if name == "promise":
        holds = record_promise_to_pay(
            actor=actor,
            client=client,
            until=data["until"],
            amount=data["amount"],
            currency=data["currency"],
            ar_items=list(data["invoices"]) or None,
            note=data["note"],
        )
        return (
            f"Promise to pay {format_money(data['amount'], holds[0].currency)} by {data['until']} recorded; "
            "dunning holds off until then."
        )
    if name == "dispute":
        hold = open_dispute(actor=actor, ar_item=data["ar_item"], reason=data["reason"])
        number = hold.ar_item.number
        return f"Invoice {number} is disputed; dunning pauses on it and the account manager has a task."
    if name == "resolve":
        hold = get_object_or_404(CollectionHold, pk=data["hold"], client=client)
        resolve_hold(actor=actor, hold=hold, resolution=data["resolution"])
        return f"{hold.get_kind_display()} resolved; dunning resumes on the next run."
    payment = record_payment(
        actor=actor,
        legal_entity=client.legal_entity,
        client=client,
        date=data["date"],
        amount=data["amount"],
        currency=data["currency"],
        bank_account=data["bank_account"],
        reference=data["reference"].strip(),
        allocations=None,
    )
    return (
        f"Payment of {format_money(payment.amount, payment.currency)} recorded and applied oldest due first."
    )


@require_POST
@ledger_reader
def client_action(request, pk: int, action: str):
    require_writer(request)
    client = _client(pk)
    if action == "statement":
        try:
            send_statement(actor=request.user, client=client)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Statement e-mailed to {client.billing_email}.")
        return redirect("ledger:collections-client", pk=client.pk)
    if action not in FORMS:
        raise Http404("No such collections action.")
    form_class = FORMS[action]
    if action == "resolve":
        form = form_class(request.POST)
    else:
        form = form_class(request.POST, client=client, prefix=action)
    if form.is_valid():
        try:
            message = _run(request, client, action, form)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, message)
            return redirect("ledger:collections-client", pk=client.pk)
    return _client_page(request, client, bound={action: form}, status=400)


@require_GET
@ledger_reader
def client_statement_pdf(request, pk: int):
    client = _client(pk)
    content = render_statement_pdf(client=client, as_of=timezone.localdate())
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{client.pk}.pdf"'
    return response


@require_GET
@ledger_reader
def notice_pdf(request, pk: int):
    notice = get_object_or_404(DunningNotice, pk=pk)
    response = HttpResponse(render_notice_pdf(notice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{notice_filename(notice)}"'
    return response
