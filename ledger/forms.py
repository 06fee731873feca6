"""Browser forms of the ledger pages. They parse and check the shape of input (types, required fields,
one side per line); the ledger services decide whether the action is allowed and write it."""

from datetime import date
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError
from core.forms import BootstrapFormMixin
from core.money import format_money
from crm.models import Account
from ledger.choices import AccountRole, AccountType
from ledger.models import ArItem, Currency, ExchangeRate, GLAccount, LegalEntity
from ledger.reports.financial import fiscal_year_start

AMOUNT_DIGITS = 18
AMOUNT_PLACES = 4
MAX_LINES = 200
DATE_WIDGET = {"type": "date"}


def date_input(**attrs) -> forms.DateInput:
    return forms.DateInput(attrs={**DATE_WIDGET, **attrs}, format="%Y-%m-%d")


def amount_field(**kwargs) -> forms.DecimalField:
    kwargs.setdefault("max_digits", AMOUNT_DIGITS)
    kwargs.setdefault("decimal_places", AMOUNT_PLACES)
    kwargs.setdefault("min_value", Decimal(0))
    kwargs.setdefault("required", False)
    # A text input: a number input's spinner and scroll wheel change amounts by accident.
    kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
    field = forms.DecimalField(**kwargs)
    field.widget.attrs["class"] = "text-end"
    return field


def currencies_in_use(entity: LegalEntity | None = None) -> list[str]:
    """The currencies worth offering: the entities' functional ones, those with exchange rates, clients'.

    Hundreds of ISO codes are active, most of them historical; a select of all of them helps nobody.
    """
    codes = set(LegalEntity.objects.values_list("functional_currency", flat=True))
    codes.update(ExchangeRate.objects.order_by().values_list("from_currency", flat=True).distinct())
    codes.update(ExchangeRate.objects.order_by().values_list("to_currency", flat=True).distinct())
    clients = Account.objects.all() if entity is None else Account.objects.filter(legal_entity=entity)
    codes.update(clients.order_by().values_list("currency", flat=True).distinct())
    active = set(Currency.objects.filter(code__in=codes, active=True).values_list("code", flat=True))
    first = (
        [entity.functional_currency] if entity is not None and entity.functional_currency in active else []
    )
    return first + sorted(active - set(first))


class LedgerForm(BootstrapFormMixin, forms.Form):
    """A ledger form that shows a service's refusal in full above the form and its field hints inline."""

    def add_service_error(self, exc: DomainError) -> None:
        for name, messages in exc.fields.items():
            if name in self.fields:
                self.add_error(name, list(messages))
        self.add_error(None, exc.detail)


class EntityChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", LegalEntity.objects.order_by("name"))
        kwargs.setdefault("label", "Legal entity")
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.functional_currency})"


def account_label(account: GLAccount) -> str:
    return f"{account.code} {account.name}" if account.active else f"{account.code} {account.name} (inactive)"


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return account_label(obj)


def default_entity() -> LegalEntity | None:
    return LegalEntity.objects.order_by("name").first()


class EntityPickerForm(LedgerForm):
    """A GET form choosing the legal entity a page shows."""

    legal_entity = EntityChoiceField(empty_label=None)

    @classmethod
    def for_request(cls, request) -> "EntityPickerForm":
        return cls(_with_default_entity(request.GET))

    def entity(self) -> LegalEntity | None:
        return self.cleaned_data["legal_entity"] if self.is_valid() else default_entity()


def _with_default_entity(data) -> dict:
    """GET parameters as a dict, with the first legal entity filled in when none (or a stale one) is named."""
    values = {key: data.get(key) for key in data}
    chosen = values.get("legal_entity")
    if not (chosen and str(chosen).isdigit() and LegalEntity.objects.filter(pk=chosen).exists()):
        entity = default_entity()
        values["legal_entity"] = entity.pk if entity else ""
    return values


class PeriodActionForm(LedgerForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit trail with your name and the time.",
    )


class JournalFilterForm(LedgerForm):
    legal_entity = EntityChoiceField(required=False, empty_label="All legal entities")
    date_after = forms.DateField(required=False, label="From", widget=date_input())
    date_before = forms.DateField(required=False, label="To", widget=date_input())
    account = AccountChoiceField(queryset=GLAccount.objects.none(), required=False, empty_label="Any account")
    source_type = forms.ChoiceField(required=False, label="Source")
    client = forms.ModelChoiceField(queryset=Account.objects.none(), required=False, empty_label="Any client")

    def __init__(self, *args, source_types: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_type"].choices = [("", "Any source"), *source_types]
        entity_id = self.data.get("legal_entity")
        accounts = GLAccount.objects.select_related("legal_entity").order_by("legal_entity__name", "code")
        clients = Account.objects.order_by("name")
        if entity_id and str(entity_id).isdigit():
            accounts = accounts.filter(legal_entity_id=entity_id)
            clients = clients.filter(legal_entity_id=entity_id)
        self.fields["account"].queryset = accounts
        self.fields["client"].queryset = clients

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "date_after": data.get("date_after"),
            "date_before": data.get("date_before"),
            "account": data.get("account"),
            "source_type": data.get("source_type") or None,
            "client": data.get("client"),
        }


class EntryForm(LedgerForm):
    """The head of a manual journal entry; its lines are `LineForm`s in a formset."""

    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.all(), widget=forms.HiddenInput)
    date = forms.DateField(widget=date_input())
    memo = forms.CharField(
        max_length=500, help_text="Why the adjustment is made; it appears in the journal and on reports."
    )


class LineForm(BootstrapFormMixin, forms.Form):
    """One line of the manual entry editor. A row left entirely blank is skipped."""

    account = AccountChoiceField(queryset=GLAccount.objects.none(), required=False)
    debit = amount_field()
    credit = amount_field()
    currency = forms.ChoiceField()
    client = forms.ModelChoiceField(queryset=Account.objects.none(), required=False)
    memo = forms.CharField(max_length=300, required=False)

    CONTENT_FIELDS = ("account", "debit", "credit", "client", "memo")

    def __init__(self, *args, entity: LegalEntity, choices: dict, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("currency", entity.functional_currency)
        super().__init__(*args, **kwargs)
        # Any account of the entity is accepted, so the posting service refuses an inactive one with its own
        # message; the select offers the active accounts only (and keeps an inactive one already chosen).
        account = self.fields["account"]
        account.queryset = GLAccount.objects.filter(legal_entity=entity)
        chosen = str(self.data.get(self.add_prefix("account"), "")) if self.is_bound else ""
        account.widget.choices = [("", "Choose an account…")] + [
            (pk, label) for pk, label, active in choices["accounts"] if active or str(pk) == chosen
        ]
        self.fields["client"].queryset = Account.objects.filter(legal_entity=entity)
        self.fields["client"].widget.choices = [("", "No client"), *choices["clients"]]
        self.fields["currency"].choices = [(code, code) for code in choices["currencies"]]
        self.fields["memo"].widget.attrs["placeholder"] = "Line memo"
        for name, field in self.fields.items():
            size = "form-select-sm" if isinstance(field.widget, forms.Select) else "form-control-sm"
            field.widget.attrs["class"] += f" {size}"
            field.widget.attrs["data-field"] = name

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        debit, credit = data.get("debit") or Decimal(0), data.get("credit") or Decimal(0)
        has_content = debit or credit or data.get("client") or data.get("memo")
        if has_content and data.get("account") is None:
            self.add_error("account", "Choose the account this line posts to.")
        if debit and credit:
            self.add_error("credit", "A line debits or credits, not both: split it into two lines.")
        elif data.get("account") is not None and not (debit or credit):
            self.add_error("debit", "Give a debit or a credit amount.")
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in self.CONTENT_FIELDS)


class BaseLineFormSet(forms.BaseFormSet):
    """The editor's rows. The choices every row offers are read once, not once per row."""

    def __init__(self, *args, entity: LegalEntity, **kwargs):
        self.entity = entity
        self.choices = {
            "accounts": [
                (a.pk, account_label(a), a.active)
                for a in GLAccount.objects.filter(legal_entity=entity).order_by("code")
            ],
            "clients": list(
                Account.objects.filter(legal_entity=entity).order_by("name").values_list("pk", "name")
            ),
            "currencies": currencies_in_use(entity),
        }
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"entity": self.entity, "choices": self.choices}

    def lines(self) -> list[tuple[int, LineForm]]:
        """(row index, form) of the rows that are filled in, in order; valid formsets only."""
        return [(index, form) for index, form in enumerate(self.forms) if not form.is_blank]


def line_formset(*, entity: LegalEntity, data=None, initial=None, rows: int = 2):
    """The editor's formset: bound to `data`, or `rows` rows beyond `initial` to start from."""
    extra = 0 if data is not None else max(rows - len(initial or []), 0)
    formset_class = forms.formset_factory(
        LineForm, formset=BaseLineFormSet, extra=extra, max_num=MAX_LINES, absolute_max=MAX_LINES
    )
    return formset_class(data=data, initial=initial, prefix="lines", entity=entity)


class ReverseEntryForm(LedgerForm):
    date = forms.DateField(
        widget=date_input(), help_text="The reversal posts on this day, into an open period."
    )
    memo = forms.CharField(
        max_length=500,
        required=False,
        help_text="Leave empty for “Reversal of JE-…: original memo”.",
    )


class AsOfForm(EntityPickerForm):
    as_of = forms.DateField(label="As of", widget=date_input())

    @classmethod
    def for_request(cls, request) -> "AsOfForm":
        data = _with_default_entity(request.GET)
        data["as_of"] = data.get("as_of") or timezone.localdate().isoformat()
        return cls(data)


class DateRangeForm(EntityPickerForm):
    start = forms.DateField(label="From", widget=date_input())
    end = forms.DateField(label="To", widget=date_input())

    @classmethod
    def for_request(cls, request) -> "DateRangeForm":
        data = _with_default_entity(request.GET)
        today = timezone.localdate()
        entity = LegalEntity.objects.filter(pk=data["legal_entity"]).first() if data["legal_entity"] else None
        data["start"] = (
            data.get("start") or (fiscal_year_start(entity, today) if entity else today).isoformat()
        )
        data["end"] = data.get("end") or today.isoformat()
        return cls(data)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "Choose a day on or after the start.")
        return data


class AgingForm(AsOfForm):
    basis = forms.ChoiceField(
        choices=[("transaction", "Transaction"), ("functional", "Functional")],
        initial="transaction",
        widget=forms.RadioSelect,
    )

    @classmethod
    def for_request(cls, request) -> "AgingForm":
        form = super().for_request(request)
        form.data["basis"] = form.data.get("basis") or "transaction"
        return form


class GeneralLedgerForm(LedgerForm):
    start = forms.DateField(label="From", widget=date_input())
    end = forms.DateField(label="To", widget=date_input())

    @classmethod
    def for_request(cls, request, account: GLAccount) -> "GeneralLedgerForm":
        today = timezone.localdate()
        data = {key: request.GET.get(key) for key in request.GET}
        data["start"] = data.get("start") or fiscal_year_start(account.legal_entity, today).isoformat()
        data["end"] = data.get("end") or today.isoformat()
        return cls(data)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "Choose a day on or after the start.")
        return data


class ClientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} · {obj.legal_entity.name}"


class StatementForm(LedgerForm):
    client = ClientChoiceField(
        queryset=Account.objects.select_related("legal_entity").order_by("name", "pk"),
        empty_label="Choose a client…",
    )
    start = forms.DateField(label="From", widget=date_input())
    end = forms.DateField(label="To", widget=date_input())

    @classmethod
    def for_request(cls, request) -> "StatementForm":
        today = timezone.localdate()
        data = {key: request.GET.get(key) for key in request.GET}
        data["start"] = data.get("start") or date(today.year - 1, today.month, 1).isoformat()
        data["end"] = data.get("end") or today.isoformat()
        # Until a client is chosen there is nothing to check: an unbound form shows no "required" errors.
        return cls(data) if data.get("client") else cls(initial=data)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "Choose a day on or after the start.")
        return data


def bank_accounts(entity: LegalEntity):
    """The accounts cash can arrive in: the entity's active asset accounts other than receivables."""
    return (
        GLAccount.objects.filter(legal_entity=entity, type=AccountType.ASSET, active=True)
        .exclude(role__in=[AccountRole.AR, AccountRole.UNBILLED_REVENUE])
        .order_by("code")
    )


class PaymentForm(LedgerForm):
    legal_entity = forms.ModelChoiceField(queryset=LegalEntity.objects.all(), widget=forms.HiddenInput)
    client = forms.ModelChoiceField(queryset=Account.objects.none(), empty_label="Choose a client…")
    date = forms.DateField(widget=date_input(), help_text="When the money reached the bank.")
    amount = amount_field(required=True, min_value=None)
    currency = forms.ChoiceField()
    bank_account = AccountChoiceField(
        queryset=GLAccount.objects.none(), label="Bank account", empty_label=None
    )
    reference = forms.CharField(
        max_length=100,
        required=False,
        help_text="The bank's or the client's reference, e.g. the remittance number.",
    )

    def __init__(self, *args, entity: LegalEntity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Account.objects.filter(legal_entity=entity).order_by("name")
        self.fields["currency"].choices = [(c, c) for c in currencies_in_use(entity)]
        self.fields["bank_account"].queryset = bank_accounts(entity)
        self.fields["bank_account"].initial = next(
            (a.pk for a in self.fields["bank_account"].queryset if a.role == AccountRole.CASH), None
        )


class AllocationForm(LedgerForm):
    """One amount input per open invoice of the payment's client (`item_<id>`), and the allocation date."""

    on = forms.DateField(
        label="Allocation date",
        widget=date_input(),
        help_text="Dates the allocations and any realized FX; an invoice dated later cannot take money yet.",
    )

    def __init__(self, *args, items: list[ArItem], **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        for item in items:
            field = amount_field(label=f"Amount to apply to {item.number}")
            field.widget.attrs["class"] += " form-control"
            field.widget.attrs["data-open"] = str(item.open_amount)
            self.fields[f"item_{item.pk}"] = field

    def rows(self):
        """(item, bound amount field) per open invoice, oldest due first."""
        return [(item, self[f"item_{item.pk}"]) for item in self.items]

    def clean(self):
        data = super().clean()
        for item in self.items:
            amount = data.get(f"item_{item.pk}")
            if amount and amount > item.open_amount:
                open_amount = format_money(item.open_amount, item.currency)
                self.add_error(f"item_{item.pk}", f"At most the open amount, {open_amount}.")
        if not self.errors and not self.allocations():
            self.add_error(None, "Enter an amount for at least one invoice.")
        return data

    def allocations(self) -> list[tuple[ArItem, Decimal]]:
        return [
            (item, self.cleaned_data[f"item_{item.pk}"])
            for item in self.items
            if self.cleaned_data.get(f"item_{item.pk}")
        ]


class UnallocateForm(LedgerForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the money is taken off this invoice; recorded in the audit trail.",
    )


class ExchangeRateFilterForm(forms.Form):
    from_currency = forms.ChoiceField(required=False, label="From")
    to_currency = forms.ChoiceField(required=False, label="To")

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("from_currency", "to_currency"):
            self.fields[name].choices = [("", "Any"), *((c, c) for c in currencies)]
            self.fields[name].widget.attrs["class"] = "form-select"

    def pair_filter(self) -> Q:
        data = self.cleaned_data if self.is_valid() else {}
        query = Q()
        if data.get("from_currency"):
            query &= Q(from_currency=data["from_currency"])
        if data.get("to_currency"):
            query &= Q(to_currency=data["to_currency"])
        return query


class ExchangeRateForm(LedgerForm):
    from_currency = forms.ChoiceField(label="From currency")
    to_currency = forms.ChoiceField(label="To currency")
    date = forms.DateField(widget=date_input())
    rate = forms.DecimalField(
        max_digits=24,
        decimal_places=12,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text="Units of the “to” currency one unit of the “from” currency buys on that day.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        codes = list(Currency.objects.filter(active=True).values_list("code", flat=True))
        for name in ("from_currency", "to_currency"):
            self.fields[name].choices = [("", "Choose…"), *((c, c) for c in codes)]
