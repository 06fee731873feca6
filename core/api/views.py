from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from core.api import base
from core.api.filtersets import AuditEventFilterSet, EventFilterSet
from core.api.pagination import CursorPagination
from core.api.permissions import role_permission
from core.api.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    EventSerializer,
    IssuedApiKeySerializer,
    UserSerializer,
)
from core.models import ApiKey, AuditEvent, Event
from core.roles import Role
from core.services.api_keys import create_api_key, revoke_api_key

READERS_OF_EVERYTHING = (Role.FINANCE, Role.EXECUTIVE)


class MeView(base.APIView):
    """The signed-in user (or the API key's user) and their roles."""

    scope_area = "core"

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class ApiKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, base.GenericViewSet
):
    """Your own API keys. The key itself is returned once, by create; DELETE revokes (the row stays)."""

    scope_area = "core"
    serializer_class = ApiKeySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return ApiKey.objects.filter(user=self.request.user)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: IssuedApiKeySerializer})
    def create(self, request):
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = create_api_key(actor=request.user, user=request.user, **payload.validated_data)
        body = IssuedApiKeySerializer(issued.api_key).data
        body["key"] = issued.key
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        revoke_api_key(actor=self.request.user, api_key=instance)


class EventPagination(CursorPagination):
    ordering = "id"


class EventViewSet(base.ReadOnlyModelViewSet):
    """The domain-event feed, oldest first; poll with `?after=<last id seen>`."""

    scope_area = "core"
    serializer_class = EventSerializer
    queryset = Event.objects.all()
    filterset_class = EventFilterSet
    pagination_class = EventPagination
    permission_classes = [
        *base.APIView.permission_classes,
        role_permission(read=(*READERS_OF_EVERYTHING, Role.INTEGRATOR)),
    ]


class AuditEventViewSet(base.ReadOnlyModelViewSet):
    """The audit trail; filter by `object_type` + `object_id` for one object's history."""

    scope_area = "core"
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.select_related("actor")
    filterset_class = AuditEventFilterSet
    permission_classes = [*base.APIView.permission_classes, role_permission(read=READERS_OF_EVERYTHING)]
