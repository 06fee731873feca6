from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import views

router = SimpleRouter()
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("events", views.EventViewSet, basename="event")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("users/me/", views.MeView.as_view(), name="user-me"),
    *router.urls,
]
