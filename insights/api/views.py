"""Insights API: the inbox (list, detail, dismiss, reopen) and insight runs (start one, poll it).

Everyone sees the insights their roles are the audience of, and the ones they own (a consultant only
those); admins see all. Reviewers dismiss; finance and project managers start runs. An API
key needs the `analytics:read` / `analytics:write` scope. Every write calls `insights.services`.
"""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.roles import Role
from insights.access import INBOX_ROLES, RUN_STARTERS
from insights.api import serializers as s
from insights.models import Insight, InsightKind, InsightRun, InsightRunStatus, InsightSeverity, InsightStatus
from insights.selectors import visible_insights
from insights.services.insights import dismiss_insight, reopen_insight
from insights.services.runs import start_insight_run

REVIEWERS = (Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER, Role.FINANCE)


class InsightFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=InsightKind.choices)
    status = django_filters.ChoiceFilter(choices=InsightStatus.choices)
    severity = django_filters.ChoiceFilter(choices=InsightSeverity.choices)
    rule = django_filters.CharFilter()
    subject_type = django_filters.CharFilter(help_text="app_label.model, e.g. projects.project.")
    subject_id = django_filters.NumberFilter()

    class Meta:
        model = Insight
        fields = ["kind", "status", "severity", "rule", "subject_type", "subject_id"]


class InsightViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, base.ServiceViewSet):
    """Insights: what the detectors found, each explained in words with its numbers."""

    model = Insight
    scope_area = "analytics"
    serializer_class = s.InsightSerializer
    filterset_class = InsightFilterSet
    permission_classes = [
        *base.APIView.permission_classes,
        role_permission(read=INBOX_ROLES, write=REVIEWERS),
    ]

    def visible(self):
        return visible_insights(self.request.user)

    def respond(self, insight) -> Response:
        return Response(self.get_serializer(self.reread(insight)).data)

    @extend_schema(request=s.DismissSerializer, responses=s.InsightSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss an open insight with a reason (audited); later runs do not raise it again. A reviewer
        (a role of its audience) only; one not open is refused with 409."""
        payload = s.DismissSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        insight = dismiss_insight(
            actor=request.user, insight=self.get_object(), reason=payload.validated_data["reason"]
        )
        return self.respond(insight)

    @extend_schema(request=None, responses=s.InsightSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Put a dismissed insight back in the open inbox; one not dismissed is refused with 409."""
        return self.respond(reopen_insight(actor=request.user, insight=self.get_object()))


class InsightRunFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=InsightRunStatus.choices)
    as_of = django_filters.DateFromToRangeFilter(help_text="Runs as of as_of_after..as_of_before.")

    class Meta:
        model = InsightRun
        fields = ["status", "as_of"]


class InsightRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, base.ServiceViewSet):
    """Insight runs: start one, then poll it for status, progress and counters."""

    model = InsightRun
    scope_area = "analytics"
    serializer_class = s.InsightRunSerializer
    filterset_class = InsightRunFilterSet
    permission_classes = [
        *base.APIView.permission_classes,
        role_permission(read=(*RUN_STARTERS, Role.RESOURCE_MANAGER, Role.EXECUTIVE), write=RUN_STARTERS),
    ]

    def visible(self):
        return InsightRun.objects.select_related("started_by")

    @extend_schema(request=s.InsightRunCreateSerializer, responses={201: s.InsightRunSerializer})
    def create(self, request):
        """Start a run of the detectors (all kinds, or those named) in the background. While another run
        is pending or running, a start is refused with 409 `insight_run_active`."""
        payload = s.InsightRunCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = start_insight_run(
            actor=request.user, as_of=data.get("as_of") or timezone.localdate(), kinds=data["kinds"]
        )
        return Response(self.get_serializer(self.reread(run)).data, status=status.HTTP_201_CREATED)
