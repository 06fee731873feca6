from django.urls import path
from rest_framework.routers import SimpleRouter

from ledger.api import collections, dunning, views, views_reports

router = SimpleRouter()
router.register("legal-entities", views.LegalEntityViewSet, basename="legal-entity")
router.register("exchange-rates", views.ExchangeRateViewSet, basename="exchange-rate")
router.register("gl-accounts", views.GLAccountViewSet, basename="gl-account")
router.register("periods", views.FiscalPeriodViewSet, basename="period")
router.register("journal-entries", views.JournalEntryViewSet, basename="journal-entry")
router.register("ar-items", views.ArItemViewSet, basename="ar-item")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("write-offs", views.WriteOffViewSet, basename="write-off")
router.register("dunning-policies", dunning.DunningPolicyViewSet, basename="dunning-policy")
router.register("dunning-runs", dunning.DunningRunViewSet, basename="dunning-run")
router.register("dunning-notices", dunning.DunningNoticeViewSet, basename="dunning-notice")
router.register("collection-holds", collections.CollectionHoldViewSet, basename="collection-hold")

urlpatterns = [
    *router.urls,
    path("reports/trial-balance/", views_reports.TrialBalanceView.as_view(), name="report-trial-balance"),
    path("reports/ar-aging/", views_reports.ArAgingView.as_view(), name="report-ar-aging"),
    path(
        "reports/profit-and-loss/", views_reports.ProfitAndLossView.as_view(), name="report-profit-and-loss"
    ),
    path("reports/balance-sheet/", views_reports.BalanceSheetView.as_view(), name="report-balance-sheet"),
    path("reports/general-ledger/", views_reports.GeneralLedgerView.as_view(), name="report-general-ledger"),
    path("reports/dso/", views_reports.DsoView.as_view(), name="report-dso"),
    path(
        "reports/customer-statement/",
        views_reports.CustomerStatementView.as_view(),
        name="report-customer-statement",
    ),
]
