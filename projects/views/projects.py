"""Projects in the browser: the list with budget burn bars, a project's page (burn, tasks, milestones, team,
requests), creating a project by hand, status changes and milestone steps."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.roles import Role, has_role
from projects.access import PROJECT_CREATORS, manages, person_of, reads_all_projects
from projects.choices import ProjectStatus, ResourceRequestStatus
from projects.forms import ProjectForm
from projects.models import Assignment, Milestone, RequestedSkill, ResourceRequest, Task
from projects.reports.burn import project_burn
from projects.selectors import visible_projects
from projects.services.projects import (
    accept_milestone,
    complete_milestone,
    create_project,
    set_project_status,
)

from .common import paginate, project_reader, render_page

STATUS_ACTIONS = {
    "activate": (ProjectStatus.ACTIVE, "is active"),
    "hold": (ProjectStatus.ON_HOLD, "is on hold"),
    "close": (ProjectStatus.CLOSED, "is closed"),
}


@require_GET
@project_reader
def project_list(request):
    projects = visible_projects(request.user).select_related("account", "manager").order_by("code")
    status = request.GET.get("status", "active")
    if status in ProjectStatus.values:
        projects = projects.filter(status=status)
    me = person_of(request.user)
    mine = request.GET.get("mine") == "1" and me is not None
    if mine:
        projects = projects.filter(manager=me)
    page = paginate(request, projects)
    burns = project_burn(list(page), today=timezone.localdate())
    for project in page:
        project.burn = burns[project.pk]
    return render_page(
        request,
        "projects/projects/list.html",
        {
            "projects": page,
            "status": status,
            "statuses": ProjectStatus.choices,
            "mine": mine,
            "can_create": has_role(request.user, *PROJECT_CREATORS),
            "manages_some": me is not None and has_role(request.user, Role.PROJECT_MANAGER),
        },
        section="projects",
    )


@require_GET
@project_reader
def project_detail(request, pk: int):
    project = get_object_or_404(
        visible_projects(request.user).select_related("account", "contract", "legal_entity", "manager"), pk=pk
    )
    today = timezone.localdate()
    burn = project_burn([project], today=today)[project.pk]
    tasks = list(Task.objects.filter(project=project).order_by("position", "id"))
    roots = [t for t in tasks if t.parent_id is None]
    for task in tasks:
        task.kids = [t for t in tasks if t.parent_id == task.pk]
    team = Assignment.objects.filter(project=project).select_related("person", "role").order_by("start", "id")
    requests = (
        ResourceRequest.objects.filter(project=project)
        .select_related("role")
        .prefetch_related(
            Prefetch("skill_requirements", queryset=RequestedSkill.objects.select_related("skill"))
        )
        .order_by("status", "start")
    )
    return render_page(
        request,
        "projects/projects/detail.html",
        {
            "project": project,
            "burn": burn,
            "roots": roots,
            "milestones": Milestone.objects.filter(project=project).select_related("accepted_by"),
            "team": team if reads_all_projects(request.user) else team.filter(person__user=request.user),
            "requests": requests if reads_all_projects(request.user) else [],
            "can_manage": manages(request.user, project) and has_role(request.user, Role.PROJECT_MANAGER),
            "can_accept": manages(request.user, project) or has_role(request.user, Role.FINANCE),
            "open_status": ResourceRequestStatus.OPEN,
            "today": today,
        },
        section="projects",
    )


@require_http_methods(["GET", "POST"])
@project_reader
def project_create(request):
    if not has_role(request.user, *PROJECT_CREATORS):
        messages.error(request, "Your role does not allow you to create projects.")
        return redirect("projects:list")
    me = person_of(request.user)
    today = timezone.localdate()
    initial = {"start": today, "manager": me.pk if me else None}
    if me is not None:
        initial |= {"legal_entity": me.legal_entity_id, "currency": me.legal_entity.functional_currency}
    form = ProjectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("phases")
        try:
            project = create_project(actor=request.user, tasks=form.tasks(), **data)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Project {project.code} created.")
            return redirect("projects:detail", pk=project.pk)
    return render_page(request, "projects/projects/form.html", {"form": form}, section="projects")


@require_POST
@project_reader
def project_status(request, pk: int):
    project = get_object_or_404(visible_projects(request.user), pk=pk)
    target = STATUS_ACTIONS.get(request.POST.get("action", ""))
    if target is None:
        messages.error(request, "Unknown action.")
        return redirect("projects:detail", pk=pk)
    try:
        set_project_status(actor=request.user, project=project, status=target[0])
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{project.code} {target[1]}.")
    return redirect("projects:detail", pk=pk)


@require_POST
@project_reader
def milestone_action(request, pk: int, action: str):
    milestone = get_object_or_404(
        Milestone.objects.filter(project__in=visible_projects(request.user)).select_related("project"), pk=pk
    )
    steps = {"complete": (complete_milestone, "completed"), "accept": (accept_milestone, "accepted")}
    if action not in steps:
        messages.error(request, "Unknown action.")
        return redirect("projects:detail", pk=milestone.project_id)
    service, word = steps[action]
    try:
        service(actor=request.user, milestone=milestone)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Milestone '{milestone.name}' {word}.")
    return redirect("projects:detail", pk=milestone.project_id)
