"""Revenue reports over the API: JSON by default, a CSV download with `?format=csv` (the ledger's report
view does the query checking, rendering and CSV; these name the report, its query and its shape)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from ledger.api.views_reports import ReportView
from revrec import reports
from revrec.api import serializers as s
from revrec.api.views import REVREC_PERMISSIONS
from revrec.reports import csv


def _schema(query, output, summary):
    return extend_schema(
        summary=summary,
        parameters=[query],
        responses={(200, "application/json"): output, (200, "text/csv"): OpenApiTypes.STR},
    )


class RevenueReportView(ReportView):
    scope_area = "revrec"
    permission_classes = REVREC_PERMISSIONS


class WaterfallView(RevenueReportView):
    query_serializer_class = s.WaterfallQuerySerializer
    output_serializer_class = s.WaterfallSerializer
    name_in_filename = "revenue-waterfall"

    @_schema(s.WaterfallQuerySerializer, s.WaterfallSerializer, "Revenue waterfall")
    def get(self, request):
        """Recognised revenue in the 12 months up to `as_of`'s and scheduled revenue of those months and
        the 12 after, per client or service line and currency."""
        return super().get(request)

    def build(self, query, csv_download):
        return reports.revenue_waterfall(query["legal_entity"], query["as_of"], group_by=query["group_by"])

    table = staticmethod(csv.waterfall_table)


class DeferredRollforwardView(RevenueReportView):
    query_serializer_class = s.RollforwardQuerySerializer
    output_serializer_class = s.RollforwardSerializer
    name_in_filename = "deferred-revenue-rollforward"

    @_schema(s.RollforwardQuerySerializer, s.RollforwardSerializer, "Deferred revenue roll-forward")
    def get(self, request):
        """Deferred revenue from `start` to `end` per currency, from the ledger: opening + billed −
        recognised ± reclassified (+ other postings) = closing."""
        return super().get(request)

    def build(self, query, csv_download):
        return reports.deferred_revenue_rollforward(query["legal_entity"], query["start"], query["end"])

    table = staticmethod(csv.rollforward_table)


class UnbilledView(RevenueReportView):
    query_serializer_class = s.AsOfQuerySerializer
    output_serializer_class = s.UnbilledSerializer
    name_in_filename = "unbilled-revenue"

    @_schema(s.AsOfQuerySerializer, s.UnbilledSerializer, "Unbilled revenue (contract assets)")
    def get(self, request):
        """Contracts that have recognised more than they billed on `as_of`, with the age of the oldest
        recognition not yet billed."""
        return super().get(request)

    def build(self, query, csv_download):
        return reports.unbilled_revenue(query["legal_entity"], query["as_of"])

    table = staticmethod(csv.unbilled_table)


class RpoView(RevenueReportView):
    query_serializer_class = s.AsOfQuerySerializer
    output_serializer_class = s.RpoSerializer
    name_in_filename = "remaining-performance-obligations"

    @_schema(s.AsOfQuerySerializer, s.RpoSerializer, "Remaining performance obligations")
    def get(self, request):
        """What active obligations have left to recognise on `as_of`, within 12 months and after, per
        contract and per currency."""
        return super().get(request)

    def build(self, query, csv_download):
        return reports.rpo_disclosure(query["legal_entity"], query["as_of"])

    table = staticmethod(csv.rpo_table)


class ContractSummaryView(RevenueReportView):
    query_serializer_class = s.ContractSummaryQuerySerializer
    output_serializer_class = s.ContractSummarySerializer
    name_in_filename = "contract-revenue"

    @_schema(s.ContractSummaryQuerySerializer, s.ContractSummarySerializer, "A contract's revenue")
    def get(self, request):
        """One contract: its price, each obligation's allocated, recognised and remaining amounts, billed,
        recognised, backlog and net position (contract liability or asset)."""
        return super().get(request)

    def build(self, query, csv_download):
        return reports.contract_revenue_summary(query["contract"], as_of=query.get("as_of"))

    table = staticmethod(csv.contract_table)

    def filename(self, report):
        return f"contract-revenue-{report['number']}-{report['as_of'].isoformat()}.csv"
