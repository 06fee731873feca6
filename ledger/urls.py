from django.urls import path

from ledger.views import collections, dunning, entries, master, overview, payments, periods, reports

app_name = "ledger"

urlpatterns = [
    path("", overview.workspace, name="workspace"),
    path("periods/", periods.period_list, name="periods"),
    path("periods/<int:pk>/", periods.period_checklist, name="period-checklist"),
    path("periods/<int:pk>/close/", periods.period_action, {"action": "close"}, name="period-close"),
    path("periods/<int:pk>/reopen/", periods.period_action, {"action": "reopen"}, name="period-reopen"),
    path("periods/<int:pk>/revalue/", periods.period_revalue, name="period-revalue"),
    path("close-reports/<int:pk>/", periods.close_report, name="close-report"),
    path("journal/", entries.journal_list, name="journal"),
    path("entries/new/", entries.entry_create, name="entry-create"),
    path("entries/<int:pk>/", entries.entry_detail, name="entry-detail"),
    path("entries/<int:pk>/reverse/", entries.entry_reverse, name="entry-reverse"),
    path("reports/trial-balance/", reports.trial_balance_report, name="trial-balance"),
    path("reports/general-ledger/<int:account_id>/", reports.general_ledger_report, name="general-ledger"),
    path("reports/profit-and-loss/", reports.profit_and_loss_report, name="profit-and-loss"),
    path("reports/balance-sheet/", reports.balance_sheet_report, name="balance-sheet"),
    path("reports/ar-aging/", reports.ar_aging_report, name="ar-aging"),
    path("reports/statement/", reports.statement_report, name="statement"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/new/", payments.payment_create, name="payment-create"),
    path("payments/<int:pk>/", payments.payment_detail, name="payment-detail"),
    path("payments/<int:pk>/allocate/", payments.payment_allocate, name="payment-allocate"),
    path("allocations/<int:pk>/reverse/", payments.allocation_reverse, name="allocation-reverse"),
    path("collections/", collections.collections_workbench, name="collections"),
    path("collections/clients/<int:pk>/", collections.collections_client, name="collections-client"),
    path(
        "collections/clients/<int:pk>/statement.pdf",
        collections.client_statement_pdf,
        name="collections-statement-pdf",
    ),
    path("collections/clients/<int:pk>/<slug:action>/", collections.client_action, name="collections-action"),
    path("dunning/runs/", dunning.run_list, name="dunning-runs"),
    path("dunning/runs/<int:pk>/", dunning.run_detail, name="dunning-run"),
    path("dunning/runs/<int:pk>/progress/", dunning.run_progress, name="dunning-run-progress"),
    path("dunning/policies/", dunning.policy_list, name="dunning-policies"),
    path("dunning/policies/<int:pk>/", dunning.policy_detail, name="dunning-policy"),
    path("dunning/policies/<int:pk>/edit/", dunning.policy_edit, name="dunning-policy-edit"),
    path("dunning-notices/<int:pk>/pdf/", collections.notice_pdf, name="dunning-notice-pdf"),
    path("entities/", master.entity_list, name="entities"),
    path("entities/<int:pk>/", master.entity_detail, name="entity-detail"),
    path("exchange-rates/", master.exchange_rate_list, name="exchange-rates"),
]
