"""Admin site: client accounts (master data)."""

from django.contrib import admin

from crm.models import Account


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
