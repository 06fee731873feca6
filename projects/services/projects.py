"""Projects, their task tree and milestones: creating them (by hand or from the CRM handoff), changing
them, and the milestone lifecycle planned → completed → accepted."""

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, has_role
from projects.access import PROJECT_CREATORS, require_any, require_manager, require_planner
from projects.choices import MilestoneStatus, ProjectStatus
from projects.models import Milestone, Person, Project, Task
from projects.services.common import check_currency, check_dates, check_positive

MAX_TASK_DEPTH = 3

# Allowed status changes of a project.
PROJECT_TRANSITIONS = {
    ProjectStatus.PLANNED: (ProjectStatus.ACTIVE, ProjectStatus.CLOSED),
    ProjectStatus.ACTIVE: (ProjectStatus.ON_HOLD, ProjectStatus.CLOSED),
    ProjectStatus.ON_HOLD: (ProjectStatus.ACTIVE, ProjectStatus.CLOSED),
    ProjectStatus.CLOSED: (ProjectStatus.ACTIVE,),
}

PROJECT_EDITABLE = (
    "name",
    "manager",
    "start",
    "end",
    "budget_hours",
    "budget_amount",
    "target_margin_percent",
    "allow_any_person",
    "description",
    "practice",
)


def _check_manager(manager: Person | None) -> None:
    if manager is not None and not manager.active:
        raise ValidationFailed(
            f"{manager.name} is no longer active and cannot manage a project.",
            fields={"manager": ["Inactive person."]},
        )


def _check_budget(budget_hours, budget_amount, currency: str, target_margin_percent=None) -> None:
    check_positive(budget_hours, "budget_hours", "budget in hours", allow_zero=True)
    check_positive(budget_amount, "budget_amount", "budget amount", allow_zero=True)
    if budget_amount is not None and quantize(budget_amount, currency) != budget_amount:
        raise ValidationFailed(
            f"The budget amount has more decimals than {currency} allows.",
            fields={"budget_amount": [f"Round to {currency}'s minor unit."]},
        )
    if target_margin_percent is not None and not Decimal(-100) <= target_margin_percent <= Decimal(100):
        raise ValidationFailed(
            "The target margin is a percentage from -100 to 100.",
            fields={"target_margin_percent": ["Between -100 and 100."]},
        )


def _create_tasks(project: Project, specs: Sequence[dict], parent: Task | None, depth: int) -> list[Task]:
    created = []
    for position, spec in enumerate(specs):
        name = str(spec.get("name", "")).strip()
        if not name:
            raise ValidationFailed("Every task needs a name.", fields={"tasks": ["A task has no name."]})
        if depth > MAX_TASK_DEPTH:
            raise ValidationFailed(
                f"Tasks nest at most {MAX_TASK_DEPTH} levels deep.", fields={"tasks": ["Nested too deep."]}
            )
        task = Task.objects.create(
            project=project,
            parent=parent,
            name=name[:200],
            billable=bool(spec.get("billable", True)),
            position=position,
        )
        created.append(task)
        created += _create_tasks(project, spec.get("children") or (), task, depth + 1)
    return created


@transaction.atomic
def create_project(
    *,
    actor,
    account,
    legal_entity,
    code: str,
    name: str,
    currency: str,
    start: date,
    end: date,
    manager: Person | None = None,
    contract=None,
    budget_hours: Decimal | None = None,
    budget_amount: Decimal | None = None,
    tasks: Iterable[dict] = (),
    status: str = ProjectStatus.ACTIVE,
    target_margin_percent: Decimal | None = None,
    allow_any_person: bool = False,
    description: str = "",
    practice=None,
) -> Project:
    """Create a project with its task tree (`tasks`: [{name, billable, children?}]).

    Called by the CRM's win → delivery handoff as well as by hand; a project starts `active` (time may
    be booked within its dates) unless `status="planned"` is given. Emits `project.created`.
    """
    require_any(actor, PROJECT_CREATORS, "create projects")
    code = (code or "").strip().upper()
    if not code:
        raise ValidationFailed("The project needs a code.", fields={"code": ["Required."]})
    check_currency(currency)
    check_dates(start, end)
    _check_budget(budget_hours, budget_amount, currency, target_margin_percent)
    _check_manager(manager)
    if status not in (ProjectStatus.PLANNED, ProjectStatus.ACTIVE):
        raise ValidationFailed(
            "A new project is planned or active.", fields={"status": ["Use 'planned' or 'active'."]}
        )
    if contract is not None:
        if contract.account_id != account.pk:
            raise ValidationFailed(
                f"Contract {contract.number} belongs to another client.",
                fields={"contract": ["Not a contract of this client."]},
            )
        if contract.legal_entity_id != legal_entity.pk:
            raise ValidationFailed(
                f"Contract {contract.number} is with another legal entity.",
                fields={"legal_entity": ["Must be the contract's legal entity."]},
            )
        if contract.currency != currency:
            raise ValidationFailed(
                f"Contract {contract.number} is in {contract.currency}; the project must be too.",
                fields={"currency": [f"Use {contract.currency}."]},
            )
    if Project.objects.filter(code__iexact=code).exists():
        raise ValidationFailed(f"A project with code {code} exists.", fields={"code": ["Taken."]})
    try:
        with transaction.atomic():
            project = Project.objects.create(
                code=code,
                name=name.strip()[:200],
                account=account,
                contract=contract,
                legal_entity=legal_entity,
                currency=currency,
                status=status,
                manager=manager,
                start=start,
                end=end,
                budget_hours=budget_hours,
                budget_amount=budget_amount,
                target_margin_percent=target_margin_percent,
                allow_any_person=allow_any_person,
                description=description,
                practice=practice,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise ValidationFailed(f"A project with code {code} exists.", fields={"code": ["Taken."]}) from None
    created = _create_tasks(project, list(tasks), None, 1)
    audit.record(
        actor=actor,
        action="project.created",
        obj=project,
        changes={
            "account": account.pk,
            "contract": contract.pk if contract else None,
            "currency": currency,
            "budget_hours": budget_hours,
            "budget_amount": budget_amount,
            "tasks": len(created),
        },
    )
    emit(
        "project.created",
        project,
        {
            "code": project.code,
            "account": account.pk,
            "contract": contract.pk if contract else None,
            "legal_entity": legal_entity.pk,
            "currency": currency,
        },
        actor=actor,
    )
    return project


def _locked_project(project: Project) -> Project:
    return Project.objects.select_for_update(of=("self",)).select_related("manager").get(pk=project.pk)


@transaction.atomic
def update_project(*, actor, project: Project, **changes) -> Project:
    """Change the editable fields (name, manager, dates, budgets, target margin, …) of a project."""
    unknown = sorted(set(changes) - set(PROJECT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    project = _locked_project(project)
    require_manager(actor, project, "change the project")
    start = changes.get("start", project.start)
    end = changes.get("end", project.end)
    check_dates(start, end)
    _check_budget(
        changes.get("budget_hours"),
        changes.get("budget_amount"),
        project.currency,
        changes.get("target_margin_percent"),
    )
    if "manager" in changes:
        _check_manager(changes["manager"])
    before = {name: getattr(project, name) for name in changes}
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=list(changes))
    after = {name: getattr(project, name) for name in changes}
    diff = audit.diff(before, after)
    if diff:
        audit.record(actor=actor, action="project.changed", obj=project, changes=diff)
    return project


@transaction.atomic
def set_project_status(*, actor, project: Project, status: str, reason: str = "") -> Project:
    """Move a project to another status (planned, active, on hold, closed) along the allowed paths."""
    project = _locked_project(project)
    require_manager(actor, project, "change its status")
    if status not in PROJECT_TRANSITIONS.get(project.status, ()):
        raise InvalidTransition(
            f"{project.code} is {project.get_status_display().lower()}; it cannot become "
            f"{ProjectStatus(status).label.lower() if status in ProjectStatus.values else status}.",
        )
    before = project.status
    project.status = status
    project.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="project.status_changed",
        obj=project,
        changes={"status": [before, status]},
        reason=reason,
    )
    emit("project.status_changed", project, {"from": before, "to": status}, actor=actor)
    return project


@transaction.atomic
def create_task(
    *, actor, project: Project, name: str, parent: Task | None = None, billable: bool = True
) -> Task:
    """Add a task (or phase) to a project's tree."""
    require_manager(actor, project, "change its tasks")
    if parent is not None and parent.project_id != project.pk:
        raise ValidationFailed(
            f"Task '{parent.name}' belongs to another project.", fields={"parent": ["Not in this project."]}
        )
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The task needs a name.", fields={"name": ["Required."]})
    depth = 1
    ancestor = parent
    while ancestor is not None:
        depth += 1
        ancestor = ancestor.parent
    if depth > MAX_TASK_DEPTH:
        raise ValidationFailed(
            f"Tasks nest at most {MAX_TASK_DEPTH} levels deep.", fields={"parent": ["Nested too deep."]}
        )
    position = Task.objects.filter(project=project, parent=parent).count()
    task = Task.objects.create(
        project=project, parent=parent, name=name[:200], billable=billable, position=position
    )
    audit.record(actor=actor, action="task.created", obj=task, changes={"project": project.pk})
    return task


@transaction.atomic
def update_task(
    *, actor, task: Task, name: str | None = None, billable: bool | None = None, active: bool | None = None
) -> Task:
    """Rename a task, change whether its time is billable by default, or close it to new time."""
    task = Task.objects.select_for_update(of=("self",)).select_related("project__manager").get(pk=task.pk)
    require_manager(actor, task.project, "change its tasks")
    changes = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed("The task needs a name.", fields={"name": ["Required."]})
        changes["name"] = name.strip()[:200]
    if billable is not None:
        changes["billable"] = billable
    if active is not None:
        changes["active"] = active
    before = {key: getattr(task, key) for key in changes}
    for key, value in changes.items():
        setattr(task, key, value)
    if changes:
        task.save(update_fields=list(changes))
        audit.record(actor=actor, action="task.changed", obj=task, changes=audit.diff(before, changes))
    return task


def _check_milestone_amount(project: Project, amount: Decimal) -> None:
    check_positive(amount, "amount", "milestone amount", allow_zero=True)
    if quantize(amount, project.currency) != amount:
        raise ValidationFailed(
            f"The amount has more decimals than {project.currency} allows.",
            fields={"amount": [f"Round to {project.currency}'s minor unit."]},
        )


@transaction.atomic
def create_milestone(*, actor, project: Project, name: str, amount: Decimal, due: date) -> Milestone:
    """Add a milestone (in the project's currency) to a project; the CRM handoff calls this too."""
    require_planner(actor, project, "add milestones")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The milestone needs a name.", fields={"name": ["Required."]})
    _check_milestone_amount(project, amount)
    milestone = Milestone.objects.create(project=project, name=name[:200], amount=amount, due=due)
    audit.record(
        actor=actor,
        action="milestone.created",
        obj=milestone,
        changes={"project": project.pk, "amount": amount, "due": due},
    )
    return milestone


def _locked_milestone(milestone: Milestone) -> Milestone:
    return (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("project__manager")
        .get(pk=milestone.pk)
    )


@transaction.atomic
def update_milestone(
    *,
    actor,
    milestone: Milestone,
    name: str | None = None,
    amount: Decimal | None = None,
    due: date | None = None,
) -> Milestone:
    """Change a milestone that is still planned."""
    milestone = _locked_milestone(milestone)
    require_manager(actor, milestone.project, "change its milestones")
    if milestone.status != MilestoneStatus.PLANNED:
        raise InvalidTransition(
            f"Milestone '{milestone.name}' is {milestone.get_status_display().lower()}; "
            "only planned ones change."
        )
    changes = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed("The milestone needs a name.", fields={"name": ["Required."]})
        changes["name"] = name.strip()[:200]
    if amount is not None:
        _check_milestone_amount(milestone.project, amount)
        changes["amount"] = amount
    if due is not None:
        changes["due"] = due
    before = {key: getattr(milestone, key) for key in changes}
    for key, value in changes.items():
        setattr(milestone, key, value)
    if changes:
        milestone.save(update_fields=list(changes))
        audit.record(
            actor=actor, action="milestone.changed", obj=milestone, changes=audit.diff(before, changes)
        )
    return milestone


@transaction.atomic
def complete_milestone(*, actor, milestone: Milestone) -> Milestone:
    """The team delivered the milestone: planned → completed."""
    milestone = _locked_milestone(milestone)
    require_manager(actor, milestone.project, "complete its milestones")
    if milestone.status != MilestoneStatus.PLANNED:
        raise InvalidTransition(
            f"Milestone '{milestone.name}' is {milestone.get_status_display().lower()}, not planned."
        )
    milestone.status = MilestoneStatus.COMPLETED
    milestone.completed_at = timezone.now()
    milestone.completed_by = actor if getattr(actor, "is_authenticated", False) else None
    milestone.save(update_fields=["status", "completed_at", "completed_by"])
    audit.record(
        actor=actor,
        action="milestone.completed",
        obj=milestone,
        changes={"status": [MilestoneStatus.PLANNED, MilestoneStatus.COMPLETED]},
    )
    emit("milestone.completed", milestone, {"project": milestone.project_id}, actor=actor)
    return milestone


@transaction.atomic
def accept_milestone(*, actor, milestone: Milestone) -> Milestone:
    """The client accepted the delivered milestone: completed → accepted, recording who and when.

    Emits `milestone.accepted`, which billing (invoice the milestone) and revenue recognition (recognise
    it) react to. The project's manager or finance records it.
    """
    milestone = _locked_milestone(milestone)
    if actor is not None and not has_role(actor, Role.FINANCE):
        require_manager(actor, milestone.project, "record its milestones' acceptance")
    if milestone.status != MilestoneStatus.COMPLETED:
        raise InvalidTransition(
            f"Milestone '{milestone.name}' is {milestone.get_status_display().lower()}; "
            "only a completed milestone can be accepted."
        )
    project = milestone.project
    milestone.status = MilestoneStatus.ACCEPTED
    milestone.accepted_at = timezone.now()
    milestone.accepted_by = actor if getattr(actor, "is_authenticated", False) else None
    milestone.save(update_fields=["status", "accepted_at", "accepted_by"])
    audit.record(
        actor=actor,
        action="milestone.accepted",
        obj=milestone,
        changes={"status": [MilestoneStatus.COMPLETED, MilestoneStatus.ACCEPTED]},
    )
    emit(
        "milestone.accepted",
        milestone,
        {
            "project": project.pk,
            "contract": project.contract_id,
            "account": project.account_id,
            "legal_entity": project.legal_entity_id,
            "name": milestone.name,
            "amount": milestone.amount,
            "currency": project.currency,
            "accepted_at": milestone.accepted_at,
            "accepted_by": milestone.accepted_by_id,
        },
        actor=actor,
    )
    return milestone
