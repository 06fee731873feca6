from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.executive, name="executive"),
    path("finance/", views.finance, name="finance"),
    path("projects/", views.projects, name="projects"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("explore/", views.explore, name="explore"),
    path("explore/rows/", views.rows, name="rows"),
    path("me/", views.me, name="me"),
]
