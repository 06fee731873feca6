"""Admin site: insights and runs, read-only. Insights change only through runs and the inbox's review
(dismiss and reopen are audited services); runs are started from the inbox or the API."""

from django.contrib import admin

from insights.models import Insight, InsightRun


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Insight)
class InsightAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "rule", "severity", "status", "subject_label", "last_seen_at"]
    list_filter = ["kind", "severity", "status"]
    search_fields = ["title", "subject_label", "fingerprint"]
    raw_id_fields = ["owner", "run", "dismissed_by"]


@admin.register(InsightRun)
class InsightRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "as_of", "status", "progress", "raised", "updated", "cleared", "created_at"]
    list_filter = ["status"]
