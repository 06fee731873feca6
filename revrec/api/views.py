"""Revenue recognition API: performance obligations (standalone price, estimate), their revenue schedules,
revenue runs (start, poll, resume, preview).

Finance writes; executives and integrators read; other roles are refused (admins pass every check). An API
key also needs the `revrec:read` / `revrec:write` scope. Every write calls a revrec service.
"""

from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.roles import Role
from revrec import selectors
from revrec.api import filtersets
from revrec.api import serializers as s
from revrec.choices import LineStatus
from revrec.models import PerformanceObligation, RevenueRun, RevenueScheduleLine
from revrec.services import obligations as obligation_services
from revrec.services.runs import resume_revenue_run, start_revenue_run

READERS = (Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR)
REVREC_PERMISSIONS = [*base.APIView.permission_classes, role_permission(read=READERS, write=(Role.FINANCE,))]
AMOUNT = DecimalField(max_digits=20, decimal_places=4)


class RevrecViewSet(base.ServiceViewSet):
    scope_area = "revrec"
    permission_classes = REVREC_PERMISSIONS

    def payload(self, serializer_class, **kwargs) -> dict:
        data = serializer_class(data=self.request.data, **kwargs)
        data.is_valid(raise_exception=True)
        return data.validated_data


class PerformanceObligationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RevrecViewSet):
    """Performance obligations: one per contract line, made and moved on by the contract's signing and
    amendments. Finance sets standalone prices (the contract's price is re-allocated) and, for percent
    complete, the estimate at completion (the next run catches up)."""

    model = PerformanceObligation
    serializer_class = s.PerformanceObligationSerializer
    filterset_class = filtersets.PerformanceObligationFilterSet
    pagination_class = base.cursor_pagination("id")

    def visible(self):
        recognized = (
            RevenueScheduleLine.objects.filter(obligation=OuterRef("pk"), status=LineStatus.RECOGNIZED)
            .order_by()
            .values("obligation")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return PerformanceObligation.objects.annotate(
            recognized_to_date=Coalesce(
                Subquery(recognized, output_field=AMOUNT), Value(Decimal(0)), output_field=AMOUNT
            )
        )

    @extend_schema(request=s.StandalonePriceSerializer, responses=s.PerformanceObligationSerializer)
    @action(detail=True, methods=["post"], url_path="set-standalone-price")
    def set_standalone_price(self, request, pk=None):
        """Set the standalone selling price, with a reason; the contract's price is re-allocated over its
        active obligations by relative SSP and their open schedules re-planned. SSPs that would sum to
        zero are refused (`ssp_zero`)."""
        data = self.payload(s.StandalonePriceSerializer)
        obligation = obligation_services.set_standalone_price(
            actor=request.user, obligation=self.get_object(), price=data["price"], reason=data["reason"]
        )
        return Response(self.get_serializer(self.reread(obligation)).data)

    @extend_schema(request=s.EstimateSerializer, responses=s.PerformanceObligationSerializer)
    @action(detail=True, methods=["post"], url_path="set-estimate")
    def set_estimate(self, request, pk=None):
        """Revise a percent-complete estimate at completion (cost and/or hours), with a reason; the next
        run recognises the cumulative catch-up in its open period. Zero or less is refused
        (`estimate_zero`)."""
        data = self.payload(s.EstimateSerializer)
        obligation = obligation_services.set_estimate(
            actor=request.user,
            obligation=self.get_object(),
            reason=data["reason"],
            total_cost=data.get("total_cost"),
            total_hours=data.get("total_hours"),
        )
        return Response(self.get_serializer(self.reread(obligation)).data)


class RevenueScheduleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RevrecViewSet):
    """Each obligation's revenue schedule (its id is the obligation's): monthly lines, planned until a
    revenue run recognises them; recognised lines never change."""

    model = PerformanceObligation
    serializer_class = s.RevenueScheduleSerializer
    filterset_class = filtersets.RevenueScheduleFilterSet
    pagination_class = base.cursor_pagination("id")

    def visible(self):
        lines = RevenueScheduleLine.objects.order_by("period_start", "id")
        return PerformanceObligation.objects.prefetch_related(Prefetch("schedule_lines", queryset=lines))


class RevenueRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RevrecViewSet):
    """Revenue runs: start one for a legal entity up to a period end, then poll its status, progress and
    totals; a failed run resumes where it stopped. `preview` shows what a run would recognise, writing
    nothing."""

    model = RevenueRun
    serializer_class = s.RevenueRunSerializer
    filterset_class = filtersets.RevenueRunFilterSet

    def visible(self):
        return RevenueRun.objects.select_related("legal_entity", "created_by")

    @extend_schema(request=s.RevenueRunCreateSerializer, responses={201: s.RevenueRunSerializer})
    def create(self, request):
        """Create a run and start it in the background: every active obligation of the legal entity is
        recognised up to `period_end` and posted, one entry per contract. A closed period is refused
        (`period_closed`)."""
        data = self.payload(s.RevenueRunCreateSerializer)
        run = start_revenue_run(
            actor=request.user, legal_entity=data["legal_entity"], period_end=data["period_end"]
        )
        return Response(self.get_serializer(self.reread(run)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.RevenueRunSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or interrupted run again; it continues with the contracts it has not done. A
        completed run cannot resume (409)."""
        run = resume_revenue_run(actor=request.user, run=self.get_object())
        return Response(self.get_serializer(self.reread(run)).data)

    @extend_schema(request=s.RevenueRunCreateSerializer, responses=s.RevenuePreviewSerializer)
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def preview(self, request):
        """What a run with this body would recognise now, per contract and obligation, with totals per
        currency and warnings. Nothing is written."""
        data = self.payload(s.RevenueRunCreateSerializer)
        preview = selectors.preview_revenue(legal_entity=data["legal_entity"], period_end=data["period_end"])
        return Response(s.RevenuePreviewSerializer(preview).data)
