"""Billing reports: unbilled WIP, the billing forecast, the invoice register and a contract's billing status.
Each page and its CSV download (`?format=csv`) come from one report function, so the file says what the
page says."""

from django.views.decorators.http import require_GET

from billing.forms import ContractStatusForm, ForecastForm, RegisterForm, WipForm
from billing.reports import billing_forecast, contract_billing_status, invoice_register, unbilled_wip
from billing.reports.wip import BUCKETS
from core.errors import DomainError
from ledger.models import LegalEntity
from ledger.views.common import csv_response, wants_csv

from .common import billing_reader, render_page

BUCKET_LABELS = {"0_30": "0–30 days", "31_60": "31–60 days", "61_90": "61–90 days", "over_90": "Over 90 days"}
MODEL_LABELS = {
    "time_and_materials": "Time and materials",
    "fixed_fee": "Fixed fee",
    "milestone": "Milestones",
    "subscription": "Subscription",
    "retainer": "Retainer",
}


def _report(request, template: str, context: dict, *, report: str):
    return render_page(
        request,
        template,
        {"report": report, "has_entities": LegalEntity.objects.exists(), **context},
        section="reports",
    )


@require_GET
@billing_reader
def wip_report(request):
    form = WipForm.for_request(request)
    data = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        try:
            data = unbilled_wip(entity, as_of, group_by=form.cleaned_data["group_by"])
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            return csv_response(
                f"unbilled-wip-{entity.pk}-{as_of.isoformat()}.csv",
                [data.group_by, "currency", "hours", "time", "expenses", *BUCKETS, "total"],
                [
                    [row.name, row.currency, row.hours, row.time_amount, row.expense_amount]
                    + [row.buckets[name] for name in BUCKETS]
                    + [row.total]
                    for row in [*data.rows, *data.totals]
                ],
            )
    return _report(
        request,
        "billing/reports/wip.html",
        {"form": form, "data": data, "buckets": BUCKET_LABELS},
        report="wip",
    )


@require_GET
@billing_reader
def forecast_report(request):
    form = ForecastForm.for_request(request)
    data = None
    if form.is_valid():
        try:
            data = billing_forecast(
                form.cleaned_data["legal_entity"], form.cleaned_data["start"], form.cleaned_data["months"]
            )
        except DomainError as exc:
            form.add_service_error(exc)
    currencies = sorted({currency for month in data.months for currency in month.total}) if data else []
    return _report(
        request,
        "billing/reports/forecast.html",
        {"form": form, "data": data, "currencies": currencies},
        report="forecast",
    )


@require_GET
@billing_reader
def register_report(request):
    form = RegisterForm.for_request(request)
    data = None
    if form.is_valid():
        entity = form.cleaned_data["legal_entity"]
        try:
            data = invoice_register(
                entity,
                form.cleaned_data["start"],
                form.cleaned_data["end"],
                status=form.cleaned_data["status"] or None,
            )
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            return csv_response(
                f"invoice-register-{entity.pk}-{data.date_from.isoformat()}-{data.date_to.isoformat()}.csv",
                [
                    "kind",
                    "number",
                    "invoice",
                    "status",
                    "client",
                    "issue_date",
                    "due_date",
                    "currency",
                    "subtotal",
                    "tax",
                    "total",
                    "balance",
                    f"total_{data.functional_currency.lower()}",
                ],
                [
                    [
                        row.kind,
                        row.number,
                        row.invoice_number,
                        row.status,
                        row.client_name,
                        row.issue_date,
                        row.due_date,
                        row.currency,
                        row.subtotal,
                        row.tax,
                        row.total,
                        row.balance,
                        row.functional_total,
                    ]
                    for row in data.rows
                ],
            )
    return _report(request, "billing/reports/register.html", {"form": form, "data": data}, report="register")


@require_GET
@billing_reader
def contract_status_report(request):
    form = ContractStatusForm.for_request(request)
    contract = form.cleaned_data.get("contract") if form.is_valid() else None
    data = contract_billing_status(contract) if contract is not None else None
    plans = (
        [(plan, MODEL_LABELS.get(plan.billing_model, plan.billing_model)) for plan in data.plans]
        if data
        else []
    )
    return _report(
        request,
        "billing/reports/contracts.html",
        {"form": form, "contract": contract, "data": data, "plans": plans},
        report="contracts",
    )
