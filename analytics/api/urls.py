from django.urls import path

from analytics.api import views

urlpatterns = [path("kpis/", views.KpiView.as_view(), name="kpis")]
