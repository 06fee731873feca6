"""Financial and receivables reports. Each page and its CSV download (`?format=csv`) come from one report
function, so the file always says what the page says."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.errors import DomainError
from ledger.forms import AgingForm, AsOfForm, DateRangeForm, GeneralLedgerForm, StatementForm
from ledger.models import GLAccount, LegalEntity
from ledger.reports.aging import BUCKETS, ar_aging
from ledger.reports.dso import dso_countback
from ledger.reports.financial import (
    balance_sheet,
    fiscal_year_start,
    general_ledger,
    profit_and_loss,
    trial_balance,
)
from ledger.reports.statement import customer_statement

from .common import csv_response, ledger_reader, render_page, wants_csv

BUCKET_LABELS = {
    "current": "Current",
    "1_30": "1–30 days",
    "31_60": "31–60 days",
    "61_90": "61–90 days",
    "over_90": "Over 90 days",
}


def _report(request, template: str, context: dict, *, report: str):
    return render_page(
        request,
        template,
        {"report": report, "has_entities": LegalEntity.objects.exists(), **context},
        section="reports",
    )


@require_GET
@ledger_reader
def trial_balance_report(request):
    form = AsOfForm.for_request(request)
    data = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        data = trial_balance(legal_entity=entity, as_of=as_of)
        if wants_csv(request):
            return csv_response(
                f"trial-balance-{entity.pk}-{as_of.isoformat()}.csv",
                ["account_code", "account_name", "type", "debit", "credit", "balance", "currency"],
                [
                    *(
                        [
                            r["code"],
                            r["name"],
                            r["type"],
                            r["debit"],
                            r["credit"],
                            r["balance"],
                            data["currency"],
                        ]
                        for r in data["rows"]
                    ),
                    [
                        "",
                        "Total",
                        "",
                        data["totals"]["debit"],
                        data["totals"]["credit"],
                        "",
                        data["currency"],
                    ],
                ],
            )
        year_start = fiscal_year_start(entity, as_of)
        for row in data["rows"]:
            row["url"] = (
                reverse("ledger:general-ledger", args=[row["account_id"]])
                + f"?start={year_start.isoformat()}&end={as_of.isoformat()}"
            )
    return _report(request, "ledger/reports/trial_balance.html", {"form": form, "data": data}, report="tb")


@require_GET
@ledger_reader
def general_ledger_report(request, account_id: int):
    account = get_object_or_404(GLAccount.objects.select_related("legal_entity"), pk=account_id)
    form = GeneralLedgerForm.for_request(request, account)
    data = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        after = request.GET.get("after")
        try:
            if wants_csv(request):
                data = general_ledger(account=account, start=start, end=end, limit=None)
                return _general_ledger_csv(account, data)
            data = general_ledger(
                account=account, start=start, end=end, after=int(after) if after and after.isdigit() else None
            )
        except DomainError as exc:
            form.add_service_error(exc)
            data = None
    return _report(
        request,
        "ledger/reports/general_ledger.html",
        {"form": form, "account": account, "data": data, "paged": bool(request.GET.get("after"))},
        report="gl",
    )


def _general_ledger_csv(account: GLAccount, data: dict):
    currency = data["currency"]
    rows = [["", "", "Opening balance", "", "", "", "", "", "", data["opening_balance"], currency]]
    for line in data["lines"]:
        rows.append(
            [
                line["date"],
                line["entry_number"],
                line["memo"],
                line["line_memo"],
                line["client_name"],
                line["transaction_currency"],
                line["transaction_debit"] - line["transaction_credit"],
                line["debit"],
                line["credit"],
                line["balance"],
                currency,
            ]
        )
    rows.append(
        [
            "",
            "",
            "Closing balance",
            "",
            "",
            "",
            "",
            data["debit"],
            data["credit"],
            data["closing_balance"],
            currency,
        ]
    )
    return csv_response(
        f"general-ledger-{account.code}-{data['start'].isoformat()}-{data['end'].isoformat()}.csv",
        [
            "date",
            "entry",
            "memo",
            "line_memo",
            "client",
            "transaction_currency",
            "transaction_amount",
            "debit",
            "credit",
            "balance",
            "currency",
        ],
        rows,
    )


@require_GET
@ledger_reader
def profit_and_loss_report(request):
    form = DateRangeForm.for_request(request)
    data = None
    if form.is_valid():
        entity = form.cleaned_data["legal_entity"]
        data = profit_and_loss(
            legal_entity=entity, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
        )
        if wants_csv(request):
            rows = [["revenue", r["code"], r["name"], r["amount"], data["currency"]] for r in data["revenue"]]
            rows.append(["revenue", "", "Total revenue", data["totals"]["revenue"], data["currency"]])
            rows += [
                ["expense", r["code"], r["name"], r["amount"], data["currency"]] for r in data["expenses"]
            ]
            rows.append(["expense", "", "Total expenses", data["totals"]["expenses"], data["currency"]])
            rows.append(["net_income", "", "Net income", data["totals"]["net_income"], data["currency"]])
            return csv_response(
                f"profit-and-loss-{entity.pk}-{data['start'].isoformat()}-{data['end'].isoformat()}.csv",
                ["section", "account_code", "account_name", "amount", "currency"],
                rows,
            )
    return _report(request, "ledger/reports/profit_and_loss.html", {"form": form, "data": data}, report="pl")


@require_GET
@ledger_reader
def balance_sheet_report(request):
    form = AsOfForm.for_request(request)
    data = None
    if form.is_valid():
        entity = form.cleaned_data["legal_entity"]
        data = balance_sheet(legal_entity=entity, as_of=form.cleaned_data["as_of"])
        totals = data["totals"]
        data["difference"] = totals["assets"] - totals["liabilities_and_equity"]
        if wants_csv(request):
            currency = data["currency"]
            rows = []
            for section, key in (("asset", "assets"), ("liability", "liabilities"), ("equity", "equity")):
                rows += [[section, r["code"], r["name"], r["amount"], currency] for r in data[key]]
                if key == "equity":
                    rows.append(
                        [section, "", "Current year earnings", data["current_year_earnings"], currency]
                    )
                    rows.append(
                        [section, "", "Prior years' earnings", data["prior_years_earnings"], currency]
                    )
                rows.append([section, "", f"Total {key}", totals[key], currency])
            rows.append(
                ["check", "", "Total liabilities and equity", totals["liabilities_and_equity"], currency]
            )
            return csv_response(
                f"balance-sheet-{entity.pk}-{data['as_of'].isoformat()}.csv",
                ["section", "account_code", "account_name", "amount", "currency"],
                rows,
            )
    return _report(request, "ledger/reports/balance_sheet.html", {"form": form, "data": data}, report="bs")


@require_GET
@ledger_reader
def ar_aging_report(request):
    form = AgingForm.for_request(request)
    data = dso = None
    if form.is_valid():
        entity, as_of = form.cleaned_data["legal_entity"], form.cleaned_data["as_of"]
        data = ar_aging(legal_entity=entity, as_of=as_of, basis=form.cleaned_data["basis"])
        if wants_csv(request):
            columns = [*BUCKETS, "unapplied", "total"]
            return csv_response(
                f"ar-aging-{entity.pk}-{as_of.isoformat()}-{data['basis']}.csv",
                ["client", "currency", *columns],
                [
                    [row["client_name"], row["currency"], *(row[c] for c in columns)]
                    for row in [*data["rows"], *data["totals"]]
                ],
            )
        dso = dso_countback(legal_entity=entity, as_of=as_of)
        statement_start = as_of.replace(year=as_of.year - 1, day=1)
        for row in data["rows"]:
            row["statement_url"] = (
                reverse("ledger:statement")
                + f"?client={row['client_id']}&start={statement_start.isoformat()}&end={as_of.isoformat()}"
            )
    return _report(
        request,
        "ledger/reports/ar_aging.html",
        {"form": form, "data": data, "dso": dso, "buckets": BUCKET_LABELS},
        report="aging",
    )


@require_GET
@ledger_reader
def statement_report(request):
    form = StatementForm.for_request(request)
    data = None
    chosen = bool(request.GET.get("client"))
    if chosen and form.is_valid():
        client = form.cleaned_data["client"]
        data = customer_statement(
            client=client, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
        )
        if wants_csv(request):
            rows = []
            for section in data["currencies"]:
                currency = section["currency"]
                rows.append(
                    [
                        data["start"],
                        "opening_balance",
                        "",
                        "Opening balance",
                        "",
                        "",
                        "",
                        section["opening_balance"],
                        currency,
                    ]
                )
                rows += [
                    [
                        line["date"],
                        line["type"],
                        line["reference"],
                        line["description"],
                        line["due_date"],
                        line["amount"],
                        line["applied"],
                        line["balance"],
                        currency,
                    ]
                    for line in section["lines"]
                ]
                rows.append(
                    [
                        data["end"],
                        "closing_balance",
                        "",
                        "Closing balance",
                        "",
                        "",
                        "",
                        section["closing_balance"],
                        currency,
                    ]
                )
            return csv_response(
                f"statement-{client.pk}-{data['start'].isoformat()}-{data['end'].isoformat()}.csv",
                [
                    "date",
                    "type",
                    "reference",
                    "description",
                    "due_date",
                    "amount",
                    "applied",
                    "balance",
                    "currency",
                ],
                rows,
            )
        data["client"] = client
    return _report(
        request,
        "ledger/reports/statement.html",
        {"form": form, "data": data, "chosen": chosen},
        report="statement",
    )
