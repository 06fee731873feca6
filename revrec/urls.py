from django.urls import path

from revrec.views import obligations, reports, runs

app_name = "revrec"

urlpatterns = [
    path("", runs.run_list, name="runs"),
    path("runs/new/", runs.run_create, name="run-create"),
    path("runs/preview/", runs.run_preview, name="run-preview"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("runs/<int:pk>/progress/", runs.run_progress, name="run-progress"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run-resume"),
    path("obligations/", obligations.obligation_list, name="obligations"),
    path("obligations/<int:pk>/", obligations.obligation_detail, name="obligation-detail"),
    path("obligations/<int:pk>/ssp/", obligations.obligation_ssp, name="obligation-ssp"),
    path("obligations/<int:pk>/estimate/", obligations.obligation_estimate, name="obligation-estimate"),
    path("reports/waterfall/", reports.waterfall_report, name="report-waterfall"),
    path("reports/deferred-revenue/", reports.rollforward_report, name="report-deferred"),
    path("reports/unbilled-revenue/", reports.unbilled_report, name="report-unbilled"),
    path("reports/remaining-obligations/", reports.rpo_report, name="report-rpo"),
    path("reports/contracts/", reports.contract_report, name="report-contracts"),
    path("reports/contracts/<int:pk>/", reports.contract_report, name="report-contract"),
]
