"""Browser forms of the core pages. They parse and check input; the services decide and write."""

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from core.errors import DomainError
from core.models.api_keys import API_AREAS

AREA_DESCRIPTIONS = {
    "core": "Platform: users, API keys, events, audit trail",
    "crm": "CRM: clients, contacts, opportunities, quotes, contracts",
    "projects": "Projects: tasks, staffing, time and expenses",
    "billing": "Billing: billing runs, invoices, credit notes",
    "ledger": "Ledger: journal entries, payments, receivables",
    "revrec": "Revenue recognition: obligations, schedules, runs",
    "analytics": "Analytics: KPIs and dashboards",
}


class BootstrapFormMixin:
    """Gives widgets Bootstrap classes; marks fields with errors `is-invalid` (Django sets aria-invalid)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            widget = self.fields[name].widget if name in self.fields else None
            if widget is not None and "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def add_domain_error(self, exc: DomainError) -> None:
        """Show a service's refusal on the form: per-field messages inline, the rest above the form."""
        placed = False
        for name, messages in exc.fields.items():
            if name in self.fields:
                self.add_error(name, list(messages))
                placed = True
        if not placed:
            self.add_error(None, exc.detail)


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class ApiKeyForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Something that says where the key is used, e.g. “Nightly CRM sync”."
    )
    scopes = forms.MultipleChoiceField(
        choices=[(f"{area}:{level}", f"{area}:{level}") for area in API_AREAS for level in ("read", "write")],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
        help_text="Write includes read. Choose only what the integration needs.",
    )
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Expires on (optional)",
        help_text="The key stops working at the end of this day. Leave empty for a key that does not expire.",
    )

    def scope_rows(self):
        """(area, description, read checkbox, write checkbox) per API area, for the scope grid."""
        boxes = {box.data["value"]: box for box in self["scopes"]}
        return [
            (area, AREA_DESCRIPTIONS.get(area, ""), boxes[f"{area}:read"], boxes[f"{area}:write"])
            for area in API_AREAS
        ]

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Choose today or a later day.")
        return day

    def expires_at(self):
        """The end of the chosen day in the site's time zone, or None."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))

    def add_domain_error(self, exc: DomainError) -> None:
        if "expires_at" in exc.fields:
            exc.fields.setdefault("expires_on", exc.fields.pop("expires_at"))
        super().add_domain_error(exc)


def parse_event_types(value: str) -> list[str]:
    """ "invoice.released, payment.received" or one per line → a sorted list without duplicates."""
    names = {part.strip() for line in value.splitlines() for part in line.split(",")}
    return sorted(name for name in names if name)


class WebhookForm(BootstrapFormMixin, forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/ledgerline"}),
        help_text="We POST each event here as JSON, signed with the subscription's secret.",
    )
    event_types = forms.CharField(
        label="Event types",
        initial="*",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line or comma-separated, e.g. invoice.released, payment.received. "
        "Use * for every event.",
    )
    description = forms.CharField(max_length=200, required=False)
    active = forms.BooleanField(
        required=False, initial=True, help_text="Inactive subscriptions receive nothing."
    )

    def clean_event_types(self):
        types = parse_event_types(self.cleaned_data["event_types"])
        if not types:
            raise forms.ValidationError("Name at least one event type, or * for every event.")
        return types


class WebhookCreateForm(WebhookForm):
    secret = forms.CharField(
        max_length=100,
        required=False,
        label="Signing secret (optional)",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Leave empty and we generate a strong one. You can read it on the subscription's page.",
    )

    field_order = ["url", "event_types", "description", "secret", "active"]

    def clean_secret(self):
        return self.cleaned_data["secret"].strip() or None


class WebhookEditForm(WebhookForm):
    @classmethod
    def initial_for(cls, subscription) -> dict:
        return {
            "url": subscription.url,
            "event_types": ", ".join(subscription.event_types),
            "description": subscription.description,
            "active": subscription.active,
        }

    def changed_fields(self) -> dict:
        """Only the fields the user changed, as the service wants them."""
        return {name: self.cleaned_data[name] for name in self.changed_data}


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(required=False, label="Event type")

    def __init__(self, *args, types: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "All types"), *((t, t) for t in types)]
        self.fields["type"].widget.attrs["class"] = "form-select"


class AuditFilterForm(BootstrapFormMixin, forms.Form):
    object_type = forms.CharField(required=False, label="Object type", max_length=100)
    object_id = forms.CharField(required=False, label="Object id", max_length=64)
    actor = forms.CharField(required=False, label="Actor (username)", max_length=150)
    action = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        placeholders = {"object_type": "e.g. billing.invoice", "action": "e.g. api_key.created"}
        for name, text in placeholders.items():
            self.fields[name].widget.attrs["placeholder"] = text
