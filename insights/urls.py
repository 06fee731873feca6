from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
    path("runs/", views.run_start, name="run-start"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run-progress"),
]
