"""People, their skills, assignments to projects and resource requests: the staffing writes."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.roles import has_role
from projects.access import STAFFERS, require_any, require_manager, require_planner
from projects.choices import ResourceRequestStatus
from projects.models import (
    Assignment,
    Person,
    PersonSkill,
    Project,
    RequestedSkill,
    ResourceRequest,
    Role,
    Skill,
)
from projects.services.common import check_dates, check_positive

PERSON_EDITABLE = (
    "name",
    "email",
    "role",
    "legal_entity",
    "manager",
    "capacity_hours_per_week",
    "location",
    "active",
    "user",
    "practice",
)


def _skill(value) -> Skill:
    if isinstance(value, Skill):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        skill = Skill.objects.filter(pk=value).first()
        if skill is None:
            raise ValidationFailed(
                f"Unknown skill id {value}.", fields={"skills": [f"Unknown skill {value}."]}
            )
        return skill
    name = str(value or "").strip()
    if not name:
        raise ValidationFailed("A skill needs a name.", fields={"skills": ["A skill has no name."]})
    existing = Skill.objects.filter(name__iexact=name).first()
    return existing or Skill.objects.get_or_create(name=name[:100])[0]


def parse_skills(skills: Iterable) -> list[tuple[Skill, int]]:
    """Skills given as names, Skill objects, ids, (skill, level) pairs or {"skill"|"name", "level"} dicts."""
    parsed: dict[int, tuple[Skill, int]] = {}
    for item in skills or ():
        level = 1
        if isinstance(item, dict):
            value = item.get("skill", item.get("name"))
            level = item.get("level", 1)
        elif isinstance(item, tuple | list):
            value, level = item
        else:
            value = item
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise ValidationFailed(
                f"A skill level is 1 (beginner) to 5 (expert), not {level!r}.",
                fields={"skills": ["Level must be 1 to 5."]},
            )
        skill = _skill(value)
        parsed[skill.pk] = (skill, level)
    return list(parsed.values())


def _check_capacity(hours: Decimal) -> None:
    if hours is None or hours < 0 or hours > 168:
        raise ValidationFailed(
            "Capacity is 0 to 168 hours a week.", fields={"capacity_hours_per_week": ["0 to 168."]}
        )


@transaction.atomic
def create_person(
    *,
    actor,
    name: str,
    role: Role,
    legal_entity,
    user=None,
    email: str = "",
    manager: Person | None = None,
    capacity_hours_per_week: Decimal = Decimal(40),
    location: str = "",
    skills: Iterable = (),
    practice=None,
) -> Person:
    """Add someone the firm staffs: primary role, legal entity, weekly capacity, skills (level 1–5)."""
    require_any(actor, STAFFERS, "add people")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The person needs a name.", fields={"name": ["Required."]})
    _check_capacity(capacity_hours_per_week)
    if user is not None and Person.objects.filter(user=user).exists():
        raise ValidationFailed(
            f"{user.username} already has a person record.", fields={"user": ["Already linked."]}
        )
    person = Person.objects.create(
        name=name[:200],
        role=role,
        legal_entity=legal_entity,
        user=user,
        email=email or (user.email if user is not None else ""),
        manager=manager,
        capacity_hours_per_week=capacity_hours_per_week,
        location=location[:100],
        practice=practice,
    )
    parsed = parse_skills(skills)
    PersonSkill.objects.bulk_create(PersonSkill(person=person, skill=s, level=lvl) for s, lvl in parsed)
    audit.record(
        actor=actor,
        action="person.created",
        obj=person,
        changes={
            "role": role.pk,
            "legal_entity": legal_entity.pk,
            "skills": {s.name: lvl for s, lvl in parsed},
        },
    )
    return person


@transaction.atomic
def update_person(*, actor, person: Person, **changes) -> Person:
    """Change a person's role, practice, legal entity, line manager, capacity, location, user link or
    activity."""
    require_any(actor, STAFFERS, "change people")
    unknown = sorted(set(changes) - set(PERSON_EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    person = Person.objects.select_for_update().get(pk=person.pk)
    if "capacity_hours_per_week" in changes:
        _check_capacity(changes["capacity_hours_per_week"])
    if changes.get("manager") is not None and changes["manager"].pk == person.pk:
        raise ValidationFailed("Nobody is their own manager.", fields={"manager": ["Choose someone else."]})
    if "name" in changes and not (changes["name"] or "").strip():
        raise ValidationFailed("The person needs a name.", fields={"name": ["Required."]})
    user = changes.get("user")
    if user is not None and Person.objects.filter(user=user).exclude(pk=person.pk).exists():
        raise ValidationFailed(f"{user.username} already has a person record.", fields={"user": ["Linked."]})
    before = {key: getattr(person, key) for key in changes}
    for key, value in changes.items():
        setattr(person, key, value)
    person.save(update_fields=list(changes))
    diff = audit.diff(before, changes)
    if diff:
        audit.record(actor=actor, action="person.changed", obj=person, changes=diff)
    return person


@transaction.atomic
def set_person_skills(*, actor, person: Person, skills: Iterable) -> Person:
    """Replace a person's skills (each with a level 1–5)."""
    require_any(actor, STAFFERS, "change skills")
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = {row.skill.name: row.level for row in person.skill_levels.select_related("skill")}
    parsed = parse_skills(skills)
    person.skill_levels.all().delete()
    PersonSkill.objects.bulk_create(PersonSkill(person=person, skill=s, level=lvl) for s, lvl in parsed)
    after = {skill.name: level for skill, level in parsed}
    if before != after:
        audit.record(
            actor=actor, action="person.skills_changed", obj=person, changes={"skills": [before, after]}
        )
    return person


def _may_staff(actor, project: Project) -> None:
    if actor is None or has_role(actor, *STAFFERS):
        return
    require_manager(actor, project, "staff it")


def _check_assignment(project: Project, person: Person, start: date, end: date, hours: Decimal) -> None:
    check_dates(start, end)
    check_positive(hours, "hours", "assignment's hours")
    if not person.active:
        raise ValidationFailed(f"{person.name} is not active.", fields={"person": ["Inactive person."]})
    if start < project.start or end > project.end:
        raise ValidationFailed(
            f"{project.code} runs from {project.start.isoformat()} to {project.end.isoformat()}; "
            "the assignment must fit in it.",
            fields={"start": ["Outside the project's dates."]},
        )


@transaction.atomic
def create_assignment(
    *,
    actor,
    person: Person,
    project: Project,
    start: date,
    end: date,
    hours: Decimal,
    role: Role | None = None,
) -> Assignment:
    """Staff a person on a project in a role (default: their primary role) for `hours` over start..end."""
    project = Project.objects.select_related("manager").get(pk=project.pk)
    _may_staff(actor, project)
    _check_assignment(project, person, start, end, hours)
    assignment = Assignment.objects.create(
        person=person,
        project=project,
        role=role or person.role,
        start=start,
        end=end,
        hours=hours,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(
        actor=actor,
        action="assignment.created",
        obj=assignment,
        changes={
            "person": person.pk,
            "project": project.pk,
            "role": assignment.role_id,
            "start": start,
            "end": end,
            "hours": hours,
        },
    )
    emit(
        "assignment.created",
        assignment,
        {"person": person.pk, "project": project.pk, "hours": hours, "start": start, "end": end},
        actor=actor,
    )
    return assignment


@transaction.atomic
def update_assignment(*, actor, assignment: Assignment, **changes) -> Assignment:
    """Change an assignment's role, dates or hours."""
    allowed = {"role", "start", "end", "hours"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project__manager", "person")
        .get(pk=assignment.pk)
    )
    _may_staff(actor, assignment.project)
    _check_assignment(
        assignment.project,
        assignment.person,
        changes.get("start", assignment.start),
        changes.get("end", assignment.end),
        changes.get("hours", assignment.hours),
    )
    before = {key: getattr(assignment, key) for key in changes}
    for key, value in changes.items():
        setattr(assignment, key, value)
    assignment.save(update_fields=list(changes))
    diff = audit.diff(before, changes)
    if diff:
        audit.record(actor=actor, action="assignment.changed", obj=assignment, changes=diff)
    return assignment


@transaction.atomic
def delete_assignment(*, actor, assignment: Assignment) -> None:
    """Take a person off a project. Time already booked stays; new time needs an assignment again."""
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project__manager")
        .get(pk=assignment.pk)
    )
    _may_staff(actor, assignment.project)
    audit.record(
        actor=actor,
        action="assignment.deleted",
        obj=assignment,
        changes={"person": assignment.person_id, "project": assignment.project_id, "hours": assignment.hours},
    )
    ResourceRequest.objects.filter(assignment=assignment).update(
        status=ResourceRequestStatus.OPEN, assignment=None, filled_at=None, filled_by=None
    )
    assignment.delete()


@transaction.atomic
def create_resource_request(
    *,
    actor,
    project: Project,
    role: Role,
    hours: Decimal,
    start: date,
    end: date,
    skills: Iterable = (),
    notes: str = "",
) -> ResourceRequest:
    """Ask for someone in `role` with `skills` (names, or {skill, level} with a minimum level 1–5) for
    `hours` between start and end. The CRM handoff opens one per staffed line of a won deal."""
    project = Project.objects.select_related("manager").get(pk=project.pk)
    require_planner(actor, project, "request people")
    check_dates(start, end)
    check_positive(hours, "hours", "requested hours")
    request = ResourceRequest.objects.create(
        project=project,
        role=role,
        hours=hours,
        start=start,
        end=end,
        notes=notes,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    parsed = parse_skills(skills)
    RequestedSkill.objects.bulk_create(
        RequestedSkill(request=request, skill=s, level=lvl) for s, lvl in parsed
    )
    audit.record(
        actor=actor,
        action="resource_request.created",
        obj=request,
        changes={
            "project": project.pk,
            "role": role.pk,
            "hours": hours,
            "start": start,
            "end": end,
            "skills": {s.name: lvl for s, lvl in parsed},
        },
    )
    emit(
        "resource_request.created",
        request,
        {"project": project.pk, "role": role.pk, "hours": hours, "start": start, "end": end},
        actor=actor,
    )
    return request


@transaction.atomic
def fill_resource_request(
    *, actor, request: ResourceRequest, person: Person, hours: Decimal | None = None
) -> ResourceRequest:
    """Staff an open request: assign `person` to its project in its role and window (open → filled)."""
    require_any(actor, STAFFERS, "fill resource requests")
    request = (
        ResourceRequest.objects.select_for_update(of=("self",)).select_related("project").get(pk=request.pk)
    )
    if request.status != ResourceRequestStatus.OPEN:
        raise InvalidTransition(f"This request is {request.get_status_display().lower()}, not open.")
    assignment = create_assignment(
        actor=actor,
        person=person,
        project=request.project,
        role=request.role,
        start=request.start,
        end=request.end,
        hours=hours or request.hours,
    )
    request.status = ResourceRequestStatus.FILLED
    request.assignment = assignment
    request.filled_at = timezone.now()
    request.filled_by = actor if getattr(actor, "is_authenticated", False) else None
    request.save(update_fields=["status", "assignment", "filled_at", "filled_by"])
    audit.record(
        actor=actor,
        action="resource_request.filled",
        obj=request,
        changes={
            "status": [ResourceRequestStatus.OPEN, ResourceRequestStatus.FILLED],
            "person": person.pk,
            "assignment": assignment.pk,
        },
    )
    emit("resource_request.filled", request, {"person": person.pk, "assignment": assignment.pk}, actor=actor)
    return request


@transaction.atomic
def cancel_resource_request(*, actor, request: ResourceRequest, reason: str) -> ResourceRequest:
    """Withdraw an open request nobody will fill (the need went away)."""
    request = (
        ResourceRequest.objects.select_for_update(of=("self",))
        .select_related("project__manager")
        .get(pk=request.pk)
    )
    if actor is not None and not has_role(actor, *STAFFERS):
        require_manager(actor, request.project, "cancel its requests")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the request is cancelled.", fields={"reason": ["Required."]})
    if request.status != ResourceRequestStatus.OPEN:
        raise InvalidTransition(f"This request is {request.get_status_display().lower()}, not open.")
    request.status = ResourceRequestStatus.CANCELLED
    request.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="resource_request.cancelled",
        obj=request,
        changes={"status": [ResourceRequestStatus.OPEN, ResourceRequestStatus.CANCELLED]},
        reason=reason.strip(),
    )
    return request
