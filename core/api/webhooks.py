"""Webhook subscriptions and their deliveries: serializers, filters and views. Writes go through services."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.api.serializers import EventSerializer
from core.models import WebhookDelivery, WebhookSubscription
from core.roles import Role
from core.selectors import webhook_deliveries_for, webhook_subscriptions_visible_to
from core.services.webhooks import (
    create_webhook_subscription,
    delete_webhook_subscription,
    replay_webhook_delivery,
    rotate_webhook_secret,
    send_test_event,
    update_webhook_subscription,
)

_url_max_length = WebhookSubscription._meta.get_field("url").max_length
_secret_max_length = WebhookSubscription._meta.get_field("secret").max_length
_description_max_length = WebhookSubscription._meta.get_field("description").max_length

WEBHOOK_PERMISSIONS = [
    *base.APIView.permission_classes,
    role_permission(read=(Role.INTEGRATOR,), write=(Role.INTEGRATOR,)),
]


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    secret = serializers.CharField(
        read_only=True, help_text="Signs every delivery: X-Ledgerline-Signature is t=<unix ts>,v1=<hex HMAC>."
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "event_types", "secret", "active", "description", "created_at"]
        read_only_fields = fields


class WebhookSubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=_url_max_length, help_text="An http:// or https:// URL.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100), help_text='Event type names, or ["*"] for every event.'
    )
    secret = serializers.CharField(
        required=False, max_length=_secret_max_length, help_text="Leave out to have one generated."
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=_description_max_length)
    active = serializers.BooleanField(required=False, default=True)


class WebhookSubscriptionUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=_url_max_length, help_text="An http:// or https:// URL.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100), help_text='Event type names, or ["*"] for every event.'
    )
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=_description_max_length)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "subscription", "event", "event_type", "status", "attempts", "next_attempt_at",
            "last_attempt_at", "last_status_code", "last_error", "delivered_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["status"]


class WebhookSubscriptionViewSet(base.ModelViewSet):
    """Your webhook subscriptions (admins see everyone's); each delivery is signed with its secret."""

    scope_area = "core"
    serializer_class = WebhookSubscriptionSerializer
    permission_classes = WEBHOOK_PERMISSIONS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhook_subscriptions_visible_to(self.request.user)

    @extend_schema(
        request=WebhookSubscriptionCreateSerializer, responses={201: WebhookSubscriptionSerializer}
    )
    def create(self, request, *args, **kwargs):
        payload = WebhookSubscriptionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription = create_webhook_subscription(
            actor=request.user, owner=request.user, **payload.validated_data
        )
        return Response(self.get_serializer(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookSubscriptionUpdateSerializer, responses=WebhookSubscriptionSerializer)
    def update(self, request, *args, **kwargs):
        payload = WebhookSubscriptionUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        payload.is_valid(raise_exception=True)
        subscription = update_webhook_subscription(
            actor=request.user, subscription=self.get_object(), **payload.validated_data
        )
        return Response(self.get_serializer(subscription).data)

    @extend_schema(request=WebhookSubscriptionUpdateSerializer, responses=WebhookSubscriptionSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        delete_webhook_subscription(actor=self.request.user, subscription=instance)

    @extend_schema(request=None, responses=WebhookSubscriptionSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret; deliveries from now on are signed with the new one."""
        subscription = rotate_webhook_secret(actor=request.user, subscription=self.get_object())
        return Response(self.get_serializer(subscription).data)

    @extend_schema(request=None, responses={202: EventSerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Send a `webhook.ping` event to this subscription only; its delivery shows under deliveries."""
        event = send_test_event(actor=request.user, subscription=self.get_object())
        return Response(EventSerializer(event).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "webhook_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Subscription id."
        )
    ]
)
class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, base.GenericViewSet):
    """One subscription's deliveries, newest first, with their attempts; dead ones can be replayed."""

    scope_area = "core"
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilterSet
    permission_classes = WEBHOOK_PERMISSIONS

    def get_subscription(self) -> WebhookSubscription:
        if not hasattr(self, "_subscription"):
            self._subscription = get_object_or_404(
                webhook_subscriptions_visible_to(self.request.user), pk=self.kwargs["webhook_id"]
            )
        return self._subscription

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return webhook_deliveries_for(self.get_subscription())

    @extend_schema(request=None, responses=WebhookDeliverySerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, *args, **kwargs):
        """Send a delivered or dead delivery again, from its first attempt."""
        delivery = replay_webhook_delivery(actor=request.user, delivery=self.get_object())
        return Response(self.get_serializer(delivery).data)
