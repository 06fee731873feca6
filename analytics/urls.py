from django.urls import path

from analytics import flow_views, views

app_name = "analytics"

urlpatterns = [
    path("", views.executive, name="executive"),
    path("finance/", views.finance, name="finance"),
    path("projects/", views.projects, name="projects"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("explore/", views.explore, name="explore"),
    path("explore/rows/", views.rows, name="rows"),
    path("me/", views.me, name="me"),
    path("flow/", flow_views.flow_health, name="flow"),
    path("flow/exceptions/<slug:kind>/", flow_views.flow_exceptions, name="flow-exceptions"),
]
