from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import views, webhooks

router = SimpleRouter()
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("events", views.EventViewSet, basename="event")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("webhooks", webhooks.WebhookSubscriptionViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<webhook_id>\d+)/deliveries", webhooks.WebhookDeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = [
    path("users/me/", views.MeView.as_view(), name="user-me"),
    *router.urls,
]
