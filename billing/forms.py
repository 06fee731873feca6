"""Browser forms of the billing pages. They parse and check the shape of input (types, required reasons);
the billing services decide whether the action is allowed and write it."""

import re
from decimal import Decimal

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from billing.choices import CreditNoteStatus, InvoiceStatus, TaxKind
from core.errors import DomainError
from crm.models import Account, Contract
from ledger.choices import AccountType
from ledger.forms import (
    AccountChoiceField,
    AsOfForm,
    DateRangeForm,
    EntityChoiceField,
    EntityPickerForm,
    LedgerForm,
    date_input,
)
from ledger.models import GLAccount, LegalEntity

REASON_HELP = "Kept in the audit trail with your name and the time."
REASON_REQUIRED = "Say why (it is kept in the audit trail)."
SERVICE_LINE_FIELD = re.compile(r"^line\.(\d+)$")


def decimal_input(**attrs) -> forms.TextInput:
    # A text input: a number input's spinner and scroll wheel change amounts by accident.
    return forms.TextInput(
        attrs={"inputmode": "decimal", "autocomplete": "off", "class": "text-end", **attrs}
    )


def reason_field(*, required: bool = True, label: str = "Reason") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=500,
        required=required,
        help_text=REASON_HELP,
        error_messages={"required": REASON_REQUIRED},
    )


class BillingForm(LedgerForm):
    """A service's refusal shown in full above the form and its field hints inline, as the ledger's."""


class ClientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class ContractChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.number} · {obj.account.name}"


class RunForm(BillingForm):
    """What a billing run covers: a legal entity's work up to a date, optionally some clients or contracts."""

    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.all(), widget=forms.HiddenInput)
    period_end = forms.DateField(
        label="Bill work up to",
        widget=date_input(),
        help_text="Approved time and expenses dated on or before this day, and items due by then.",
    )
    accounts = forms.ModelMultipleChoiceField(
        queryset=Account.objects.none(),
        required=False,
        label="Only these clients (optional)",
        help_text="Leave empty for every client. Ctrl/⌘-click to choose several.",
    )
    contracts = ContractChoiceField(
        queryset=Contract.objects.none(),
        required=False,
        label="Only these contracts (optional)",
        help_text="Contracts with an active billing plan. Leave empty for all of them.",
    )

    def __init__(self, *args, entity: LegalEntity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = Account.objects.filter(legal_entity=entity).order_by("name")
        self.fields["contracts"].queryset = (
            Contract.objects.filter(legal_entity=entity, billing_plans__status="active")
            .select_related("account")
            .distinct()
            .order_by("number")
        )
        for name in ("accounts", "contracts"):
            self.fields[name].widget.attrs["size"] = 6

    def scope(self) -> dict:
        data = self.cleaned_data
        return {
            "accounts": [account.pk for account in data.get("accounts") or []],
            "contracts": [contract.pk for contract in data.get("contracts") or []],
        }


class FilterForm(forms.Form):
    """A GET filter bar: every field optional, rendered as small selects."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-select"
            field.widget.attrs["class"] = css

    def value(self, name):
        return self.cleaned_data.get(name) if self.is_valid() else None

    def filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())


def _clients_of(data) -> QuerySet:
    clients = Account.objects.order_by("name")
    entity_id = data.get("legal_entity") if data else None
    if entity_id and str(entity_id).isdigit():
        clients = clients.filter(legal_entity_id=entity_id)
    return clients


class InvoiceFilterForm(FilterForm):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *InvoiceStatus.choices])
    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")
    client = ClientChoiceField(queryset=Account.objects.none(), required=False, empty_label="Any client")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = _clients_of(self.data)


class DraftFilterForm(FilterForm):
    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")
    client = ClientChoiceField(queryset=Account.objects.none(), required=False, empty_label="Any client")
    flagged = forms.BooleanField(required=False, label="Only drafts with flags")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = _clients_of(self.data)


class CreditNoteFilterForm(FilterForm):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *CreditNoteStatus.choices])
    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")


class LineEditForm(BillingForm):
    """A draft line's new quantity or unit price; the reason is what makes it a measurable write-up/-down."""

    quantity = forms.DecimalField(max_digits=14, decimal_places=4, widget=decimal_input())
    unit_price = forms.DecimalField(max_digits=20, decimal_places=4, widget=decimal_input())
    reason = reason_field()

    @classmethod
    def for_line(cls, line, data=None) -> "LineEditForm":
        return cls(
            data,
            prefix=f"line-{line.pk}",
            initial={"quantity": line.quantity.normalize(), "unit_price": line.unit_price.normalize()},
        )


class ReasonForm(BillingForm):
    reason = reason_field()


class DeleteDraftForm(BillingForm):
    reason = reason_field(required=False, label="Reason (optional)")


class RemoveEntriesForm(BillingForm):
    """Some time entries of a draft line to take off; they return to unbilled."""

    time_entries = forms.MultipleChoiceField(
        choices=[], error_messages={"required": "Tick the time entries to take off first."}
    )
    reason = reason_field()

    def __init__(self, *args, entry_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_entries"].choices = [(str(pk), str(pk)) for pk in entry_ids]


class IssueDateForm(BillingForm):
    issue_date = forms.DateField(label="Issue date", widget=date_input())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("issue_date", timezone.localdate())
        super().__init__(*args, **kwargs)


class SendForm(BillingForm):
    to = forms.EmailField(
        label="Send to (optional)",
        required=False,
        max_length=254,
        help_text="Leave empty to use the client's billing contact.",
    )


class CreditNoteForm(BillingForm):
    """What a credit note takes back: an amount per line and/or exact time entries, what becomes of the
    work, and why. One `amount_<line id>` field per invoice line."""

    time_entries = forms.MultipleChoiceField(choices=[], required=False, widget=forms.CheckboxSelectMultiple)
    outcome = forms.ChoiceField(
        label="The credited work",
        choices=[
            ("rebill", "Returns to unbilled: the next billing run bills it again"),
            ("write_off", "Is written off: never billed again"),
        ],
        initial="rebill",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    reason = reason_field()

    def __init__(self, *args, lines, entry_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            self.fields[f"amount_{line.pk}"] = forms.DecimalField(
                label=f"Credit amount, {line.description}",
                required=False,
                max_digits=20,
                decimal_places=4,
                min_value=Decimal("0.01"),
                widget=decimal_input(attrs={"class": "form-control form-control-sm text-end"}),
            )
        self.fields["time_entries"].choices = [(str(pk), str(pk)) for pk in entry_ids]

    def amount_field(self, line):
        return self[f"amount_{line.pk}"]

    def clean(self):
        data = super().clean()
        if not self.errors and not self.line_specs() and not data.get("time_entries"):
            raise forms.ValidationError("Enter an amount for a line or tick time entries to credit.")
        return data

    def line_specs(self) -> list[dict]:
        return [
            {"invoice_line": line.pk, "amount": self.cleaned_data[f"amount_{line.pk}"]}
            for line in self.lines
            if self.cleaned_data.get(f"amount_{line.pk}") is not None
        ]

    def add_service_error(self, exc: DomainError) -> None:
        # The service names a line's problem "line.<id>"; show it beside that line's amount.
        for name, messages in exc.fields.items():
            match = SERVICE_LINE_FIELD.match(name)
            if match and f"amount_{match.group(1)}" in self.fields:
                self.add_error(f"amount_{match.group(1)}", list(messages))
        super().add_service_error(exc)


class TaxCodeForm(BillingForm):
    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.all(), widget=forms.HiddenInput)
    code = forms.CharField(max_length=20, help_text="Short and unique per legal entity, e.g. VAT20.")
    name = forms.CharField(max_length=100, help_text="As printed on invoices, e.g. “VAT 20%”.")
    kind = forms.ChoiceField(choices=TaxKind.choices, initial=TaxKind.STANDARD)
    rate_percent = forms.DecimalField(
        label="Rate (%)",
        max_digits=7,
        decimal_places=4,
        min_value=Decimal(0),
        max_value=Decimal(100),
        widget=decimal_input(),
        help_text="0 for zero-rated and exempt codes. It never changes once created.",
    )
    account = AccountChoiceField(
        queryset=GLAccount.objects.none(),
        required=False,
        label="Tax payable account",
        empty_label="Choose a liability account…",
        help_text="Where standard-rated tax posts; not needed for zero-rated or exempt codes.",
    )

    def __init__(self, *args, entity: LegalEntity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = GLAccount.objects.filter(
            legal_entity=entity, type=AccountType.LIABILITY, active=True
        ).order_by("code")


class WipForm(AsOfForm):
    """Unbilled WIP: a legal entity on a day, per client or per project."""

    group_by = forms.ChoiceField(label="Per", choices=[("client", "Client"), ("project", "Project")])

    @classmethod
    def for_request(cls, request) -> "WipForm":
        data = dict(super().for_request(request).data)
        data["group_by"] = data.get("group_by") or "client"
        return cls(data)


class ForecastForm(EntityPickerForm):
    start = forms.DateField(label="From", widget=date_input())
    months = forms.IntegerField(label="Months", min_value=1, max_value=24)

    @classmethod
    def for_request(cls, request) -> "ForecastForm":
        data = dict(super().for_request(request).data)
        data["start"] = data.get("start") or timezone.localdate().isoformat()
        data["months"] = data.get("months") or 3
        return cls(data)


class RegisterForm(DateRangeForm):
    """The invoice register: a legal entity's documents issued in a period (default: this fiscal year)."""

    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Invoices and credit notes"),
            *((value, label) for value, label in InvoiceStatus.choices if value != InvoiceStatus.DRAFT),
        ],
    )


class ContractStatusForm(EntityPickerForm):
    contract = forms.ModelChoiceField(
        queryset=Contract.objects.none(), required=False, empty_label="Choose a contract…"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        entity_id = self.data.get("legal_entity")
        contracts = Contract.objects.none()
        if entity_id and str(entity_id).isdigit():
            contracts = (
                Contract.objects.filter(legal_entity_id=entity_id, billing_plans__isnull=False)
                .select_related("account")
                .distinct()
                .order_by("number")
            )
        self.fields["contract"].queryset = contracts
        self.fields["contract"].label_from_instance = lambda obj: f"{obj.number} · {obj.account.name}"
