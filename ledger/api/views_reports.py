"""Ledger reports over the API: JSON by default, a CSV download with `?format=csv`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from core.api import base
from ledger.api import serializers as s
from ledger.api.views import LEDGER_PERMISSIONS
from ledger.reports import csv
from ledger.reports.aging import ar_aging, ar_balance
from ledger.reports.dso import dso_countback, dso_simple
from ledger.reports.financial import balance_sheet, general_ledger, profit_and_loss, trial_balance
from ledger.reports.statement import customer_statement


class CSVRenderer(renderers.BaseRenderer):
    """Writes the CSV text a report view made; selected by `?format=csv` or `Accept: text/csv`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode(self.charset)


def _schema(query, output, summary):
    return extend_schema(
        summary=summary,
        parameters=[query],
        responses={(200, "application/json"): output, (200, "text/csv"): OpenApiTypes.STR},
    )


class ReportView(base.APIView):
    """A report: validate the query, build the report with its selector, render it as JSON or CSV."""

    scope_area = "ledger"
    permission_classes = LEDGER_PERMISSIONS
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
    # Each report names its query and output serializers, and defines `build(query, csv_download)`
    # (the report from its selector) and `table(report)` (its CSV table).
    query_serializer_class: type[serializers.Serializer]
    output_serializer_class: type[serializers.Serializer]
    name_in_filename: str

    def filename(self, report: dict) -> str:
        day = report.get("as_of") or report.get("end")
        return f"{self.name_in_filename}-{day.isoformat()}.csv"

    def get(self, request):
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        csv_download = request.accepted_renderer.format == CSVRenderer.format
        report = self.build(query.validated_data, csv_download)
        if csv_download:
            response = Response(csv.to_csv(self.table(report)))
            response["Content-Disposition"] = f'attachment; filename="{self.filename(report)}"'
            return response
        context = {"request": request, "currency": report.get("currency")}
        return Response(self.output_serializer_class(report, context=context).data)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors keep the house JSON body even when the report itself was asked for as CSV.
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class TrialBalanceView(ReportView):
    query_serializer_class = s.TrialBalanceQuerySerializer
    output_serializer_class = s.TrialBalanceSerializer
    name_in_filename = "trial-balance"

    @_schema(s.TrialBalanceQuerySerializer, s.TrialBalanceSerializer, "Trial balance")
    def get(self, request):
        """Every account with activity up to `as_of`: functional debits, credits and normal-side balance."""
        return super().get(request)

    def build(self, query, csv_download):
        return trial_balance(legal_entity=query["legal_entity"], as_of=query["as_of"])

    table = staticmethod(csv.trial_balance_table)


class ArAgingView(ReportView):
    query_serializer_class = s.AgingQuerySerializer
    output_serializer_class = s.AgingReportSerializer
    name_in_filename = "ar-aging"

    @_schema(s.AgingQuerySerializer, s.AgingReportSerializer, "AR aging")
    def get(self, request):
        """Open AR per client and currency on `as_of`, by days past due; open credits in `unapplied`."""
        return super().get(request)

    def build(self, query, csv_download):
        entity = query["legal_entity"]
        report = ar_aging(legal_entity=entity, as_of=query["as_of"], basis=query["basis"])
        return {**report, "legal_entity_id": entity.pk}

    table = staticmethod(csv.aging_table)


class ProfitAndLossView(ReportView):
    query_serializer_class = s.PeriodQuerySerializer
    output_serializer_class = s.ProfitAndLossSerializer
    name_in_filename = "profit-and-loss"

    @_schema(s.PeriodQuerySerializer, s.ProfitAndLossSerializer, "Profit and loss")
    def get(self, request):
        """Revenue and expenses from `start` to `end` (inclusive) and the net income."""
        return super().get(request)

    def build(self, query, csv_download):
        return profit_and_loss(legal_entity=query["legal_entity"], start=query["start"], end=query["end"])

    table = staticmethod(csv.profit_and_loss_table)


class BalanceSheetView(ReportView):
    query_serializer_class = s.BalanceSheetQuerySerializer
    output_serializer_class = s.BalanceSheetSerializer
    name_in_filename = "balance-sheet"

    @_schema(s.BalanceSheetQuerySerializer, s.BalanceSheetSerializer, "Balance sheet")
    def get(self, request):
        """Assets, liabilities and equity on `as_of`, including the earnings not yet closed."""
        return super().get(request)

    def build(self, query, csv_download):
        return balance_sheet(legal_entity=query["legal_entity"], as_of=query["as_of"])

    table = staticmethod(csv.balance_sheet_table)


class GeneralLedgerView(ReportView):
    query_serializer_class = s.GeneralLedgerQuerySerializer
    output_serializer_class = s.GeneralLedgerSerializer
    name_in_filename = "general-ledger"

    @_schema(s.GeneralLedgerQuerySerializer, s.GeneralLedgerSerializer, "General ledger of one account")
    def get(self, request):
        """One account's lines with a running balance, `page_size` at a time; the CSV has every line."""
        return super().get(request)

    def build(self, query, csv_download):
        return general_ledger(
            account=query["account"],
            start=query["start"],
            end=query["end"],
            after=None if csv_download else query.get("after"),
            limit=None if csv_download else query["page_size"],
        )

    table = staticmethod(csv.general_ledger_table)

    def filename(self, report):
        return f"general-ledger-{report['account']['code']}-{report['start']}-{report['end']}.csv"


class DsoView(ReportView):
    query_serializer_class = s.DsoQuerySerializer
    output_serializer_class = s.DsoSerializer
    name_in_filename = "dso"

    @_schema(s.DsoQuerySerializer, s.DsoSerializer, "Days sales outstanding")
    def get(self, request):
        """DSO on `as_of` by the countback and the simple method; null when nothing was invoiced."""
        return super().get(request)

    def build(self, query, csv_download):
        entity, as_of = query["legal_entity"], query["as_of"]
        return {
            "legal_entity_id": entity.pk,
            "as_of": as_of,
            "currency": entity.functional_currency,
            "ar_balance": ar_balance(legal_entity=entity, as_of=as_of),
            "countback_months": query["months"],
            "dso_countback": dso_countback(legal_entity=entity, as_of=as_of, months=query["months"]),
            "simple_days": query["days"],
            "dso_simple": dso_simple(legal_entity=entity, as_of=as_of, days=query["days"]),
        }

    table = staticmethod(csv.dso_table)


class CustomerStatementView(ReportView):
    query_serializer_class = s.StatementQuerySerializer
    output_serializer_class = s.StatementSerializer
    name_in_filename = "statement"

    @_schema(s.StatementQuerySerializer, s.StatementSerializer, "Customer statement")
    def get(self, request):
        """A client's invoices, credits and applications from `start` to `end` with a running balance."""
        return super().get(request)

    def build(self, query, csv_download):
        report = customer_statement(client=query["account"], start=query["start"], end=query["end"])
        for section in report["currencies"]:
            for line in section["lines"]:
                line["currency"] = section["currency"]
        return report

    table = staticmethod(csv.statement_table)

    def filename(self, report):
        return f"statement-{report['client_id']}-{report['start']}-{report['end']}.csv"
