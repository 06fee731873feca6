from django.conf import settings
from django.db import models
from django.db.models import F, Q

from projects.choices import MilestoneStatus, ProjectStatus, ResourceRequestStatus
from projects.models.fields import currency_field, hours_field, money_field


class Project(models.Model):
    """Work delivered to a client under (usually) a contract, booked by one legal entity in one currency."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="projects")
    contract = models.ForeignKey(
        "crm.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="projects")
    currency = currency_field()
    status = models.CharField(max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.PLANNED)
    # The service line that delivers it (its revenue and margin count there).
    practice = models.ForeignKey(
        "projects.Practice", null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    manager = models.ForeignKey(
        "projects.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="managed_projects"
    )
    start = models.DateField()
    end = models.DateField()
    budget_hours = hours_field(max_digits=12, null=True, blank=True)
    # In the project's currency: the fees the budget allows.
    budget_amount = money_field(null=True, blank=True)
    target_margin_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # Internal and support projects take time from anyone, assigned or not.
    allow_any_person = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="project_dates"),
            models.CheckConstraint(
                condition=Q(budget_hours__isnull=True) | Q(budget_hours__gte=0), name="project_budget_hours"
            ),
            models.CheckConstraint(
                condition=Q(budget_amount__isnull=True) | Q(budget_amount__gte=0),
                name="project_budget_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "status"], name="project_manager_status"),
            models.Index(fields=["account"], name="project_account"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def runs_on(self, day) -> bool:
        return self.start <= day <= self.end


class Task(models.Model):
    """A node of the project's work breakdown: phases at the top, tasks under them. Time is booked on
    tasks; `billable` is the default of the time booked on it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    billable = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["project", "position", "id"]
        indexes = [models.Index(fields=["project", "parent"], name="task_project_parent")]

    def __str__(self):
        return self.name


class Milestone(models.Model):
    """A deliverable with an amount and a due date: planned → completed → accepted (by the client).

    Acceptance records who and when; billing and revenue recognition react to its `milestone.accepted`.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    amount = money_field(default=0)
    due = models.DateField()
    status = models.CharField(max_length=10, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "due", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="milestone_amount_not_negative"),
        ]

    def __str__(self):
        return self.name


class Assignment(models.Model):
    """A person staffed on a project in a role for `hours` in total between `start` and `end`
    (spread evenly over the window's working days when planning capacity)."""

    person = models.ForeignKey("projects.Person", on_delete=models.PROTECT, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey("projects.Role", on_delete=models.PROTECT, related_name="+")
    start = models.DateField()
    end = models.DateField()
    hours = hours_field()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="assignment_dates"),
            models.CheckConstraint(condition=Q(hours__gt=0), name="assignment_hours_positive"),
        ]
        indexes = [
            models.Index(fields=["person", "start", "end"], name="assignment_person_window"),
            models.Index(fields=["project", "person"], name="assignment_project_person"),
        ]

    def __str__(self):
        return f"{self.person} on {self.project}"

    def covers(self, day) -> bool:
        return self.start <= day <= self.end


class ResourceRequest(models.Model):
    """A need for someone in a role (with skills) for `hours` between `start` and `end`.

    Opened by the win → delivery handoff or by hand; filled by assigning a person (open → filled).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="resource_requests")
    role = models.ForeignKey("projects.Role", on_delete=models.PROTECT, related_name="+")
    hours = hours_field()
    start = models.DateField()
    end = models.DateField()
    status = models.CharField(
        max_length=10, choices=ResourceRequestStatus.choices, default=ResourceRequestStatus.OPEN
    )
    notes = models.TextField(blank=True)
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="request"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    filled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="resource_request_dates"),
            models.CheckConstraint(condition=Q(hours__gt=0), name="resource_request_hours_positive"),
        ]
        indexes = [models.Index(fields=["status", "start"], name="resource_request_status")]

    def __str__(self):
        return f"{self.role} for {self.project.code}"


class RequestedSkill(models.Model):
    """A skill a resource request asks for, at least at `level` (1–5)."""

    request = models.ForeignKey(ResourceRequest, on_delete=models.CASCADE, related_name="skill_requirements")
    skill = models.ForeignKey("projects.Skill", on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["request", "skill__name"]
        constraints = [
            models.UniqueConstraint(fields=["request", "skill"], name="requested_skill_unique"),
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=5), name="requested_skill_level_range"
            ),
        ]

    def __str__(self):
        return f"{self.skill} ≥ {self.level}"
