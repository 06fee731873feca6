from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from core.api.docs import api_docs_view
from core.views import page_not_found, server_error

api_v1 = [
    path("", include("core.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("crm.api.urls")),
    path("", include("projects.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("revrec.api.urls")),
    path("", include("analytics.api.urls")),
    path("", include("insights.api.urls")),
]

urlpatterns = [
    path("", include("core.urls")),
    path("ledger/", include("ledger.urls")),
    path("crm/", include("crm.urls")),
    path("projects/", include("projects.urls")),
    path("billing/", include("billing.urls")),
    path("revenue/", include("revrec.urls")),
    path("dashboards/", include("analytics.urls")),
    path("insights/", include("insights.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs_view, name="api-docs"),
]

handler404 = page_not_found
handler500 = server_error
