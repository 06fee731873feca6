from django.urls import path
from rest_framework.routers import SimpleRouter

from projects.api import capacity, views

router = SimpleRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("milestones", views.MilestoneViewSet, basename="milestone")
router.register("roles", views.RoleViewSet, basename="role")
router.register("rate-cards", views.RateCardViewSet, basename="rate-card")
router.register("rate-overrides", views.RateOverrideViewSet, basename="rate-override")
router.register("cost-rates", views.CostRateViewSet, basename="cost-rate")
router.register("people", views.PersonViewSet, basename="person")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("resource-requests", views.ResourceRequestViewSet, basename="resource-request")
router.register("time-entries", views.TimeEntryViewSet, basename="time-entry")
router.register("timesheets", views.TimesheetViewSet, basename="timesheet")
router.register("expenses", views.ExpenseViewSet, basename="expense")
router.register("practices", capacity.PracticeViewSet, basename="practice")
router.register("holidays", capacity.HolidayViewSet, basename="holiday")
router.register("time-off", capacity.TimeOffViewSet, basename="time-off")

urlpatterns = [
    *router.urls,
    path("capacity/", views.CapacityView.as_view(), name="projects-capacity"),
    path("bench/", views.BenchView.as_view(), name="projects-bench"),
]
