from django.urls import path
from rest_framework.routers import SimpleRouter

from revrec.api import views, views_reports

router = SimpleRouter()
router.register(
    "performance-obligations", views.PerformanceObligationViewSet, basename="performance-obligation"
)
router.register("revenue-schedules", views.RevenueScheduleViewSet, basename="revenue-schedule")
router.register("revenue-runs", views.RevenueRunViewSet, basename="revenue-run")

urlpatterns = [
    *router.urls,
    path(
        "revenue-reports/waterfall/", views_reports.WaterfallView.as_view(), name="revenue-report-waterfall"
    ),
    path(
        "revenue-reports/deferred-rollforward/",
        views_reports.DeferredRollforwardView.as_view(),
        name="revenue-report-deferred-rollforward",
    ),
    path("revenue-reports/unbilled/", views_reports.UnbilledView.as_view(), name="revenue-report-unbilled"),
    path("revenue-reports/rpo/", views_reports.RpoView.as_view(), name="revenue-report-rpo"),
    path(
        "revenue-reports/contract/",
        views_reports.ContractSummaryView.as_view(),
        name="revenue-report-contract",
    ),
]
