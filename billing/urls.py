from django.urls import path

from billing.views import credit_notes, invoices, reports, runs, tax_codes, workbench

app_name = "billing"

urlpatterns = [
    path("", runs.run_list, name="runs"),
    path("runs/new/", runs.run_create, name="run-create"),
    path("runs/preview/", runs.run_preview, name="run-preview"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("runs/<int:pk>/progress/", runs.run_progress, name="run-progress"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run-resume"),
    path("drafts/", workbench.draft_list, name="drafts"),
    path("drafts/<int:pk>/", workbench.draft_detail, name="draft-detail"),
    path("drafts/<int:pk>/release/", workbench.draft_release, name="draft-release"),
    path("drafts/<int:pk>/delete/", workbench.draft_delete, name="draft-delete"),
    path("drafts/<int:pk>/lines/<int:line_pk>/edit/", workbench.line_edit, name="line-edit"),
    path("drafts/<int:pk>/lines/<int:line_pk>/remove/", workbench.line_remove, name="line-remove"),
    path(
        "drafts/<int:pk>/lines/<int:line_pk>/entries/remove/",
        workbench.entries_remove,
        name="entries-remove",
    ),
    path("invoices/", invoices.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice-detail"),
    path("invoices/<int:pk>/pdf/", invoices.invoice_pdf, name="invoice-pdf"),
    path("invoices/<int:pk>/send/", invoices.invoice_send, name="invoice-send"),
    path("invoices/<int:pk>/void/", invoices.invoice_void, name="invoice-void"),
    path("invoices/<int:pk>/credit/", invoices.credit_note_create, name="credit-note-create"),
    path(
        "invoices/<int:pk>/lines/<int:line_pk>/sources/",
        workbench.line_sources_view,
        name="line-sources",
    ),
    path("credit-notes/", credit_notes.credit_note_list, name="credit-notes"),
    path("credit-notes/<int:pk>/", credit_notes.credit_note_detail, name="credit-note-detail"),
    path("credit-notes/<int:pk>/release/", credit_notes.credit_note_release, name="credit-note-release"),
    path("tax-codes/", tax_codes.tax_code_list, name="tax-codes"),
    path("tax-codes/<int:pk>/active/", tax_codes.tax_code_toggle, name="tax-code-toggle"),
    path("reports/unbilled-wip/", reports.wip_report, name="report-wip"),
    path("reports/forecast/", reports.forecast_report, name="report-forecast"),
    path("reports/invoice-register/", reports.register_report, name="report-register"),
    path("reports/contracts/", reports.contract_status_report, name="report-contracts"),
]
