"""Browser forms of the revenue pages. They parse and check the shape of input (types, required reasons); the
revenue recognition services decide whether the action is allowed and write it."""

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from crm.models import Contract
from ledger.forms import (
    AsOfForm,
    DateRangeForm,
    EntityChoiceField,
    EntityPickerForm,
    LedgerForm,
    date_input,
)
from ledger.models import LegalEntity
from revrec.choices import ObligationStatus, RevenueMethod

REASON_HELP = "Kept in the audit trail with your name and the time."
REASON_REQUIRED = "Say why (it is kept in the audit trail)."


def decimal_input(**attrs) -> forms.TextInput:
    # A text input: a number input's spinner and scroll wheel change amounts by accident.
    return forms.TextInput(
        attrs={"inputmode": "decimal", "autocomplete": "off", "class": "text-end", **attrs}
    )


def reason_field() -> forms.CharField:
    return forms.CharField(
        label="Reason",
        max_length=500,
        help_text=REASON_HELP,
        error_messages={"required": REASON_REQUIRED},
    )


def plain(value: Decimal | None) -> str | None:
    """An amount for an input: no trailing zeros and never an exponent (47000, not 4.7E+4)."""
    return None if value is None else format(value.normalize(), "f")


def last_month_end(today: date | None = None) -> date:
    """Revenue is usually recognised for a finished month: the last day of the previous one."""
    return (today or timezone.localdate()).replace(day=1) - timedelta(days=1)


class RevenueForm(LedgerForm):
    """A service's refusal shown in full above the form and its field hints inline, as the ledger's."""


class ContractChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.number} · {obj.account.name}"


class RunForm(RevenueForm):
    """A revenue run: a legal entity's obligations recognised up to a day (usually a month end)."""

    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.all(), widget=forms.HiddenInput)
    period_end = forms.DateField(
        label="Recognise up to",
        widget=date_input(),
        help_text="Usually a month end. The day must fall in an open fiscal period.",
    )


class ObligationFilterForm(forms.Form):
    """The obligations list's filter bar: every field optional."""

    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")
    contract = ContractChoiceField(
        queryset=Contract.objects.none(), required=False, empty_label="Any contract"
    )
    method = forms.ChoiceField(required=False, choices=[("", "Any method"), *RevenueMethod.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "Active and ended"), *ObligationStatus.choices], initial=""
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        contracts = Contract.objects.filter(obligations__isnull=False).select_related("account").distinct()
        entity_id = self.data.get("legal_entity")
        if entity_id and str(entity_id).isdigit():
            contracts = contracts.filter(legal_entity_id=entity_id)
        self.fields["contract"].queryset = contracts.order_by("number")
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"

    def value(self, name):
        return self.cleaned_data.get(name) if self.is_valid() else None

    def filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())


class StandalonePriceForm(RevenueForm):
    """Finance's standalone selling price of an obligation; the contract's price is re-allocated."""

    standalone_price = forms.DecimalField(
        label="Standalone selling price",
        max_digits=20,
        decimal_places=4,
        min_value=Decimal(0),
        widget=decimal_input(),
        help_text="What the promise would sell for on its own; the contract's price is re-allocated by it.",
    )
    reason = reason_field()

    @classmethod
    def for_obligation(cls, obligation, data=None) -> "StandalonePriceForm":
        return cls(data, prefix="ssp", initial={"standalone_price": plain(obligation.standalone_price)})


class EstimateForm(RevenueForm):
    """Finance's estimate at completion of a percent-complete obligation, in cost or in hours."""

    total_cost = forms.DecimalField(
        label="Estimated total cost",
        required=False,
        max_digits=20,
        decimal_places=4,
        widget=decimal_input(),
    )
    total_hours = forms.DecimalField(
        label="Estimated total hours",
        required=False,
        max_digits=14,
        decimal_places=2,
        widget=decimal_input(),
    )
    reason = reason_field()

    def __init__(self, *args, obligation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["total_cost"].label = f"Estimated total cost ({obligation.currency})"
        self.fields["total_cost"].help_text = "Measures cost to cost: delivered cost ÷ this."
        self.fields["total_hours"].help_text = "Measures hours: delivered hours ÷ this."

    @classmethod
    def for_obligation(cls, obligation, data=None) -> "EstimateForm":
        initial = {
            "total_cost": plain(obligation.estimated_total_cost),
            "total_hours": plain(obligation.estimated_total_hours),
        }
        return cls(data, prefix="estimate", obligation=obligation, initial=initial)

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("total_cost") is None and data.get("total_hours") is None:
            raise forms.ValidationError("Enter the estimated total cost or hours.")
        return data


class WaterfallForm(AsOfForm):
    """The revenue waterfall: a legal entity's 12 months up to a day and 12 after, per client or service."""

    group_by = forms.ChoiceField(label="Per", choices=[("client", "Client"), ("service", "Service line")])

    @classmethod
    def for_request(cls, request) -> "WaterfallForm":
        data = dict(super().for_request(request).data)
        data["group_by"] = data.get("group_by") or "client"
        return cls(data)


class RollforwardForm(DateRangeForm):
    """The deferred revenue roll-forward of a period; by default the last finished month."""

    @classmethod
    def for_request(cls, request) -> "RollforwardForm":
        data = dict(EntityPickerForm.for_request(request).data)
        end = last_month_end()
        data["start"] = data.get("start") or end.replace(day=1).isoformat()
        data["end"] = data.get("end") or end.isoformat()
        return cls(data)


class ContractSummaryForm(EntityPickerForm):
    """One contract's revenue position on a day."""

    contract = ContractChoiceField(
        queryset=Contract.objects.none(), required=False, empty_label="Choose a contract…"
    )
    as_of = forms.DateField(label="As of", widget=date_input())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        entity_id = self.data.get("legal_entity")
        contracts = Contract.objects.none()
        if entity_id and str(entity_id).isdigit():
            contracts = (
                Contract.objects.filter(legal_entity_id=entity_id, obligations__isnull=False)
                .select_related("account")
                .distinct()
                .order_by("number")
            )
        self.fields["contract"].queryset = contracts

    @classmethod
    def for_request(cls, request, contract=None) -> "ContractSummaryForm":
        data = dict(EntityPickerForm.for_request(request).data)
        # The contract of the URL, until the options form names another one.
        if contract is not None and "contract" not in request.GET:
            data["legal_entity"], data["contract"] = contract.legal_entity_id, contract.pk
        data["as_of"] = data.get("as_of") or timezone.localdate().isoformat()
        return cls(data)
