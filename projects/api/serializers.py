"""Projects API serializers: output shapes, and command inputs that only parse and type-check (the
services decide)."""

from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import quantize
from crm.models import Account, Contract
from ledger.models import LegalEntity
from projects.access import reads_cost_of
from projects.choices import EntryStatus, ExpenseCategory, ProjectStatus
from projects.models import (
    Assignment,
    CostRate,
    Expense,
    Milestone,
    Person,
    Practice,
    Project,
    ProjectRateOverride,
    RateCard,
    RateCardRate,
    ResourceRequest,
    Role,
    Task,
    TimeEntry,
    Timesheet,
)

INVOICE_LINE_HELP = (
    "The invoice line that billed this; set by billing (which keeps the bill-once link in its own table). "
    "Null until billed."
)


def billing_link(row):
    """The bill-once link billing keeps for a time entry or expense (its `billing` relation), or None.

    The views read it with `select_related("billing")`; for a row read otherwise, only an approved one can
    have been billed, so other rows cost no query.
    """
    if not type(row).billing.is_cached(row) and row.status != EntryStatus.APPROVED:
        return None
    try:
        return row.billing
    except ObjectDoesNotExist:
        return None


class EntryStatusField(serializers.ChoiceField):
    """The status as people see it: billing never rewrites an approved row it bills (its link table is the
    bill-once record), so an approved row with a link reads `billed`."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, row):
        if row.status == EntryStatus.APPROVED and billing_link(row) is not None:
            return EntryStatus.BILLED.value
        return row.status


def invoice_line_of(row) -> int | None:
    link = billing_link(row)
    return link.invoice_line_id if link is not None else None


class AmountField(serializers.DecimalField):
    """A money amount as a decimal string in its currency's minor units ("1234.50" USD, "1000" JPY);
    `currency` is the attribute path to the ISO code."""

    def __init__(self, *, currency: str = "currency", **kwargs):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("read_only", True)
        self.currency_path = currency
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        currency = instance
        for part in self.currency_path.split("."):
            currency = getattr(currency, part)
        return value, currency

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        return format(quantize(value, currency), "f")


def rate_field(**kwargs) -> serializers.DecimalField:
    """A rate per hour: up to 4 decimals, shown normalised ("150", "87.5")."""
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 4)
    return serializers.DecimalField(normalize_output=True, **kwargs)


def hours_field(**kwargs) -> serializers.DecimalField:
    kwargs.setdefault("max_digits", 10)
    kwargs.setdefault("decimal_places", 2)
    return serializers.DecimalField(**kwargs)


def _only_known_fields(serializer: serializers.Serializer, attrs: dict) -> dict:
    unknown = sorted(set(serializer.initial_data) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
    return attrs


class SkillLevelSerializer(serializers.Serializer):
    skill = serializers.CharField(max_length=100, help_text="The skill's name.")
    level = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (beginner) to 5 (expert).")


class DecisionReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Why; shown to the author and kept in the audit trail."
    )


# Projects, tasks, milestones


class ProjectSerializer(serializers.ModelSerializer):
    budget_amount = AmountField(allow_null=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "code",
            "name",
            "account",
            "contract",
            "legal_entity",
            "status",
            "currency",
            "start",
            "end",
            "budget_hours",
            "budget_amount",
            "target_margin_percent",
            "manager",
            "practice",
            "allow_any_person",
            "description",
            "created_at",
        ]
        read_only_fields = fields


class TaskSpecSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    billable = serializers.BooleanField(default=True)
    children = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Sub-tasks, each {name, billable, children}."
    )


class ProjectCreateSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), help_text="The client.")
    contract = serializers.PrimaryKeyRelatedField(
        queryset=Contract.objects.all(), required=False, allow_null=True
    )
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(min_length=3, max_length=3)
    start = serializers.DateField()
    end = serializers.DateField()
    status = serializers.ChoiceField(
        choices=[ProjectStatus.PLANNED, ProjectStatus.ACTIVE], default=ProjectStatus.ACTIVE
    )
    manager = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    budget_hours = hours_field(max_digits=12, required=False, allow_null=True)
    budget_amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)
    target_margin_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, allow_null=True
    )
    allow_any_person = serializers.BooleanField(default=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    practice = serializers.PrimaryKeyRelatedField(
        queryset=Practice.objects.all(), required=False, allow_null=True, help_text="The service line."
    )
    tasks = TaskSpecSerializer(many=True, required=False, default=list)


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    manager = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    budget_hours = hours_field(max_digits=12, required=False, allow_null=True)
    budget_amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)
    target_margin_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, allow_null=True
    )
    allow_any_person = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    practice = serializers.PrimaryKeyRelatedField(
        queryset=Practice.objects.all(), required=False, allow_null=True, help_text="The service line."
    )

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class BudgetBarSerializer(serializers.Serializer):
    label = serializers.CharField()
    actual = serializers.DecimalField(max_digits=20, decimal_places=4, normalize_output=True)
    estimate_at_completion = serializers.DecimalField(
        source="eac", max_digits=20, decimal_places=4, normalize_output=True
    )
    budget = serializers.DecimalField(max_digits=20, decimal_places=4, normalize_output=True)
    percent = serializers.IntegerField(allow_null=True, help_text="Actual as a percentage of the budget.")


class BudgetBurnSerializer(serializers.Serializer):
    project = serializers.IntegerField(source="project.pk")
    currency = serializers.CharField()
    hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    billable_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    cost_amount = AmountField(source="cost")
    billable_value_amount = AmountField(source="value")
    expenses_amount = AmountField(source="expenses")
    remaining_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    eac_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    eac_cost_amount = AmountField(source="eac_cost")
    eac_value_amount = AmountField(source="eac_value")
    budget_hours = serializers.DecimalField(source="project.budget_hours", max_digits=12, decimal_places=2)
    budget_amount = AmountField(source="project.budget_amount", allow_null=True)
    cost_budget_amount = AmountField(source="cost_budget", allow_null=True)
    margin_percent = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    bars = BudgetBarSerializer(many=True)


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "project", "parent", "name", "billable", "active", "position"]
        read_only_fields = fields


class TaskCreateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    parent = serializers.PrimaryKeyRelatedField(queryset=Task.objects.all(), required=False, allow_null=True)
    name = serializers.CharField(max_length=200)
    billable = serializers.BooleanField(default=True)


class TaskUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    billable = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class ProjectMilestoneSerializer(serializers.ModelSerializer):
    amount = AmountField(currency="project.currency")
    currency = serializers.CharField(source="project.currency", read_only=True)

    class Meta:
        model = Milestone
        fields = [
            "id",
            "project",
            "name",
            "amount",
            "currency",
            "due",
            "status",
            "completed_at",
            "completed_by",
            "accepted_at",
            "accepted_by",
        ]
        read_only_fields = fields


class ProjectMilestoneCreateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    name = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="In the project's currency.")
    due = serializers.DateField()


class ProjectMilestoneUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)
    due = serializers.DateField(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


# Roles and rates


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name", "description", "active"]
        read_only_fields = ["id", "active"]


class RateSerializer(serializers.ModelSerializer):
    rate = rate_field()
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)

    class Meta:
        model = RateCardRate
        fields = ["role", "rate", "valid_from", "valid_to"]


class RateCardSerializer(serializers.ModelSerializer):
    rates = RateSerializer(many=True, read_only=True)
    scope = serializers.ChoiceField(choices=["contract", "client", "standard"], read_only=True)

    class Meta:
        model = RateCard
        fields = ["id", "name", "currency", "account", "contract", "scope", "active", "rates", "created_at"]
        read_only_fields = fields


class RateCardCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(min_length=3, max_length=3)
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, allow_null=True, help_text="A client's card."
    )
    contract = serializers.PrimaryKeyRelatedField(
        queryset=Contract.objects.all(), required=False, allow_null=True, help_text="A contract's card."
    )
    rates = RateSerializer(many=True)


class RateCardUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    active = serializers.BooleanField(required=False)
    rates = RateSerializer(many=True, required=False, help_text="Replaces all the card's rates.")

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class CostRateSerializer(serializers.ModelSerializer):
    rate = rate_field()

    class Meta:
        model = CostRate
        fields = ["id", "person", "rate", "currency", "valid_from", "valid_to"]
        read_only_fields = fields


class CostRateCreateSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    rate = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Default: the person's legal entity's currency."
    )
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)


class RateOverrideSerializer(serializers.ModelSerializer):
    rate = rate_field()

    class Meta:
        model = ProjectRateOverride
        fields = ["id", "project", "person", "rate", "valid_from", "valid_to"]
        read_only_fields = fields


class RateOverrideCreateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    rate = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="In the project's currency.")
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)


# People and staffing


def current_cost_rate(person: Person) -> CostRate | None:
    """The person's cost rate valid today, from prefetched `cost_rates`."""
    today = timezone.localdate()
    for row in person.cost_rates.all():
        if row.valid_from <= today and (row.valid_to is None or today <= row.valid_to):
            return row
    return None


class PersonSerializer(serializers.ModelSerializer):
    # Blank when none is on record: a plain string, since "" is no e-mail address (the schema said so).
    email = serializers.CharField(read_only=True, help_text="E-mail address; empty when none is on record.")
    cost_rate = serializers.SerializerMethodField(
        help_text="Cost per hour valid today, in cost_currency; null to those who may not read cost rates "
        "(project managers and consultants, but for their own record)."
    )
    cost_currency = serializers.SerializerMethodField()
    skills = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "user",
            "name",
            "email",
            "role",
            "practice",
            "legal_entity",
            "manager",
            "cost_rate",
            "cost_currency",
            "capacity_hours_per_week",
            "skills",
            "location",
            "active",
        ]
        read_only_fields = fields

    def _cost_rate_shown(self, person):
        """The current cost rate, to those who may read what people cost (and to the person); else None."""
        request = self.context.get("request")
        if request is None or not reads_cost_of(request.user, person):
            return None
        return current_cost_rate(person)

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True))
    def get_cost_rate(self, person):
        row = self._cost_rate_shown(person)
        return format(row.rate.normalize(), "f") if row else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cost_currency(self, person):
        row = self._cost_rate_shown(person)
        return row.currency if row else None

    @extend_schema_field(SkillLevelSerializer(many=True))
    def get_skills(self, person):
        return [{"skill": row.skill.name, "level": row.level} for row in person.skill_levels.all()]


class PersonCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    role = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all(), help_text="The primary role.")
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all())
    user = serializers.IntegerField(
        required=False, allow_null=True, help_text="The user who signs in as them."
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    manager = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    capacity_hours_per_week = serializers.DecimalField(max_digits=5, decimal_places=2, default=Decimal(40))
    location = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    skills = SkillLevelSerializer(many=True, required=False, default=list)
    practice = serializers.PrimaryKeyRelatedField(
        queryset=Practice.objects.all(), required=False, allow_null=True, help_text="The service line."
    )


class PersonUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    role = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all(), required=False)
    legal_entity = serializers.PrimaryKeyRelatedField(queryset=LegalEntity.objects.all(), required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    manager = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    capacity_hours_per_week = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    location = serializers.CharField(max_length=100, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    skills = SkillLevelSerializer(many=True, required=False, help_text="Replaces the person's skills.")
    practice = serializers.PrimaryKeyRelatedField(
        queryset=Practice.objects.all(), required=False, allow_null=True, help_text="The service line."
    )

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "project", "person", "role", "start", "end", "hours", "created_at"]
        read_only_fields = fields


class AssignmentCreateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    role = serializers.PrimaryKeyRelatedField(
        queryset=Role.objects.all(), required=False, allow_null=True, help_text="Default: the person's role."
    )
    start = serializers.DateField()
    end = serializers.DateField()
    hours = hours_field(help_text="Total hours over the window.")


class AssignmentUpdateSerializer(serializers.Serializer):
    role = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all(), required=False)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    hours = hours_field(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


class ResourceRequestSerializer(serializers.ModelSerializer):
    skills = serializers.SerializerMethodField()

    class Meta:
        model = ResourceRequest
        fields = [
            "id",
            "project",
            "role",
            "skills",
            "hours",
            "start",
            "end",
            "status",
            "notes",
            "assignment",
            "created_at",
            "filled_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SkillLevelSerializer(many=True))
    def get_skills(self, request):
        return [{"skill": row.skill.name, "level": row.level} for row in request.skill_requirements.all()]


class ResourceRequestCreateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    role = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all())
    hours = hours_field()
    start = serializers.DateField()
    end = serializers.DateField()
    skills = SkillLevelSerializer(many=True, required=False, default=list, help_text="Minimum levels.")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class FillRequestSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    hours = hours_field(required=False, help_text="Default: the hours requested.")


class SuggestionSerializer(serializers.Serializer):
    person = serializers.IntegerField(source="person.pk")
    name = serializers.CharField(source="person.name")
    role = serializers.CharField(source="person.role.name")
    score = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Out of 100.")
    skill_match = serializers.DecimalField(max_digits=6, decimal_places=4, help_text="0 to 1.")
    free_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    cost_rate = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    role_match = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


# Time


class TimeEntrySerializer(serializers.ModelSerializer):
    bill_rate = rate_field(read_only=True, help_text="Per hour in `currency`, resolved when saved.")
    cost_rate = rate_field(read_only=True, help_text="Per hour in `currency`, resolved when saved.")
    billable_amount = serializers.SerializerMethodField(help_text="hours × bill_rate when billable.")
    status = EntryStatusField(choices=EntryStatus.choices)
    invoice_line = serializers.SerializerMethodField(help_text=INVOICE_LINE_HELP)

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "person",
            "project",
            "task",
            "date",
            "hours",
            "billable",
            "notes",
            "status",
            "bill_rate",
            "cost_rate",
            "currency",
            "billable_amount",
            "rate_source",
            "role",
            "invoice_line",
            "timesheet",
            "rejection_reason",
            "submitted_at",
            "approved_at",
            "approved_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=4))
    def get_billable_amount(self, entry):
        amount = entry.hours * entry.bill_rate if entry.billable else Decimal(0)
        return format(quantize(amount, entry.currency), "f")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_invoice_line(self, entry):
        return invoice_line_of(entry)


class TimeEntryCreateSerializer(serializers.Serializer):
    person = serializers.IntegerField(required=False, help_text="Default: the caller's own person record.")
    project = serializers.IntegerField()
    task = serializers.IntegerField()
    date = serializers.DateField()
    hours = hours_field(max_digits=5, help_text="Quarter-hour steps, more than 0, at most 24 a day.")
    billable = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Default: the task's."
    )
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TimeEntryUpdateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all(), required=False)
    task = serializers.PrimaryKeyRelatedField(queryset=Task.objects.all(), required=False)
    date = serializers.DateField(required=False)
    hours = hours_field(max_digits=5, required=False)
    billable = serializers.BooleanField(required=False)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


MAX_BULK = 500


class TimeEntryBulkSerializer(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BULK,
        help_text=f"Up to {MAX_BULK} entries shaped like a single create. All valid → all created; any "
        "invalid → none, and `fields.entries` maps each bad entry's index to its errors.",
    )


class EntryDecisionSerializer(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_BULK, help_text="Entry ids."
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="Required to reject."
    )


class TimeEntryDecisionResultSerializer(serializers.Serializer):
    decided = serializers.IntegerField()
    results = TimeEntrySerializer(many=True)


class TimeEntryBulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    results = TimeEntrySerializer(many=True)


class TimesheetSerializer(serializers.ModelSerializer):
    total_hours = serializers.SerializerMethodField(help_text="The hours of the entries you may see.")
    entries = TimeEntrySerializer(many=True, read_only=True)

    class Meta:
        model = Timesheet
        fields = [
            "id",
            "person",
            "week_start",
            "status",
            "total_hours",
            "entries",
            "submitted_at",
            "approved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=8, decimal_places=2))
    def get_total_hours(self, sheet):
        return format(sum((e.hours for e in sheet.entries.all()), Decimal(0)).quantize(Decimal("0.01")), "f")


# Expenses


# The same statuses as time entries, worded for expenses (and so a distinct enum in the schema).
EXPENSE_STATUS_CHOICES = [
    (EntryStatus.DRAFT, "Draft, not yet submitted"),
    (EntryStatus.SUBMITTED, "Submitted for approval"),
    (EntryStatus.APPROVED, "Approved, locked"),
    (EntryStatus.REJECTED, "Rejected, back with its author"),
    (EntryStatus.BILLED, "Billed (set by billing)"),
    (EntryStatus.WRITTEN_OFF, "Written off (set by billing)"),
]


class ExpenseSerializer(serializers.ModelSerializer):
    status = EntryStatusField(choices=EXPENSE_STATUS_CHOICES)
    amount = AmountField()
    markup_percent = serializers.DecimalField(max_digits=6, decimal_places=2, read_only=True)
    exchange_rate = serializers.DecimalField(
        max_digits=24,
        decimal_places=12,
        normalize_output=True,
        read_only=True,
        help_text="project_currency per unit of currency on the expense's date.",
    )
    converted_amount = AmountField(currency="project_currency", help_text="In project_currency.")
    billable_amount = serializers.SerializerMethodField(
        help_text="converted_amount plus markup, when billable."
    )
    receipt = serializers.SerializerMethodField(
        help_text="Where to download the receipt (signed-in), or null."
    )
    invoice_line = serializers.SerializerMethodField(help_text=INVOICE_LINE_HELP)

    class Meta:
        model = Expense
        fields = [
            "id",
            "person",
            "project",
            "date",
            "category",
            "amount",
            "currency",
            "billable",
            "markup_percent",
            "receipt",
            "receipt_name",
            "receipt_content_type",
            "receipt_size",
            "notes",
            "status",
            "project_currency",
            "exchange_rate",
            "converted_amount",
            "billable_amount",
            "invoice_line",
            "rejection_reason",
            "submitted_at",
            "approved_at",
            "approved_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=4))
    def get_billable_amount(self, expense):
        return format(quantize(expense.billable_amount, expense.project_currency), "f")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_receipt(self, expense):
        if not expense.receipt:
            return None
        url = reverse("projects:expense-receipt", args=[expense.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_invoice_line(self, expense):
        return invoice_line_of(expense)


class ExpenseCreateSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, help_text="Default: the caller's own person record."
    )
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    date = serializers.DateField()
    category = serializers.ChoiceField(choices=ExpenseCategory.choices)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField(min_length=3, max_length=3)
    billable = serializers.BooleanField(default=True)
    markup_percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True, help_text="Default: the category's."
    )
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    receipt = serializers.FileField(required=False, help_text="PDF, JPEG or PNG, at most 10 MB (multipart).")


class ExpenseUpdateSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all(), required=False)
    date = serializers.DateField(required=False)
    category = serializers.ChoiceField(choices=ExpenseCategory.choices, required=False)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    billable = serializers.BooleanField(required=False)
    markup_percent = serializers.DecimalField(max_digits=6, decimal_places=2, required=False)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True)
    receipt = serializers.FileField(required=False)

    def validate(self, attrs):
        return _only_known_fields(self, attrs)


# Reports


class CapacityWeekSerializer(serializers.Serializer):
    week_start = serializers.DateField(source="monday")
    capacity = serializers.DecimalField(max_digits=12, decimal_places=2)
    assigned = serializers.DecimalField(max_digits=12, decimal_places=2)
    requested = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Open resource requests.")
    pipeline = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Open opportunities' line hours × probability."
    )
    demand = serializers.DecimalField(max_digits=12, decimal_places=2)
    gap = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="capacity − demand.")


class CapacityRoleSerializer(serializers.Serializer):
    role = serializers.IntegerField(source="role.pk", allow_null=True)
    name = serializers.CharField()
    people = serializers.IntegerField()
    weeks = CapacityWeekSerializer(many=True)


class CapacitySerializer(serializers.Serializer):
    weeks = serializers.ListField(child=serializers.DateField(), source="mondays")
    roles = CapacityRoleSerializer(many=True, source="rows")
    total = CapacityRoleSerializer()


class BenchSerializer(serializers.Serializer):
    person = serializers.IntegerField(source="person.pk")
    name = serializers.CharField(source="person.name")
    role = serializers.CharField(source="person.role.name")
    capacity_hours = serializers.DecimalField(source="capacity", max_digits=10, decimal_places=2)
    assigned_hours = serializers.DecimalField(source="assigned", max_digits=10, decimal_places=2)
    utilization_percent = serializers.IntegerField()
