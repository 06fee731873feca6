"""Admin site: roles and skills are maintained here; everything else is browsed read-only, because it
changes only through the projects services (pages and API), which check and audit each change."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.errors import DomainError
from projects.models import (
    Assignment,
    CostRate,
    Expense,
    Holiday,
    Milestone,
    Person,
    Practice,
    Project,
    RateCard,
    RateCardRate,
    ResourceRequest,
    Role,
    Skill,
    Task,
    TimeEntry,
    TimeOff,
    Timesheet,
)
from projects.services.capacity import create_practice, update_practice
from projects.services.rates import create_role


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "active"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            created = create_role(actor=request.user, name=obj.name, description=obj.description)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise
        obj.pk = created.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError:
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "account", "status", "manager", "start", "end", "currency"]
    list_filter = ["status", "legal_entity"]
    search_fields = ["code", "name"]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "parent", "billable", "active"]
    list_filter = ["billable", "active"]
    search_fields = ["name", "project__code"]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "amount", "due", "status", "accepted_at"]
    list_filter = ["status"]


class RateInline(admin.TabularInline):
    model = RateCardRate
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RateCard)
class RateCardAdmin(ReadOnlyAdmin):
    list_display = ["name", "currency", "account", "contract", "active"]
    inlines = [RateInline]


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "role",
        "practice",
        "legal_entity",
        "capacity_hours_per_week",
        "location",
        "active",
    ]
    list_filter = ["role", "practice", "legal_entity", "active"]
    search_fields = ["name", "email"]


@admin.register(CostRate)
class CostRateAdmin(ReadOnlyAdmin):
    list_display = ["person", "rate", "currency", "valid_from", "valid_to"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["person", "project", "role", "start", "end", "hours"]


@admin.register(ResourceRequest)
class ResourceRequestAdmin(ReadOnlyAdmin):
    list_display = ["project", "role", "hours", "start", "end", "status"]
    list_filter = ["status"]


@admin.register(Timesheet)
class TimesheetAdmin(ReadOnlyAdmin):
    list_display = ["person", "week_start", "status", "submitted_at", "approved_at"]
    list_filter = ["status"]


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "person",
        "project",
        "task",
        "date",
        "hours",
        "billable",
        "status",
        "bill_rate",
        "cost_rate",
    ]
    list_filter = ["status", "billable"]
    list_select_related = ["person", "project", "task"]


@admin.register(Expense)
class ExpenseAdmin(ReadOnlyAdmin):
    list_display = ["person", "project", "date", "category", "amount", "currency", "status"]
    list_filter = ["status", "category"]
    list_select_related = ["person", "project"]


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    """Practices are kept here too, through the same services as the API (checked and audited)."""

    list_display = ["name", "active"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            if change:
                update_practice(actor=request.user, practice=obj, name=obj.name, active=obj.active)
            else:
                obj.pk = create_practice(actor=request.user, name=obj.name).pk
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError:
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Holiday)
class HolidayAdmin(ReadOnlyAdmin):
    """Declared on the holidays page (Projects → Time off & holidays)."""

    list_display = ["date", "name", "legal_entity"]
    list_filter = ["legal_entity"]
    date_hierarchy = "date"


@admin.register(TimeOff)
class TimeOffAdmin(ReadOnlyAdmin):
    list_display = ["person", "kind", "start", "end", "hours_per_day"]
    list_filter = ["kind"]
    search_fields = ["person__name"]
    date_hierarchy = "start"
