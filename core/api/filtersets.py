import django_filters

from core.models import AuditEvent, Event


class EventFilterSet(django_filters.FilterSet):
    after = django_filters.NumberFilter(
        field_name="id", lookup_expr="gt", help_text="Only events with a larger id."
    )
    type = django_filters.CharFilter(field_name="type")
    subject_type = django_filters.CharFilter(field_name="subject_type")
    subject_id = django_filters.CharFilter(field_name="subject_id")

    class Meta:
        model = Event
        fields = ["after", "type", "subject_type", "subject_id"]


class AuditEventFilterSet(django_filters.FilterSet):
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    action = django_filters.CharFilter(field_name="action")
    actor = django_filters.CharFilter(field_name="actor__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id", "action", "actor", "created_after", "created_before"]
