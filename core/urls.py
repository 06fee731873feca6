from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import views
from core.health import healthz

# The browser pages, under the "core" namespace (`core:overview`); the names above it stay global because
# settings refer to them (LOGIN_URL, LOGIN_REDIRECT_URL).
pages = [
    path("overview/", views.overview, name="overview"),
    path("api-keys/", views.api_key_list, name="api-keys"),
    path("api-keys/new/", views.api_key_create, name="api-key-create"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/new/", views.webhook_create, name="webhook-create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook-detail"),
    path("webhooks/<int:pk>/secret/", views.webhook_secret, name="webhook-secret"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook-edit"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook-delete"),
    path("webhooks/<int:pk>/test/", views.webhook_send_test, name="webhook-send-test"),
    path("webhooks/<int:pk>/rotate-secret/", views.webhook_rotate_secret, name="webhook-rotate-secret"),
    path(
        "webhooks/deliveries/<int:pk>/replay/", views.webhook_delivery_replay, name="webhook-delivery-replay"
    ),
    path("events/", views.event_list, name="events"),
    path("audit/", views.audit_log, name="audit-log"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include((pages, "core"))),
]
