"""`kpis/`: the firm's KPIs over a range, grouped. Executives, finance and admins see the firm; anyone else
with a person record sees only their own work (DESIGN.md "Access": a consultant sees only their own)."""

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from analytics.api.serializers import KpiQuerySerializer, KpiReportSerializer
from analytics.kpis import KPIS
from analytics.selectors import kpi_report, report_table, scope_for
from core.api import base
from core.errors import PermissionDenied
from ledger.api.views_reports import ReportView


class KpiView(ReportView):
    scope_area = "analytics"
    permission_classes = base.APIView.permission_classes
    query_serializer_class = KpiQuerySerializer
    output_serializer_class = KpiReportSerializer

    @extend_schema(
        summary="KPIs",
        parameters=[KpiQuerySerializer],
        responses={(200, "application/json"): KpiReportSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        """Utilization, realization, effective rate, revenue, cost, margin, WIP and more from `from` to `to`
        per group and currency, with totals per currency carrying the firm's balances (backlog, deferred
        revenue, DSO, …) on `to`. Consultants get their own row only."""
        return super().get(request)

    def build(self, query, csv_download):
        person = scope_for(self.request.user)
        if person is False:
            raise PermissionDenied(
                "The KPIs need a person record (your own) or the finance or executive role."
            )
        report = kpi_report(start=query["from"], end=query["to"], group_by=query["group_by"], person=person)
        return report | {"definitions": [asdict(kpi) for kpi in KPIS.values()]}

    def filename(self, report):
        return f"kpis-{report['group_by']}-{report['from'].isoformat()}-{report['to'].isoformat()}.csv"

    table = staticmethod(report_table)
