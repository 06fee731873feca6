"""Browser forms of the projects pages: they parse and check input; the services decide and write."""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils import timezone

from core.forms import BootstrapFormMixin
from crm.models import Account
from ledger.forms import currencies_in_use
from ledger.models import LegalEntity
from projects.choices import DEFAULT_MARKUP_PERCENT, ExpenseCategory, ProjectStatus
from projects.models import Person, Project, TimeOff

DATE_WIDGET = {"type": "date"}


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d")


def bookable_projects(person: Person):
    """Active projects the person is assigned to (recently or now) or that take anyone."""
    recent = timezone.localdate() - timedelta(days=60)
    return (
        Project.objects.filter(
            Q(allow_any_person=True) | Q(assignments__person=person, assignments__end__gte=recent),
            status=ProjectStatus.ACTIVE,
        )
        .distinct()
        .order_by("code")
    )


class ProjectChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} {obj.name} ({obj.currency})"


class ExpenseForm(BootstrapFormMixin, forms.Form):
    project = ProjectChoiceField(queryset=Project.objects.none())
    date = forms.DateField(widget=date_input())
    category = forms.ChoiceField(choices=ExpenseCategory.choices)
    amount = forms.DecimalField(
        max_digits=18,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "text-end"}),
    )
    currency = forms.ChoiceField()
    billable = forms.BooleanField(required=False, initial=True, help_text="Rebilled to the client.")
    markup_percent = forms.DecimalField(
        label="Markup %",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text="Leave empty for the category's default: "
        + ", ".join(
            f"{ExpenseCategory(k).label.lower()} {v.normalize():f}%"
            for k, v in DEFAULT_MARKUP_PERCENT.items()
        ),
    )
    notes = forms.CharField(max_length=500, required=False, widget=forms.TextInput)
    receipt = forms.FileField(
        required=False,
        help_text="PDF, JPEG or PNG, at most 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    field_order = [
        "project",
        "date",
        "category",
        "amount",
        "currency",
        "billable",
        "markup_percent",
        "notes",
        "receipt",
    ]

    def __init__(self, *args, person: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = bookable_projects(person)
        codes = currencies_in_use()
        self.fields["currency"].choices = [(code, code) for code in codes]

    def add_service_error(self, exc) -> None:
        placed = False
        for name, problems in exc.fields.items():
            if name in self.fields:
                self.add_error(name, list(problems))
                placed = True
        if not placed:
            self.add_error(None, exc.detail)


class ProjectForm(BootstrapFormMixin, forms.Form):
    code = forms.CharField(max_length=30, help_text="Short and unique, e.g. GLX-2026-01.")
    name = forms.CharField(max_length=200)
    account = forms.ModelChoiceField(label="Client", queryset=Account.objects.order_by("name"))
    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.order_by("name"))
    currency = forms.ChoiceField()
    start = forms.DateField(widget=date_input())
    end = forms.DateField(widget=date_input())
    manager = forms.ModelChoiceField(
        queryset=Person.objects.filter(active=True).order_by("name"), required=False
    )
    budget_hours = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False)
    budget_amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal(0), required=False)
    target_margin_percent = forms.DecimalField(
        label="Target margin %", max_digits=5, decimal_places=2, required=False
    )
    allow_any_person = forms.BooleanField(
        required=False, label="Anyone may book time", help_text="For internal and support projects."
    )
    phases = forms.CharField(
        label="Tasks",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One task per line; indent a line with two spaces to put it under the line above. "
        "End a line with * for a non-billable task.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in currencies_in_use()]

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()

    def tasks(self) -> list[dict]:
        """The task tree typed in `phases`."""
        roots: list[dict] = []
        last_root = None
        for line in (self.cleaned_data.get("phases") or "").splitlines():
            if not line.strip():
                continue
            name = line.strip()
            billable = not name.endswith("*")
            spec = {"name": name.rstrip("*").strip(), "billable": billable, "children": []}
            if line.startswith("  ") and last_root is not None:
                last_root["children"].append(spec)
            else:
                roots.append(spec)
                last_root = spec
        return roots

    def add_service_error(self, exc) -> None:
        placed = False
        for name, problems in exc.fields.items():
            if name in self.fields:
                self.add_error(name, list(problems))
                placed = True
        if not placed:
            self.add_error(None, exc.detail)


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(max_length=500)


class ServiceErrorsMixin:
    def add_service_error(self, exc) -> None:
        placed = False
        for name, problems in exc.fields.items():
            if name in self.fields:
                self.add_error(name, list(problems))
                placed = True
        if not placed:
            self.add_error(None, exc.detail)


class TimeOffForm(ServiceErrorsMixin, BootstrapFormMixin, forms.Form):
    """Leave to record; `person` only for those who record anyone's (resource managers)."""

    person = forms.ModelChoiceField(queryset=Person.objects.none(), required=False)
    kind = forms.ChoiceField(choices=TimeOff.Kind.choices, initial=TimeOff.Kind.VACATION)
    start = forms.DateField(widget=date_input())
    end = forms.DateField(widget=date_input())
    hours_per_day = forms.DecimalField(
        label="Hours off a day",
        max_digits=4,
        decimal_places=2,
        initial=Decimal(8),
        help_text="8 for whole days, 4 for half days; never more than your daily capacity counts.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        if people is None:
            del self.fields["person"]
        else:
            self.fields["person"].queryset = people
            self.fields["person"].required = True


class HolidayForm(ServiceErrorsMixin, BootstrapFormMixin, forms.Form):
    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.order_by("name"))
    date = forms.DateField(widget=date_input())
    name = forms.CharField(max_length=100)
