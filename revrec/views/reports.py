"""Revenue reports: the waterfall (with its chart), the deferred revenue roll-forward, unbilled revenue
(contract assets), the remaining performance obligations disclosure and one contract's revenue summary.
Each page and its CSV download (`?format=csv`) come from one `revrec.reports` function, so the file says
what the page says."""

from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from core.errors import DomainError
from crm.models import Contract
from ledger.choices import AccountRole
from ledger.forms import AsOfForm
from ledger.models import GLAccount, LegalEntity
from ledger.views.common import csv_response, wants_csv
from revrec.choices import ObligationStatus, RevenueMethod
from revrec.forms import ContractSummaryForm, RollforwardForm, WaterfallForm
from revrec.reports import (
    contract_revenue_summary,
    deferred_revenue_rollforward,
    revenue_waterfall,
    rpo_disclosure,
    unbilled_revenue,
)

from .common import render_page, revenue_reader

METHODS = dict(RevenueMethod.choices)
STATUSES = dict(ObligationStatus.choices)


def _report(request, template: str, context: dict, *, section: str):
    return render_page(
        request, template, {"has_entities": LegalEntity.objects.exists(), **context}, section=section
    )


def _chart(data: dict) -> list[dict]:
    """Per currency, the waterfall's monthly totals as Chart.js wants them (amounts as strings: exact)."""
    return [
        {
            "currency": total["currency"],
            "labels": [cell["month"].strftime("%Y-%m") for cell in total["months"]],
            "recognized": [str(cell["recognized"]) for cell in total["months"]],
            "scheduled": [str(cell["scheduled"]) for cell in total["months"]],
        }
        for total in data["totals"]
    ]


@require_GET
@revenue_reader
def waterfall_report(request):
    form = WaterfallForm.for_request(request)
    data = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        try:
            data = revenue_waterfall(entity, as_of, group_by=form.cleaned_data["group_by"])
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            months = [month.strftime("%Y-%m") for month in data["months"]]
            return csv_response(
                f"revenue-waterfall-{entity.pk}-{as_of.isoformat()}.csv",
                [
                    data["group_by"],
                    "currency",
                    "kind",
                    *months,
                    "total",
                ],
                [
                    [row.get("name", "Total"), row["currency"], kind]
                    + [cell[kind] for cell in row["months"]]
                    + [row[kind]]
                    for row in [*data["rows"], *data["totals"]]
                    for kind in ("recognized", "scheduled")
                ],
            )
    return _report(
        request,
        "revrec/reports/waterfall.html",
        {"form": form, "data": data, "chart": _chart(data) if data else []},
        section="waterfall",
    )


@require_GET
@revenue_reader
def rollforward_report(request):
    form = RollforwardForm.for_request(request)
    data = None
    if form.is_valid():
        entity = form.cleaned_data["legal_entity"]
        try:
            data = deferred_revenue_rollforward(entity, form.cleaned_data["start"], form.cleaned_data["end"])
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            columns = ["opening", "billed", "recognized", "reclassified", "other", "closing"]
            return csv_response(
                f"deferred-revenue-{entity.pk}-{data['start'].isoformat()}-{data['end'].isoformat()}.csv",
                ["currency", *columns],
                [[row["currency"], *(row[name] for name in columns)] for row in data["rows"]],
            )
    account = None
    if data is not None:
        account = GLAccount.objects.filter(
            legal_entity=form.cleaned_data["legal_entity"], role=AccountRole.DEFERRED_REVENUE
        ).first()
    return _report(
        request,
        "revrec/reports/rollforward.html",
        {"form": form, "data": data, "account": account},
        section="deferred",
    )


@require_GET
@revenue_reader
def unbilled_report(request):
    form = AsOfForm.for_request(request)
    data = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        try:
            data = unbilled_revenue(entity, as_of)
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            return csv_response(
                f"unbilled-revenue-{entity.pk}-{as_of.isoformat()}.csv",
                ["contract", "client", "currency", "recognized", "billed", "unbilled", "since", "age_days"],
                [
                    [
                        row["number"],
                        row["client_name"],
                        row["currency"],
                        row["recognized"],
                        row["billed"],
                        row["unbilled"],
                        row["since"],
                        row["age_days"],
                    ]
                    for row in data["rows"]
                ],
            )
    return _report(request, "revrec/reports/unbilled.html", {"form": form, "data": data}, section="unbilled")


@require_GET
@revenue_reader
def rpo_report(request):
    form = AsOfForm.for_request(request)
    data = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        try:
            data = rpo_disclosure(entity, as_of)
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None and wants_csv(request):
            return csv_response(
                f"remaining-performance-obligations-{entity.pk}-{as_of.isoformat()}.csv",
                ["contract", "client", "currency", "within_12_months", "after_12_months", "total"],
                [
                    [
                        row["number"],
                        row["client_name"],
                        row["currency"],
                        row["within_12_months"],
                        row["after_12_months"],
                        row["total"],
                    ]
                    for row in data["rows"]
                ]
                + [
                    [
                        "Total",
                        "",
                        row["currency"],
                        row["within_12_months"],
                        row["after_12_months"],
                        row["total"],
                    ]
                    for row in data["totals"]
                ],
            )
    return _report(request, "revrec/reports/rpo.html", {"form": form, "data": data}, section="rpo")


@require_GET
@revenue_reader
def contract_report(request, pk: int | None = None):
    contract = None
    if pk is not None:
        contract = get_object_or_404(Contract.objects.select_related("account", "legal_entity"), pk=pk)
    form = ContractSummaryForm.for_request(request, contract=contract)
    data = None
    if form.is_valid() and form.cleaned_data.get("contract") is not None:
        contract = form.cleaned_data["contract"]
        try:
            data = contract_revenue_summary(contract, form.cleaned_data["as_of"])
        except DomainError as exc:
            form.add_service_error(exc)
        if data is not None:
            for row in data["obligations"]:
                row["method_label"] = METHODS.get(row["method"], row["method"])
                row["status_label"] = STATUSES.get(row["status"], row["status"])
        if data is not None and wants_csv(request):
            return csv_response(
                f"contract-revenue-{contract.number}-{data['as_of'].isoformat()}.csv",
                ["obligation", "method", "status", "currency", "allocated", "recognized", "remaining"],
                [
                    [
                        row["description"],
                        row["method"],
                        row["status"],
                        data["currency"],
                        row["allocated"],
                        row["recognized"],
                        row["remaining"],
                    ]
                    for row in data["obligations"]
                ],
            )
    return _report(
        request,
        "revrec/reports/contract.html",
        {"form": form, "contract": contract if data is not None else None, "data": data},
        section="contracts",
    )
