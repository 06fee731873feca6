"""Practices, legal-entity holidays and time off: what available hours and the practice KPIs are made of.

Everyone reads practices and holidays; resource managers (and admins) keep them. Time off: people who keep
time record and see their own; resource managers record anyone's; the roles that read every project read
everyone's (they plan staffing with it).
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from core.api import base
from core.roles import Role as UserRole
from ledger.models import LegalEntity
from projects.access import STAFFERS, TIME_KEEPERS
from projects.api import filtersets
from projects.api.serializers import _only_known_fields
from projects.api.views import ProjectsViewSet, ReadMixin, _permissions
from projects.models import Holiday, Person, Practice, TimeOff
from projects.selectors import visible_time_off
from projects.services import capacity as capacity_services


class PracticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Practice
        fields = ["id", "name", "active"]
        read_only_fields = ["id"]


class PracticeCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class PracticeUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["id", "legal_entity", "date", "name"]
        read_only_fields = fields


class HolidayCreateSerializer(serializers.Serializer):
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    date = serializers.DateField()
    name = serializers.CharField(max_length=100)


class TimeOffSerializer(serializers.ModelSerializer):
    hours_per_day = serializers.DecimalField(max_digits=4, decimal_places=2, read_only=True)

    class Meta:
        model = TimeOff
        fields = ["id", "person", "kind", "start", "end", "hours_per_day", "note", "created_at"]
        read_only_fields = fields


def _hours_per_day(**kwargs):
    return serializers.DecimalField(
        max_digits=4, decimal_places=2, help_text="Hours off each weekday: more than 0, at most 24.", **kwargs
    )


class TimeOffCreateSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    kind = serializers.ChoiceField(choices=TimeOff.Kind.choices, default=TimeOff.Kind.VACATION)
    start = serializers.DateField()
    end = serializers.DateField()
    hours_per_day = _hours_per_day(default=Decimal(8))
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TimeOffUpdateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TimeOff.Kind.choices, required=False)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    hours_per_day = _hours_per_day(required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class PracticeViewSet(ReadMixin, ProjectsViewSet):
    """Practices (service lines): people belong to one, projects deliver one; KPIs group by them."""

    model = Practice
    serializer_class = PracticeSerializer
    permission_classes = _permissions(write=STAFFERS)
    pagination_class = base.cursor_pagination("name", "id")

    @extend_schema(request=PracticeCreateSerializer, responses={201: PracticeSerializer})
    def create(self, request):
        data = self.payload(PracticeCreateSerializer)
        practice = capacity_services.create_practice(actor=request.user, **data)
        return Response(PracticeSerializer(practice).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PracticeUpdateSerializer, responses=PracticeSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(PracticeUpdateSerializer)
        practice = capacity_services.update_practice(actor=request.user, practice=self.get_object(), **data)
        return Response(PracticeSerializer(practice).data)


class HolidayViewSet(ReadMixin, mixins.DestroyModelMixin, ProjectsViewSet):
    """Public holidays per legal entity: nobody employed there is available that day."""

    model = Holiday
    serializer_class = HolidaySerializer
    filterset_class = filtersets.HolidayFilterSet
    permission_classes = _permissions(write=STAFFERS)
    pagination_class = base.cursor_pagination("date", "id")

    @extend_schema(request=HolidayCreateSerializer, responses={201: HolidaySerializer})
    def create(self, request):
        data = self.payload(HolidayCreateSerializer)
        holiday = capacity_services.create_holiday(actor=request.user, **data)
        return Response(HolidaySerializer(holiday).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        capacity_services.delete_holiday(actor=self.request.user, holiday=instance)


class TimeOffViewSet(ReadMixin, mixins.DestroyModelMixin, ProjectsViewSet):
    """Recorded leave: hours off each weekday from start to end; one person's never overlaps."""

    model = TimeOff
    serializer_class = TimeOffSerializer
    filterset_class = filtersets.TimeOffFilterSet
    permission_classes = _permissions(write=(*TIME_KEEPERS, UserRole.RESOURCE_MANAGER))
    pagination_class = base.cursor_pagination("-start", "-id")

    def visible(self):
        return visible_time_off(self.request.user)

    @extend_schema(request=TimeOffCreateSerializer, responses={201: TimeOffSerializer})
    def create(self, request):
        data = self.payload(TimeOffCreateSerializer)
        time_off = capacity_services.record_time_off(actor=request.user, **data)
        return Response(TimeOffSerializer(time_off).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TimeOffUpdateSerializer, responses=TimeOffSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(TimeOffUpdateSerializer)
        time_off = capacity_services.update_time_off(actor=request.user, time_off=self.get_object(), **data)
        return Response(TimeOffSerializer(time_off).data)

    def perform_destroy(self, instance):
        capacity_services.cancel_time_off(actor=self.request.user, time_off=instance)
