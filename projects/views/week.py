"""The consultant's week: the grid that autosaves cell by cell (htmx), rows from assignments, copying last
week, navigating weeks, and submitting."""

from datetime import date

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from projects.access import person_of
from projects.models import Task
from projects.selectors.week import week_grid
from projects.services.time import (
    add_week_rows,
    copy_previous_week,
    parse_hours,
    remove_week_row,
    save_week_cell,
    set_week_row_billable,
    submit_timesheet,
    timesheet_for,
)
from projects.weeks import week_start

from .common import render_page, time_keeper


def _monday(value: str | None) -> date:
    if value:
        try:
            return week_start(date.fromisoformat(value))
        except ValueError:
            pass
    return week_start(timezone.localdate())


def _week_url(monday: date) -> str:
    return f"{reverse('projects:week')}?week={monday.isoformat()}"


def _me(request):
    person = person_of(request.user)
    if person is None:
        raise Http404("You have no person record.")
    return person


def _bool(value) -> bool:
    return str(value).lower() in ("1", "true", "on", "yes")


def _grid_response(request, person, monday, *, error: str = "", focus: str = ""):
    grid = week_grid(person, monday, today=timezone.localdate())
    return render(
        request, "projects/week/_grid.html", {"grid": grid, "grid_error": error, "focus_row": focus}
    )


@require_GET
@time_keeper
def week(request):
    monday = _monday(request.GET.get("week"))
    person = person_of(request.user)
    grid = week_grid(person, monday, today=timezone.localdate()) if person else None
    return render_page(
        request,
        "projects/week/page.html",
        {"grid": grid, "monday": monday, "this_week": week_start(timezone.localdate())},
        section="week",
    )


@require_POST
@time_keeper
def week_cell(request):
    """Autosave of one cell: responds with the cell (saved or in error) and the totals out of band."""
    person = _me(request)
    task = get_object_or_404(Task.objects.select_related("project"), pk=request.POST.get("task") or 0)
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
    except ValueError:
        raise Http404("No such day.") from None
    billable = _bool(request.POST.get("billable"))
    raw = request.POST.get("hours", "")
    notes = request.POST.get("notes")
    error = ""
    try:
        hours = parse_hours(raw)
        save_week_cell(
            actor=request.user,
            person=person,
            task=task,
            date=day,
            billable=billable,
            hours=hours,
            notes=notes,
        )
    except ValueError as exc:
        error = str(exc)
    except DomainError as exc:
        error = exc.detail
    grid = week_grid(person, week_start(day), today=timezone.localdate())
    row = next((r for r in grid.rows if r.task.pk == task.pk and r.billable == billable), None)
    cell = None
    if row is not None:
        cell = next(c for c in row.cells if c.day == day)
    return render(
        request,
        "projects/week/_cell_response.html",
        {
            "grid": grid,
            "row": row,
            "cell": cell,
            "task": task,
            "day": day,
            "billable": billable,
            "error": error,
            "typed": raw if error else None,
            "saved": not error,
        },
    )


def _structure_change(request, action):
    person = _me(request)
    monday = _monday(request.POST.get("week"))
    error = ""
    focus = ""
    try:
        focus = action(person, monday) or ""
    except DomainError as exc:
        error = exc.detail
    if request.headers.get("HX-Request") == "true":
        return _grid_response(request, person, monday, error=error, focus=focus)
    if error:
        messages.error(request, error)
    return redirect(_week_url(monday))


@require_POST
@time_keeper
def week_add_row(request):
    def add(person, monday):
        task = get_object_or_404(Task.objects.select_related("project"), pk=request.POST.get("task") or 0)
        add_week_rows(actor=request.user, person=person, week_start=monday, rows=[(task, None)])
        return f"{task.pk}-{int(task.billable)}"

    return _structure_change(request, add)


@require_POST
@time_keeper
def week_copy(request):
    def copy(person, monday):
        copy_previous_week(actor=request.user, person=person, week_start=monday)

    return _structure_change(request, copy)


@require_POST
@time_keeper
def week_remove_row(request):
    def remove(person, monday):
        task = get_object_or_404(Task, pk=request.POST.get("task") or 0)
        remove_week_row(
            actor=request.user,
            person=person,
            week_start=monday,
            task=task,
            billable=_bool(request.POST.get("billable")),
        )

    return _structure_change(request, remove)


@require_POST
@time_keeper
def week_row_billable(request):
    def flip(person, monday):
        task = get_object_or_404(Task, pk=request.POST.get("task") or 0)
        billable = _bool(request.POST.get("billable"))
        set_week_row_billable(
            actor=request.user,
            person=person,
            week_start=monday,
            task=task,
            billable=billable,
            to=not billable,
        )

    return _structure_change(request, flip)


@require_POST
@time_keeper
def week_submit(request):
    person = _me(request)
    monday = _monday(request.POST.get("week"))
    try:
        sheet = submit_timesheet(actor=request.user, timesheet=timesheet_for(person, monday))
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        count = sheet.entries.filter(status="submitted").count()
        messages.success(
            request,
            f"Week of {monday:%d %b %Y} submitted: {count} entr{'y' if count == 1 else 'ies'} "
            "went to your project managers for approval.",
        )
    return redirect(_week_url(monday))
