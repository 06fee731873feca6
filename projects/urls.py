from django.urls import path
from django.views.generic import RedirectView

from projects.views import approvals, capacity, expenses, leave, projects, week

app_name = "projects"

# Each section has its own prefix: the navigation marks an entry active when the page is under its URL.
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list"), name="index"),
    path("portfolio/", projects.project_list, name="list"),
    path("portfolio/new/", projects.project_create, name="create"),
    path("portfolio/<int:pk>/", projects.project_detail, name="detail"),
    path("portfolio/<int:pk>/status/", projects.project_status, name="status"),
    path("portfolio/milestones/<int:pk>/<str:action>/", projects.milestone_action, name="milestone-action"),
    path("time/", week.week, name="week"),
    path("time/cell/", week.week_cell, name="week-cell"),
    path("time/rows/", week.week_add_row, name="week-add-row"),
    path("time/rows/remove/", week.week_remove_row, name="week-row-remove"),
    path("time/rows/billable/", week.week_row_billable, name="week-row-billable"),
    path("time/copy/", week.week_copy, name="week-copy"),
    path("time/submit/", week.week_submit, name="week-submit"),
    path("approvals/", approvals.inbox, name="approvals"),
    path("expenses/", expenses.expense_list, name="expenses"),
    path("expenses/new/", expenses.expense_create, name="expense-create"),
    path("expenses/<int:pk>/", expenses.expense_detail, name="expense-detail"),
    path("expenses/<int:pk>/receipt/", expenses.expense_receipt, name="expense-receipt"),
    path("capacity/", capacity.capacity, name="capacity"),
    path("time-off/", leave.time_off, name="time-off"),
    path("time-off/<int:pk>/cancel/", leave.time_off_cancel, name="time-off-cancel"),
    path("holidays/", leave.holidays, name="holidays"),
    path("holidays/<int:pk>/delete/", leave.holiday_delete, name="holiday-delete"),
    path("capacity/requests/<int:pk>/", capacity.request_detail, name="request-detail"),
]
