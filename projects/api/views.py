"""Projects API: projects, tasks, milestones, roles, rate cards, people, staffing, time and expenses.

Lists are scoped to what the caller may see (`projects.selectors`): another person's time is a 404 to a
consultant. Role checks here are coarse (who may write at all); each service decides the rest (whose
time, which project's manager). API keys need the `projects:read` / `projects:write` scope.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import base
from core.api.permissions import role_permission
from core.errors import ValidationFailed
from core.roles import Role as UserRole
from projects.access import (
    CAPACITY_READERS,
    COST_RATE_WRITERS,
    COST_READERS,
    PROJECT_CREATORS,
    PROJECT_READERS,
    RATE_CARD_WRITERS,
    STAFFERS,
    person_of,
)
from projects.api import filtersets
from projects.api import serializers as s
from projects.choices import ProjectStatus
from projects.models import (
    Assignment,
    CostRate,
    Expense,
    Milestone,
    Person,
    PersonSkill,
    Project,
    ProjectRateOverride,
    RateCard,
    RateCardRate,
    RequestedSkill,
    ResourceRequest,
    Role,
    Task,
    TimeEntry,
    Timesheet,
)
from projects.reports.burn import project_burn
from projects.reports.capacity import HORIZON_WEEKS, bench, capacity_vs_demand, staffing_suggestions
from projects.selectors import (
    visible_assignments,
    visible_expenses,
    visible_people,
    visible_projects,
    visible_resource_requests,
    visible_time_entries,
    visible_timesheets,
)
from projects.services import expenses as expense_services
from projects.services import people as people_services
from projects.services import projects as project_services
from projects.services import rates as rate_services
from projects.services import time as time_services

ALL_ROLES = tuple(UserRole.values)
TIME_WRITERS = (
    UserRole.CONSULTANT,
    UserRole.PROJECT_MANAGER,
    UserRole.RESOURCE_MANAGER,
    UserRole.FINANCE,
    UserRole.INTEGRATOR,
)


def _permissions(*, read=ALL_ROLES, write=()):
    return [*base.APIView.permission_classes, role_permission(read=read, write=write)]


class ProjectsViewSet(base.ServiceViewSet):
    scope_area = "projects"

    def payload(self, serializer_class, **kwargs):
        data = serializer_class(data=self.request.data, **kwargs)
        data.is_valid(raise_exception=True)
        return data.validated_data


class ReadMixin(mixins.ListModelMixin, mixins.RetrieveModelMixin):
    pass


# Projects, tasks, milestones


class ProjectViewSet(ReadMixin, ProjectsViewSet):
    """Client projects: a consultant sees the ones they work on, the other roles all of them."""

    model = Project
    serializer_class = s.ProjectSerializer
    filterset_class = filtersets.ProjectFilterSet
    permission_classes = _permissions(write=(*PROJECT_CREATORS,))
    pagination_class = base.cursor_pagination("code", "id")

    def visible(self):
        return visible_projects(self.request.user)

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def create(self, request):
        """Create a project with its task tree; it starts active unless `status` is `planned`."""
        data = self.payload(s.ProjectCreateSerializer)
        project = project_services.create_project(actor=request.user, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def partial_update(self, request, pk=None):
        """Change the name, manager, dates, budgets or target margin (the project's manager)."""
        data = self.payload(s.ProjectUpdateSerializer)
        project = project_services.update_project(actor=request.user, project=self.get_object(), **data)
        return Response(s.ProjectSerializer(project).data)

    def _status(self, request, target):
        project = project_services.set_project_status(
            actor=request.user, project=self.get_object(), status=target
        )
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=None, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Start (or resume, or reopen) the project: time may be booked within its dates."""
        return self._status(request, ProjectStatus.ACTIVE)

    @extend_schema(request=None, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        """Put the project on hold: no new time or expenses until it is active again."""
        return self._status(request, ProjectStatus.ON_HOLD)

    @extend_schema(request=None, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the project."""
        return self._status(request, ProjectStatus.CLOSED)

    @extend_schema(responses=s.BudgetBurnSerializer)
    @action(detail=True, methods=["get"])
    def budget(self, request, pk=None):
        """Budget burn: hours, cost and billable value to date against budget, and the estimate at
        completion (actual + what assignments still plan)."""
        project = self.get_object()
        burn = project_burn([project], today=timezone.localdate())[project.pk]
        return Response(s.BudgetBurnSerializer(burn).data)


class TaskViewSet(ReadMixin, ProjectsViewSet):
    """The work breakdown of projects: phases and the tasks time is booked on."""

    model = Task
    serializer_class = s.TaskSerializer
    filterset_class = filtersets.TaskFilterSet
    permission_classes = _permissions(write=(UserRole.PROJECT_MANAGER,))
    pagination_class = base.cursor_pagination("project_id", "position", "id")

    def visible(self):
        return Task.objects.filter(project__in=visible_projects(self.request.user))

    @extend_schema(request=s.TaskCreateSerializer, responses={201: s.TaskSerializer})
    def create(self, request):
        data = self.payload(s.TaskCreateSerializer)
        task = project_services.create_task(actor=request.user, **data)
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaskUpdateSerializer, responses=s.TaskSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(s.TaskUpdateSerializer)
        task = project_services.update_task(actor=request.user, task=self.get_object(), **data)
        return Response(s.TaskSerializer(task).data)


class MilestoneViewSet(ReadMixin, ProjectsViewSet):
    """Milestones: planned → completed (the team) → accepted (the client; billing and revenue react)."""

    model = Milestone
    serializer_class = s.ProjectMilestoneSerializer
    filterset_class = filtersets.MilestoneFilterSet
    permission_classes = _permissions(write=(*PROJECT_CREATORS,))
    pagination_class = base.cursor_pagination("due", "id")

    def visible(self):
        return Milestone.objects.filter(project__in=visible_projects(self.request.user)).select_related(
            "project"
        )

    @extend_schema(request=s.ProjectMilestoneCreateSerializer, responses={201: s.ProjectMilestoneSerializer})
    def create(self, request):
        data = self.payload(s.ProjectMilestoneCreateSerializer)
        milestone = project_services.create_milestone(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(milestone)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProjectMilestoneUpdateSerializer, responses=s.ProjectMilestoneSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(s.ProjectMilestoneUpdateSerializer)
        milestone = project_services.update_milestone(actor=request.user, milestone=self.get_object(), **data)
        return Response(self.get_serializer(self.reread(milestone)).data)

    @extend_schema(request=None, responses=s.ProjectMilestoneSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """The team delivered it: planned → completed."""
        milestone = project_services.complete_milestone(actor=request.user, milestone=self.get_object())
        return Response(self.get_serializer(self.reread(milestone)).data)

    @extend_schema(request=None, responses=s.ProjectMilestoneSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """The client accepted it: completed → accepted; emits `milestone.accepted`."""
        milestone = project_services.accept_milestone(actor=request.user, milestone=self.get_object())
        return Response(self.get_serializer(self.reread(milestone)).data)


# Roles and rates


class RoleViewSet(ReadMixin, ProjectsViewSet):
    """Delivery roles people are staffed and billed as."""

    model = Role
    serializer_class = s.RoleSerializer
    permission_classes = _permissions(write=(UserRole.FINANCE, UserRole.RESOURCE_MANAGER))
    pagination_class = base.cursor_pagination("name", "id")

    @extend_schema(request=s.RoleSerializer, responses={201: s.RoleSerializer})
    def create(self, request):
        data = self.payload(s.RoleSerializer)
        role = rate_services.create_role(actor=request.user, **data)
        return Response(s.RoleSerializer(role).data, status=status.HTTP_201_CREATED)


class RateCardViewSet(ReadMixin, ProjectsViewSet):
    """Bill rates per role, effective-dated: standard cards, a client's, a contract's."""

    model = RateCard
    serializer_class = s.RateCardSerializer
    filterset_class = filtersets.RateCardFilterSet
    permission_classes = _permissions(read=PROJECT_READERS, write=RATE_CARD_WRITERS)
    pagination_class = base.cursor_pagination("name", "id")

    def visible(self):
        return RateCard.objects.prefetch_related(
            Prefetch("rates", queryset=RateCardRate.objects.order_by("role_id", "valid_from"))
        )

    @extend_schema(request=s.RateCardCreateSerializer, responses={201: s.RateCardSerializer})
    def create(self, request):
        data = self.payload(s.RateCardCreateSerializer)
        card = rate_services.create_rate_card(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(card)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RateCardUpdateSerializer, responses=s.RateCardSerializer)
    def partial_update(self, request, pk=None):
        """Rename, (de)activate, or replace the rates. Time already saved keeps its rates."""
        data = self.payload(s.RateCardUpdateSerializer)
        card = rate_services.update_rate_card(actor=request.user, rate_card=self.get_object(), **data)
        return Response(self.get_serializer(self.reread(card)).data)


class CostRateViewSet(ReadMixin, ProjectsViewSet):
    """What an hour of each person costs, effective-dated."""

    model = CostRate
    serializer_class = s.CostRateSerializer
    filterset_class = filtersets.CostRateFilterSet
    permission_classes = _permissions(
        read=COST_READERS,
        write=COST_RATE_WRITERS,
    )
    pagination_class = base.cursor_pagination("person_id", "valid_from", "id")

    @extend_schema(request=s.CostRateCreateSerializer, responses={201: s.CostRateSerializer})
    def create(self, request):
        """Set a cost rate from `valid_from`; an open-ended earlier one ends the day before."""
        data = self.payload(s.CostRateCreateSerializer)
        row = rate_services.set_cost_rate(actor=request.user, **data)
        return Response(s.CostRateSerializer(row).data, status=status.HTTP_201_CREATED)


class RateOverrideViewSet(ReadMixin, ProjectsViewSet):
    """A person's own bill rate on a project: beats every rate card."""

    model = ProjectRateOverride
    serializer_class = s.RateOverrideSerializer
    filterset_class = filtersets.RateOverrideFilterSet
    permission_classes = _permissions(
        read=PROJECT_READERS, write=(UserRole.PROJECT_MANAGER, UserRole.FINANCE)
    )
    pagination_class = base.cursor_pagination("project_id", "person_id", "valid_from", "id")

    @extend_schema(request=s.RateOverrideCreateSerializer, responses={201: s.RateOverrideSerializer})
    def create(self, request):
        data = self.payload(s.RateOverrideCreateSerializer)
        row = rate_services.set_project_rate(actor=request.user, **data)
        return Response(s.RateOverrideSerializer(row).data, status=status.HTTP_201_CREATED)


# People and staffing


class PersonViewSet(ReadMixin, ProjectsViewSet):
    """People the firm staffs, with their primary role, capacity, skills and current cost rate."""

    model = Person
    serializer_class = s.PersonSerializer
    filterset_class = filtersets.PersonFilterSet
    permission_classes = _permissions(write=STAFFERS)
    pagination_class = base.cursor_pagination("name", "id")

    def visible(self):
        return visible_people(self.request.user).prefetch_related(
            "cost_rates", Prefetch("skill_levels", queryset=PersonSkill.objects.select_related("skill"))
        )

    def _user(self, user_id):
        if user_id is None:
            return None
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise ValidationFailed(f"No user with id {user_id}.", fields={"user": ["Unknown user."]})
        return user

    @extend_schema(request=s.PersonCreateSerializer, responses={201: s.PersonSerializer})
    def create(self, request):
        data = self.payload(s.PersonCreateSerializer)
        data["user"] = self._user(data.get("user"))
        data["skills"] = [(row["skill"], row["level"]) for row in data["skills"]]
        person = people_services.create_person(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(person)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PersonUpdateSerializer, responses=s.PersonSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(s.PersonUpdateSerializer)
        person = self.get_object()
        skills = data.pop("skills", None)
        if data:
            person = people_services.update_person(actor=request.user, person=person, **data)
        if skills is not None:
            people_services.set_person_skills(
                actor=request.user, person=person, skills=[(row["skill"], row["level"]) for row in skills]
            )
        return Response(self.get_serializer(self.reread(person)).data)


class AssignmentViewSet(ReadMixin, mixins.DestroyModelMixin, ProjectsViewSet):
    """Who is staffed on which project, in which role, for how many hours between which dates."""

    model = Assignment
    serializer_class = s.AssignmentSerializer
    filterset_class = filtersets.AssignmentFilterSet
    permission_classes = _permissions(write=(UserRole.RESOURCE_MANAGER, UserRole.PROJECT_MANAGER))
    pagination_class = base.cursor_pagination("start", "id")

    def visible(self):
        return visible_assignments(self.request.user)

    @extend_schema(request=s.AssignmentCreateSerializer, responses={201: s.AssignmentSerializer})
    def create(self, request):
        data = self.payload(s.AssignmentCreateSerializer)
        assignment = people_services.create_assignment(actor=request.user, **data)
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AssignmentUpdateSerializer, responses=s.AssignmentSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(s.AssignmentUpdateSerializer)
        assignment = people_services.update_assignment(
            actor=request.user, assignment=self.get_object(), **data
        )
        return Response(s.AssignmentSerializer(assignment).data)

    def perform_destroy(self, instance):
        people_services.delete_assignment(actor=self.request.user, assignment=instance)


class ResourceRequestViewSet(ReadMixin, ProjectsViewSet):
    """Requests for people (from the CRM handoff or by hand), filled by staffing someone: open → filled."""

    model = ResourceRequest
    serializer_class = s.ResourceRequestSerializer
    filterset_class = filtersets.ResourceRequestFilterSet
    permission_classes = _permissions(read=PROJECT_READERS, write=(*PROJECT_CREATORS,))
    pagination_class = base.cursor_pagination("start", "id")

    def visible(self):
        return visible_resource_requests(self.request.user).prefetch_related(
            Prefetch("skill_requirements", queryset=RequestedSkill.objects.select_related("skill"))
        )

    @extend_schema(request=s.ResourceRequestCreateSerializer, responses={201: s.ResourceRequestSerializer})
    def create(self, request):
        data = self.payload(s.ResourceRequestCreateSerializer)
        data["skills"] = [(row["skill"], row["level"]) for row in data["skills"]]
        created = people_services.create_resource_request(actor=request.user, **data)
        return Response(self.get_serializer(self.reread(created)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FillRequestSerializer, responses=s.ResourceRequestSerializer)
    @action(detail=True, methods=["post"])
    def fill(self, request, pk=None):
        """Staff the request: assign the person in its role and window (resource managers)."""
        data = self.payload(s.FillRequestSerializer)
        filled = people_services.fill_resource_request(actor=request.user, request=self.get_object(), **data)
        return Response(self.get_serializer(self.reread(filled)).data)

    @extend_schema(request=s.DecisionReasonSerializer, responses=s.ResourceRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Withdraw an open request."""
        data = self.payload(s.DecisionReasonSerializer)
        cancelled = people_services.cancel_resource_request(
            actor=request.user, request=self.get_object(), reason=data["reason"]
        )
        return Response(self.get_serializer(self.reread(cancelled)).data)

    @extend_schema(responses=s.SuggestionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def suggestions(self, request, pk=None):
        """People ranked for the request by skill match, availability in its window and cost, with reasons."""
        ranked = staffing_suggestions(self.get_object())
        return Response(s.SuggestionSerializer(ranked, many=True).data)


# Time


def _rows_from(request, raw_rows: list, *, single: bool) -> list[time_services.TimeInput]:
    """Parse time entry inputs, looking their projects, tasks and people up in three queries."""
    errors: dict[str, dict] = {}
    parsed = []
    for index, raw in enumerate(raw_rows):
        data = s.TimeEntryCreateSerializer(data=raw)
        if data.is_valid():
            parsed.append(data.validated_data)
        else:
            errors[str(index)] = data.errors
            parsed.append(None)
    rows = [row for row in parsed if row]
    projects = Project.objects.in_bulk({row["project"] for row in rows})
    tasks = Task.objects.in_bulk({row["task"] for row in rows})
    people = Person.objects.in_bulk({row["person"] for row in rows if "person" in row})
    own = person_of(request.user)
    inputs = []
    for index, row in enumerate(parsed):
        if row is None:
            continue
        row_errors = {}
        project = projects.get(row["project"])
        task = tasks.get(row["task"])
        person = people.get(row["person"]) if "person" in row else own
        if project is None:
            row_errors["project"] = [f"No project with id {row['project']}."]
        if task is None:
            row_errors["task"] = [f"No task with id {row['task']}."]
        if person is None:
            row_errors["person"] = (
                [f"No person with id {row['person']}."]
                if "person" in row
                else ["You have no person record; name the person."]
            )
        if row_errors:
            errors[str(index)] = row_errors
            continue
        inputs.append(
            time_services.TimeInput(
                person=person,
                project=project,
                task=task,
                date=row["date"],
                hours=row["hours"],
                billable=row["billable"],
                notes=row["notes"],
            )
        )
    if errors:
        if single:
            fields = errors["0"]
            first = next(iter(fields.values()))[0]
            raise ValidationFailed(str(first), fields=fields)
        first_index = min(errors, key=int)
        first = next(iter(errors[first_index].values()))[0]
        raise ValidationFailed(
            f"{len(errors)} of {len(raw_rows)} entries are invalid, so none was saved. "
            f"Entry {first_index}: {first}",
            fields={"entries": errors},
        )
    return inputs


class TimeEntryViewSet(ReadMixin, mixins.DestroyModelMixin, ProjectsViewSet):
    """Time entries: a consultant's own; project managers also see their projects' time; finance,
    executives and integrators see all. Rates are snapshotted when an entry is saved."""

    model = TimeEntry
    serializer_class = s.TimeEntrySerializer
    filterset_class = filtersets.TimeEntryFilterSet
    permission_classes = _permissions(write=TIME_WRITERS)
    pagination_class = base.cursor_pagination("-date", "-id")

    def visible(self):
        # The bill-once link makes `status` read billed and gives `invoice_line` (one join, no query per row).
        return visible_time_entries(self.request.user).select_related("billing")

    @extend_schema(request=s.TimeEntryCreateSerializer, responses={201: s.TimeEntrySerializer})
    def create(self, request):
        """Record a draft entry (by default for yourself); `billable` defaults from the task."""
        [row] = _rows_from(request, [request.data], single=True)
        entry = time_services.record_time(
            actor=request.user,
            person=row.person,
            project=row.project,
            task=row.task,
            date=row.date,
            hours=row.hours,
            billable=row.billable,
            notes=row.notes,
        )
        return Response(s.TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TimeEntryBulkSerializer, responses={201: s.TimeEntryBulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Create up to 500 entries in one request, all or nothing; a 400 lists each bad entry by index."""
        data = self.payload(s.TimeEntryBulkSerializer)
        rows = _rows_from(request, data["entries"], single=False)
        entries = time_services.bulk_record_time(actor=request.user, rows=rows)
        body = {"created": len(entries), "results": s.TimeEntrySerializer(entries, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)

    def _decide(self, request, service, **kwargs):
        data = self.payload(s.EntryDecisionSerializer)
        ids = list(dict.fromkeys(data["entries"]))
        entries = list(self.get_queryset().filter(pk__in=ids))
        missing = sorted(set(ids) - {e.pk for e in entries})
        if missing:
            raise ValidationFailed(
                f"No time entry you may see has the id {missing[0]}.",
                fields={"entries": [f"Unknown entry {pk}." for pk in missing]},
            )
        if "reason" in kwargs:
            kwargs["reason"] = data["reason"]
        decided = service(actor=request.user, entries=entries, **kwargs)
        decided_now = self.get_queryset().filter(pk__in=ids).order_by("date", "id")
        body = {"decided": len(decided), "results": s.TimeEntrySerializer(decided_now, many=True).data}
        return Response(body)

    @extend_schema(request=s.EntryDecisionSerializer, responses=s.TimeEntryDecisionResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def bulk_approve(self, request):
        """Approve many submitted entries at once (all or none), each by its project's manager."""
        return self._decide(request, time_services.approve_time_entries)

    @extend_schema(request=s.EntryDecisionSerializer, responses=s.TimeEntryDecisionResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-reject")
    def bulk_reject(self, request):
        """Send many submitted entries back with one reason (all or none)."""
        return self._decide(request, time_services.reject_time_entries, reason="")

    @extend_schema(request=s.TimeEntryUpdateSerializer, responses=s.TimeEntrySerializer)
    def partial_update(self, request, pk=None):
        """Change a draft or rejected entry; it is checked and re-priced."""
        data = self.payload(s.TimeEntryUpdateSerializer)
        entry = time_services.update_time_entry(actor=request.user, entry=self.get_object(), **data)
        return Response(s.TimeEntrySerializer(entry).data)

    def perform_destroy(self, instance):
        time_services.delete_time_entry(actor=self.request.user, entry=instance)

    @extend_schema(request=None, responses=s.TimeEntrySerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve one submitted entry (its project's manager); it is locked from now on."""
        time_services.approve_time_entries(actor=request.user, entries=[self.get_object()])
        return Response(s.TimeEntrySerializer(self.reread(self.get_object())).data)

    @extend_schema(request=s.DecisionReasonSerializer, responses=s.TimeEntrySerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Send one submitted entry back to its author with a reason."""
        data = self.payload(s.DecisionReasonSerializer)
        time_services.reject_time_entries(
            actor=request.user, entries=[self.get_object()], reason=data["reason"]
        )
        return Response(s.TimeEntrySerializer(self.reread(self.get_object())).data)

    @extend_schema(request=None, responses=s.TimeEntrySerializer)
    @action(detail=True, methods=["post"])
    def rerate(self, request, pk=None):
        """Resolve the rates of a draft, submitted or rejected entry again; approved rates are final."""
        time_services.rerate_time_entries(actor=request.user, entries=[self.get_object()])
        return Response(s.TimeEntrySerializer(self.reread(self.get_object())).data)


class TimesheetViewSet(ReadMixin, ProjectsViewSet):
    """People's weeks (Monday start) with their entries. A week is approved when all its entries are."""

    model = Timesheet
    serializer_class = s.TimesheetSerializer
    filterset_class = filtersets.TimesheetFilterSet
    permission_classes = _permissions(write=TIME_WRITERS)
    pagination_class = base.cursor_pagination("-week_start", "-id")

    def visible(self):
        entries = visible_time_entries(self.request.user).select_related("billing").order_by("date", "id")
        return visible_timesheets(self.request.user).prefetch_related(Prefetch("entries", queryset=entries))

    @extend_schema(request=None, responses=s.TimesheetSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit the week: its draft and rejected entries go to their projects' managers."""
        sheet = time_services.submit_timesheet(actor=request.user, timesheet=self.get_object())
        return Response(self.get_serializer(self.reread(sheet)).data)

    @extend_schema(request=None, responses=s.TimesheetSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve the week's submitted entries on the projects you manage."""
        sheet = time_services.approve_timesheet(actor=request.user, timesheet=self.get_object())
        return Response(self.get_serializer(self.reread(sheet)).data)

    @extend_schema(request=s.DecisionReasonSerializer, responses=s.TimesheetSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the week's submitted entries on the projects you manage, with a reason."""
        data = self.payload(s.DecisionReasonSerializer)
        sheet = time_services.reject_timesheet(
            actor=request.user, timesheet=self.get_object(), reason=data["reason"]
        )
        return Response(self.get_serializer(self.reread(sheet)).data)


class ExpenseViewSet(ReadMixin, mixins.DestroyModelMixin, ProjectsViewSet):
    """Expenses with receipts (multipart), converted to the project's currency at the day's rate."""

    model = Expense
    serializer_class = s.ExpenseSerializer
    filterset_class = filtersets.ExpenseFilterSet
    permission_classes = _permissions(write=TIME_WRITERS)
    pagination_class = base.cursor_pagination("-date", "-id")
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]

    def visible(self):
        return visible_expenses(self.request.user).select_related("billing")

    @extend_schema(request=s.ExpenseCreateSerializer, responses={201: s.ExpenseSerializer})
    def create(self, request):
        """Record a draft expense; the markup defaults from the category."""
        data = self.payload(s.ExpenseCreateSerializer)
        person = data.pop("person", None) or person_of(request.user)
        if person is None:
            raise ValidationFailed(
                "You have no person record; name the person.", fields={"person": ["Required."]}
            )
        expense = expense_services.create_expense(actor=request.user, person=person, **data)
        return Response(self.get_serializer(expense).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ExpenseUpdateSerializer, responses=s.ExpenseSerializer)
    def partial_update(self, request, pk=None):
        data = self.payload(s.ExpenseUpdateSerializer)
        expense = expense_services.update_expense(actor=request.user, expense=self.get_object(), **data)
        return Response(self.get_serializer(expense).data)

    def perform_destroy(self, instance):
        expense_services.delete_expense(actor=self.request.user, expense=instance)

    @extend_schema(request=None, responses=s.ExpenseSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Send the expense to the project's manager."""
        expense = expense_services.submit_expense(actor=request.user, expense=self.get_object())
        return Response(self.get_serializer(expense).data)

    @extend_schema(request=None, responses=s.ExpenseSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a submitted expense (the project's manager)."""
        expense = expense_services.approve_expense(actor=request.user, expense=self.get_object())
        return Response(self.get_serializer(expense).data)

    @extend_schema(request=s.DecisionReasonSerializer, responses=s.ExpenseSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Send a submitted expense back with a reason."""
        data = self.payload(s.DecisionReasonSerializer)
        expense = expense_services.reject_expense(
            actor=request.user, expense=self.get_object(), reason=data["reason"]
        )
        return Response(self.get_serializer(expense).data)


# Reports


class _ReportParams(serializers.Serializer):
    start = serializers.DateField(required=False)
    weeks = serializers.IntegerField(required=False, min_value=1, max_value=26)


class CapacityView(base.APIView):
    """Capacity vs demand by role and week: capacity, assigned, open requests, weighted pipeline, gap."""

    scope_area = "projects"
    permission_classes = _permissions(read=(*CAPACITY_READERS, UserRole.INTEGRATOR))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "start", str, description="A day of the first week (default: today), YYYY-MM-DD."
            ),
            OpenApiParameter("weeks", int, description=f"How many weeks (1–26, default {HORIZON_WEEKS})."),
        ],
        responses=s.CapacitySerializer,
    )
    def get(self, request):
        params = _ReportParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = capacity_vs_demand(
            start=params.validated_data.get("start") or timezone.localdate(),
            weeks=params.validated_data.get("weeks") or HORIZON_WEEKS,
        )
        return Response(s.CapacitySerializer(report).data)


class BenchView(base.APIView):
    """People under 50% assigned over the next four weeks."""

    scope_area = "projects"
    permission_classes = _permissions(read=(*CAPACITY_READERS, UserRole.INTEGRATOR))

    @extend_schema(
        parameters=[OpenApiParameter("start", str, description="A day of the first week (default: today).")],
        responses=s.BenchSerializer(many=True),
    )
    def get(self, request):
        params = _ReportParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = bench(today=params.validated_data.get("start") or timezone.localdate())
        return Response(s.BenchSerializer(rows, many=True).data)
