"""Admin site: maintain the ledger's master data through its services; browse what was posted, read-only.

Legal entities, exchange rates and GL accounts are saved by the same services the API calls (so a new
entity gets its chart and periods, and every change is audited). Posted entries, lines, AR items,
allocations, payments and write-offs are immutable here: they change only through ledger actions.
Dunning policies are validated as a whole by their service, so they are edited in the API, not here;
collection holds are opened and resolved on the collections pages and API (they notify and audit).
"""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.errors import DomainError
from ledger.models import (
    Allocation,
    ArItem,
    CollectionHold,
    Currency,
    DunningLevel,
    DunningNotice,
    DunningPolicy,
    DunningRun,
    ExchangeRate,
    FiscalPeriod,
    GLAccount,
    JournalEntry,
    JournalLine,
    LegalEntity,
    Payment,
    PeriodCloseReport,
    WriteOffRequest,
)
from ledger.services.accounts import LEGAL_ENTITY_EDITABLE, update_gl_account, update_legal_entity
from ledger.services.setup import create_legal_entity, set_exchange_rate


class ServiceSavedAdmin(admin.ModelAdmin):
    """A refusal by the service shows as an error message on the form page, not as a server error."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Posted ledger data: viewable, never added, changed or deleted in the admin."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "minor_units", "active"]
    list_filter = ["active", "minor_units"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        # Amounts are stored rounded to the minor unit: changing it would reinterpret them.
        return ["code", "minor_units"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(ServiceSavedAdmin):
    list_display = [
        "name", "functional_currency", "invoice_prefix", "fiscal_year_start_month",
        "write_off_approval_threshold", "created_at",
    ]  # fmt: skip
    list_filter = ["functional_currency", "fiscal_year_start_month"]
    search_fields = ["name", "tax_id", "invoice_prefix"]

    def get_readonly_fields(self, request, obj=None):
        return ["functional_currency", "fiscal_year_start_month", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in LEGAL_ENTITY_EDITABLE
            }
            if changes:
                update_legal_entity(actor=request.user, legal_entity=obj, **changes)
            return
        entity = create_legal_entity(
            actor=request.user,
            name=obj.name,
            functional_currency=obj.functional_currency,
            invoice_prefix=obj.invoice_prefix,
            address=obj.address,
            tax_id=obj.tax_id,
            fiscal_year_start_month=obj.fiscal_year_start_month,
            write_off_approval_threshold=obj.write_off_approval_threshold,
        )
        obj.pk, obj.created_at = entity.pk, entity.created_at


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ServiceSavedAdmin):
    list_display = ["date", "from_currency", "to_currency", "rate", "created_at"]
    list_filter = ["from_currency", "to_currency"]
    search_fields = ["from_currency", "to_currency"]
    date_hierarchy = "date"

    def get_readonly_fields(self, request, obj=None):
        # A rate is corrected for its day and pair; another day or pair is another rate.
        return ["from_currency", "to_currency", "date", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        row = set_exchange_rate(
            actor=request.user,
            from_currency=obj.from_currency,
            to_currency=obj.to_currency,
            on=obj.date,
            rate=obj.rate,
        )
        obj.pk, obj.created_at = row.pk, row.created_at


@admin.register(GLAccount)
class GLAccountAdmin(ServiceSavedAdmin):
    list_display = ["code", "name", "legal_entity", "type", "normal_balance", "role", "active"]
    list_filter = ["legal_entity", "type", "active", "role"]
    search_fields = ["code", "name"]
    list_select_related = ["legal_entity"]
    fields = ["legal_entity", "code", "name", "type", "normal_balance", "role", "parent", "active"]
    readonly_fields = ["legal_entity", "code", "type", "normal_balance", "role", "parent"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        update_gl_account(
            actor=request.user,
            account=obj,
            name=form.cleaned_data["name"],
            active=form.cleaned_data["active"],
        )


@admin.register(FiscalPeriod)
class FiscalPeriodAdmin(ReadOnlyAdmin):
    """Periods are generated per fiscal year and closed or reopened (with a reason) in the app or API."""

    list_display = ["__str__", "legal_entity", "fiscal_year", "number", "start", "end", "status", "closed_at"]
    list_filter = ["legal_entity", "status", "fiscal_year"]
    search_fields = ["legal_entity__name"]
    list_select_related = ["legal_entity"]
    show_full_result_count = True


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = [
        "account", "currency", "debit", "credit", "rate", "functional_debit", "functional_credit", "client",
        "project_id", "memo",
    ]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "client")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["display_number", "date", "legal_entity", "memo", "source_type", "source_id", "posted_at"]
    list_filter = ["legal_entity", "source_type"]
    search_fields = ["memo", "source_id", "posting_key"]
    list_select_related = ["legal_entity"]
    date_hierarchy = "date"
    inlines = [JournalLineInline]


@admin.register(JournalLine)
class JournalLineAdmin(ReadOnlyAdmin):
    list_display = [
        "entry", "date", "account", "currency", "debit", "credit", "functional_debit", "functional_credit",
        "client",
    ]  # fmt: skip
    list_filter = ["legal_entity", "currency"]
    search_fields = ["memo", "account__code", "account__name"]
    list_select_related = ["entry", "account", "client"]
    date_hierarchy = "date"


@admin.register(ArItem)
class ArItemAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "kind",
        "client",
        "legal_entity",
        "date",
        "due_date",
        "currency",
        "amount",
        "open_amount",
    ]
    list_filter = ["legal_entity", "kind", "currency"]
    search_fields = ["number", "client__name", "document_id"]
    list_select_related = ["client", "legal_entity"]
    date_hierarchy = "date"


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["id", "date", "credit_item", "debit_item", "amount", "fx_difference", "reversal_of"]
    list_filter = ["legal_entity"]
    search_fields = ["credit_item__number", "debit_item__number"]
    list_select_related = ["credit_item", "debit_item"]
    date_hierarchy = "date"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "date", "client", "legal_entity", "amount", "currency", "reference"]
    list_filter = ["legal_entity", "currency"]
    search_fields = ["reference", "client__name"]
    list_select_related = ["client", "legal_entity"]
    date_hierarchy = "date"


@admin.register(WriteOffRequest)
class WriteOffRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "ar_item", "amount", "date", "status", "requested_by", "decided_by", "decided_at"]
    list_filter = ["legal_entity", "status"]
    search_fields = ["ar_item__number", "reason"]
    list_select_related = ["ar_item", "requested_by", "decided_by"]


class DunningLevelInline(admin.TabularInline):
    model = DunningLevel
    fields = ["level", "days_overdue", "fee_amount", "annual_interest_percent", "escalate_to_owner"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DunningPolicy)
class DunningPolicyAdmin(ReadOnlyAdmin):
    list_display = ["name", "legal_entity", "fee_currency", "is_default", "active"]
    list_filter = ["legal_entity", "active"]
    search_fields = ["name"]
    inlines = [DunningLevelInline]


@admin.register(DunningRun)
class DunningRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "legal_entity", "as_of", "status", "progress", "notices_created", "finished_at"]
    list_filter = ["legal_entity", "status"]
    date_hierarchy = "as_of"


@admin.register(DunningNotice)
class DunningNoticeAdmin(ReadOnlyAdmin):
    list_display = ["id", "client", "level", "currency", "total_due", "status", "sent_at"]
    list_filter = ["legal_entity", "status", "level"]
    search_fields = ["client__name", "subject"]
    list_select_related = ["client"]


@admin.register(CollectionHold)
class CollectionHoldAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "status", "client", "ar_item", "until", "owner", "created_at"]
    list_filter = ["legal_entity", "kind", "status"]
    search_fields = ["client__name", "ar_item__number", "reason"]
    list_select_related = ["client", "ar_item", "owner"]


@admin.register(PeriodCloseReport)
class PeriodCloseReportAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "period", "closed_at", "closed_by", "reason"]
    list_filter = ["period__legal_entity"]
    list_select_related = ["period__legal_entity", "closed_by"]
