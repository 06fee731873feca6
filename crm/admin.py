"""Admin site: client accounts (master data)."""

from django.contrib import admin

from crm.models import Account, PipelineStage, SalesPolicy


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "legal_entity", "currency", "payment_terms_days", "status", "owner", "created_at"]
    list_filter = ["status", "legal_entity", "currency"]
    search_fields = ["name", "billing_email"]
    list_select_related = ["legal_entity", "owner"]
    autocomplete_fields = ["parent", "legal_entity"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at"]

    def has_delete_permission(self, request, obj=None):
        # Invoices, payments and journal lines refer to clients; deactivate one instead (status).
        return False


@admin.register(PipelineStage)
class PipelineStageAdmin(admin.ModelAdmin):
    """Pipeline stages: names, order and default probabilities. Exactly one won and one lost stage."""

    list_display = ["name", "code", "position", "probability", "outcome", "active"]
    list_editable = ["position", "probability", "active"]
    ordering = ["position"]


@admin.register(SalesPolicy)
class SalesPolicyAdmin(admin.ModelAdmin):
    """The quote approval rule and the renewal thresholds (one row)."""

    list_display = [
        "__str__",
        "margin_target_percent",
        "max_discount_percent",
        "approver_role",
        "renewal_consumption_percent",
        "renewal_days_before_end",
    ]

    def has_add_permission(self, request):
        return not SalesPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
