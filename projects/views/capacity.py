"""Capacity and staffing: capacity vs demand by role for twelve weeks, the bench, open resource requests,
and a request's ranked staffing suggestions (resource managers staff from there)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.roles import has_role
from projects.access import STAFFERS
from projects.choices import ProjectStatus, ResourceRequestStatus
from projects.models import Person, ResourceRequest
from projects.reports.capacity import bench, capacity_vs_demand, staffing_suggestions
from projects.services.people import fill_resource_request

from .common import capacity_reader, render_page


@require_GET
@capacity_reader
def capacity(request):
    today = timezone.localdate()
    report = capacity_vs_demand(start=today)
    requests = (
        ResourceRequest.objects.filter(
            status=ResourceRequestStatus.OPEN,
            end__gte=today,
            project__status__in=[ProjectStatus.PLANNED, ProjectStatus.ACTIVE],
        )
        .select_related("project", "role")
        .prefetch_related("skill_requirements__skill")
        .order_by("start", "id")
    )
    return render_page(
        request,
        "projects/capacity.html",
        {"report": report, "bench": bench(today=today), "requests": requests, "today": today},
        section="capacity",
    )


@require_http_methods(["GET", "POST"])
@capacity_reader
def request_detail(request, pk: int):
    resource_request = get_object_or_404(
        ResourceRequest.objects.select_related("project", "role", "assignment__person"), pk=pk
    )
    can_staff = has_role(request.user, *STAFFERS)
    if request.method == "POST":
        person = get_object_or_404(Person, pk=request.POST.get("person") or 0)
        try:
            fill_resource_request(actor=request.user, request=resource_request, person=person)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"{person.name} is staffed on {resource_request.project.code}.")
            return redirect("projects:capacity")
    suggestions = (
        staffing_suggestions(resource_request)
        if resource_request.status == ResourceRequestStatus.OPEN
        else []
    )
    return render_page(
        request,
        "projects/request.html",
        {
            "req": resource_request,
            "skills": resource_request.skill_requirements.select_related("skill"),
            "suggestions": suggestions,
            "can_staff": can_staff,
        },
        section="capacity",
    )
