"""Who may do what with projects, staffing, time and expenses (DESIGN.md "Access", decided for delivery).

- Consultants see and change only their own time and expenses, and read the projects they work on.
- Project managers run the projects they manage (or that nobody manages yet): tasks, milestones,
  assignments, rate overrides, and approving the time and expenses booked on them. They read every
  project and person, and log their own time like anyone else.
- Resource managers staff: people, skills, assignments, filling resource requests; they read all
  projects and the capacity view.
- Finance reads everything here and maintains rate cards and cost rates; it accepts milestones.
- Executives read everything and change nothing. Integrators read everything and write time and expenses
  for anyone (imports from other trackers) and create projects through the API like the CRM handoff.
- Admins do all. A service called without an actor (a task, the demo) acts as the system.
"""

from core.errors import PermissionDenied
from core.roles import Role, has_role

# Read every project, person, assignment and rate card.
PROJECT_READERS = (
    Role.PROJECT_MANAGER,
    Role.RESOURCE_MANAGER,
    Role.FINANCE,
    Role.EXECUTIVE,
    Role.INTEGRATOR,
)
# Read everyone's time and expenses.
TIME_READERS = (Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR)
# Create projects, milestones and resource requests (the CRM handoff runs as the account manager who won).
PROJECT_CREATORS = (Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER, Role.FINANCE, Role.INTEGRATOR)
# Of those, the ones who plan milestones and resource requests on any project.
PROJECT_PLANNERS = (Role.RESOURCE_MANAGER, Role.FINANCE, Role.INTEGRATOR)
RATE_CARD_WRITERS = (Role.FINANCE, Role.PROJECT_MANAGER, Role.INTEGRATOR)
COST_RATE_WRITERS = (Role.FINANCE,)
STAFFERS = (Role.RESOURCE_MANAGER,)
# Log their own time and expenses (given a person record linked to their user).
TIME_KEEPERS = (Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER)
CAPACITY_READERS = (Role.RESOURCE_MANAGER, Role.PROJECT_MANAGER, Role.FINANCE, Role.EXECUTIVE)
# Read what people cost per hour (cost rates, and the current one on a person); anyone reads their own.
COST_READERS = (Role.FINANCE, Role.EXECUTIVE, Role.RESOURCE_MANAGER, Role.INTEGRATOR)


def person_of(user):
    """The person record of a signed-in user, or None (cached on the user for the request)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_projects_person"):
        from projects.models import Person

        user._projects_person = Person.objects.filter(user=user).select_related("role").first()
    return user._projects_person


def reads_all_projects(user) -> bool:
    return has_role(user, *PROJECT_READERS)


def reads_all_time(user) -> bool:
    return has_role(user, *TIME_READERS)


def reads_cost_of(user, person) -> bool:
    return has_role(user, *COST_READERS) or (person.user_id is not None and person.user_id == user.pk)


def manages(user, project) -> bool:
    """Project managers manage their projects and the ones nobody manages yet; admins manage all."""
    if user is None or has_role(user, Role.ADMIN):
        return True
    if not has_role(user, Role.PROJECT_MANAGER):
        return False
    if project.manager_id is None:
        return True
    return project.manager.user_id == user.pk


def require_manager(actor, project, doing: str) -> None:
    if not manages(actor, project):
        raise PermissionDenied(f"Only the manager of {project.code} may {doing}.")


def may_approve(user, project) -> bool:
    """Approving time and expenses needs the project's named manager (or an admin)."""
    if user is None or has_role(user, Role.ADMIN):
        return True
    return (
        has_role(user, Role.PROJECT_MANAGER)
        and project.manager_id is not None
        and project.manager.user_id == user.pk
    )


def may_write_for(user, person) -> bool:
    """May `user` write time and expenses of `person`? Their own, or anyone's for integrators and admins."""
    if user is None or has_role(user, Role.INTEGRATOR):
        return True
    return person.user_id == user.pk and has_role(user, *TIME_KEEPERS)


def require_write_for(actor, person) -> None:
    if not may_write_for(actor, person):
        raise PermissionDenied("You may record only your own time and expenses.")


def require_any(actor, roles: tuple[str, ...], doing: str) -> None:
    if actor is not None and not has_role(actor, *roles):
        raise PermissionDenied(f"Your role does not allow you to {doing}.")


def require_planner(actor, project, doing: str) -> None:
    """Milestones and resource requests: the project creators, but a project manager only on the projects
    they manage (the CRM handoff plans the new project as its manager)."""
    require_any(actor, PROJECT_CREATORS, doing)
    if actor is not None and not has_role(actor, *PROJECT_PLANNERS):
        require_manager(actor, project, doing)
