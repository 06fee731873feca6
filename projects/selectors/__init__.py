"""Reads of the projects app, scoped to what the user may see (see `projects.access`)."""

from django.db.models import Q, QuerySet

from core.roles import Role, has_role
from projects.access import person_of, reads_all_projects, reads_all_time
from projects.models import (
    Assignment,
    Expense,
    Person,
    Project,
    ResourceRequest,
    TimeEntry,
    TimeOff,
    Timesheet,
)


def visible_projects(user) -> QuerySet[Project]:
    """Every project for the roles that read them all; a consultant's: assigned, or with their time."""
    projects = Project.objects.all()
    if reads_all_projects(user):
        return projects
    person = person_of(user)
    if person is None:
        return projects.none()
    return projects.filter(
        Q(assignments__person=person) | Q(time_entries__person=person) | Q(manager=person)
    ).distinct()


def visible_people(user) -> QuerySet[Person]:
    if reads_all_projects(user):
        return Person.objects.all()
    return (
        Person.objects.filter(user=user)
        if getattr(user, "is_authenticated", False)
        else Person.objects.none()
    )


def visible_assignments(user) -> QuerySet[Assignment]:
    if reads_all_projects(user):
        return Assignment.objects.all()
    return Assignment.objects.filter(person__user=user)


def visible_resource_requests(user) -> QuerySet[ResourceRequest]:
    if reads_all_projects(user):
        return ResourceRequest.objects.all()
    return ResourceRequest.objects.none()


def _own_or_managed(user) -> Q:
    mine = Q(person__user=user)
    if has_role(user, Role.PROJECT_MANAGER):
        mine |= Q(project__manager__user=user)
    return mine


def visible_time_entries(user) -> QuerySet[TimeEntry]:
    """Everyone's time for finance, executives, integrators and admins; else their own, plus for project
    managers the time booked on their projects."""
    if reads_all_time(user):
        return TimeEntry.objects.all()
    return TimeEntry.objects.filter(_own_or_managed(user))


def visible_expenses(user) -> QuerySet[Expense]:
    if reads_all_time(user):
        return Expense.objects.all()
    return Expense.objects.filter(_own_or_managed(user))


def visible_timesheets(user) -> QuerySet[Timesheet]:
    if reads_all_time(user):
        return Timesheet.objects.all()
    mine = Q(person__user=user)
    if has_role(user, Role.PROJECT_MANAGER):
        managed = TimeEntry.objects.filter(project__manager__user=user).values("timesheet_id")
        mine |= Q(pk__in=managed)
    return Timesheet.objects.filter(mine)


def visible_time_off(user) -> QuerySet[TimeOff]:
    """Everyone's time off for the roles that staff, run or read projects (they plan with it); else one's
    own."""
    if reads_all_projects(user):
        return TimeOff.objects.all()
    return (
        TimeOff.objects.filter(person__user=user)
        if getattr(user, "is_authenticated", False)
        else TimeOff.objects.none()
    )
