"""Browser forms of the CRM pages. They parse and check input; the services decide and write."""

from datetime import date
from decimal import Decimal

from django import forms

from core.forms import BootstrapFormMixin
from core.models import User
from core.roles import Role
from crm.choices import ActivityKind, BillingModel, BillingPeriod, RevenueMethod, UnusedHours
from crm.models import Account, PipelineStage
from ledger.models import Currency, LegalEntity
from projects.models import Role as DeliveryRole

DATE = forms.DateInput(attrs={"type": "date"})


def account_managers():
    return (
        User.objects.filter(groups__name__in=[Role.PROJECT_MANAGER, Role.ADMIN], is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.display_name


class AccountForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    parent = forms.ModelChoiceField(
        queryset=Account.objects.all(),
        required=False,
        label="Parent company",
        help_text="For a subsidiary: the group it belongs to.",
    )
    legal_entity = forms.ModelChoiceField(
        queryset=LegalEntity.objects.all(),
        label="Contracting legal entity",
        help_text="Our company that signs with and invoices this client.",
    )
    currency = forms.ModelChoiceField(queryset=Currency.objects.filter(active=True), label="Billing currency")
    payment_terms_days = forms.IntegerField(
        min_value=0, max_value=365, initial=30, label="Payment terms (days)"
    )
    tax_code = forms.CharField(max_length=20, required=False, help_text="The tax code its invoices carry.")
    billing_email = forms.EmailField(required=False, label="Billing e-mail")
    domain = forms.CharField(max_length=200, required=False, help_text="e.g. contoso.com")
    industry = forms.CharField(max_length=100, required=False)
    owner = UserChoiceField(queryset=User.objects.none(), required=False, label="Account manager")
    allow_duplicate = forms.BooleanField(
        required=False, label="This is a different client", widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = account_managers()
        self.fields["currency"].initial = "USD"

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("allow_duplicate")
        data["currency"] = data["currency"].code
        return data


class ContactForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=50, required=False)
    role = forms.CharField(max_length=100, required=False, label="Role at the client")


class ActivityForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices)
    subject = forms.CharField(max_length=200)
    due = forms.DateField(widget=DATE, initial=date.today)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class OpportunityForm(BootstrapFormMixin, forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.all(), label="Client")
    name = forms.CharField(max_length=200)
    expected_close = forms.DateField(widget=DATE)
    stage = forms.ChoiceField(choices=())
    amount = forms.DecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text="Estimate until lines are added; then the lines' total.",
    )
    source = forms.CharField(max_length=50, required=False, help_text="Referral, website, event, renewal, …")
    owner = UserChoiceField(queryset=User.objects.none(), required=False, label="Owner")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = list(
            PipelineStage.objects.filter(active=True, outcome="open").values_list("code", "name")
        )
        self.fields["owner"].queryset = account_managers()


class LineForm(BootstrapFormMixin, forms.Form):
    """One opportunity line; milestones as lines of “name; YYYY-MM-DD; amount”."""

    service = forms.CharField(max_length=200)
    phase = forms.CharField(max_length=100, required=False)
    billing_model = forms.ChoiceField(choices=BillingModel.choices)
    role = forms.ModelChoiceField(queryset=DeliveryRole.objects.filter(active=True), required=False)
    hours = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False)
    rate = forms.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal(0), required=False)
    amount = forms.DecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text="Left empty: hours × rate, the milestones' sum or the periods' fees.",
    )
    start = forms.DateField(widget=DATE)
    end = forms.DateField(widget=DATE)
    cap_amount = forms.DecimalField(
        max_digits=20, decimal_places=2, required=False, label="Not-to-exceed cap"
    )
    instalments = forms.IntegerField(
        min_value=1, max_value=120, required=False, label="Fixed-fee instalments"
    )
    billing_period = forms.ChoiceField(choices=[("", "—"), *BillingPeriod.choices], required=False)
    period_amount = forms.DecimalField(
        max_digits=20, decimal_places=2, required=False, label="Fee per period"
    )
    period_hours = forms.DecimalField(
        max_digits=12, decimal_places=2, required=False, label="Hours per period"
    )
    overage_rate = forms.DecimalField(max_digits=20, decimal_places=4, required=False)
    unused_hours = forms.ChoiceField(choices=[("", "—"), *UnusedHours.choices], required=False)
    revenue_method = forms.ChoiceField(
        choices=[("", "Usual for the billing model"), *RevenueMethod.choices], required=False
    )
    milestones = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Go-live; 2026-08-28; 18000.00"}),
        help_text="One per line: name; due date; amount.",
    )

    def clean_milestones(self):
        result = []
        for number, text in enumerate(self.cleaned_data["milestones"].splitlines(), start=1):
            if not text.strip():
                continue
            parts = [part.strip() for part in text.split(";")]
            try:
                name, due, amount = parts
                result.append({"name": name, "due": date.fromisoformat(due), "amount": Decimal(amount)})
            except (ValueError, ArithmeticError):
                raise forms.ValidationError(f"Line {number}: write “name; YYYY-MM-DD; amount”.") from None
        return result

    def spec(self) -> dict:
        data = {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
        data["milestones"] = self.cleaned_data["milestones"]
        if data.get("role") is not None:
            data["role"] = data["role"].pk
        return data


class QuoteForm(BootstrapFormMixin, forms.Form):
    discount_percent = forms.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(100),
        initial=Decimal(0),
        label="Discount (%)",
    )


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class AmendForm(BootstrapFormMixin, forms.Form):
    line = forms.TypedChoiceField(coerce=int, label="Line to change", choices=())
    hours = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False, label="New hours"
    )
    rate = forms.DecimalField(
        max_digits=20, decimal_places=4, min_value=Decimal(0), required=False, label="New rate"
    )
    amount = forms.DecimalField(
        max_digits=20, decimal_places=2, min_value=Decimal(0), required=False, label="New amount"
    )
    end = forms.DateField(widget=DATE, required=False, label="New end date")
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Why (change order)"
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [(line.pk, line.description) for line in lines]

    def change(self) -> dict:
        change = {"id": self.cleaned_data["line"]}
        for name in ("hours", "rate", "amount", "end"):
            if self.cleaned_data.get(name) is not None:
                change[name] = self.cleaned_data[name]
        if ("hours" in change or "rate" in change) and "amount" not in change:
            change["amount"] = None  # recomputed from hours × rate
        return change


class OpportunityFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Name")
    stage = forms.ChoiceField(required=False)
    account = forms.ModelChoiceField(
        queryset=Account.objects.all(), required=False, empty_label="All clients", label="Client"
    )
    owner = UserChoiceField(queryset=User.objects.none(), required=False, empty_label="All owners")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [
            ("", "All stages"),
            ("open", "All open"),
            *PipelineStage.objects.filter(active=True).values_list("code", "name"),
        ]
        self.fields["owner"].queryset = account_managers()
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = css
