"""The one helper every service calls to record a money-relevant change in the audit trail."""

from django.db import models

from core.jsonable import to_jsonable
from core.middleware import current_request_id
from core.models import AuditEvent


def object_type_of(obj: models.Model) -> str:
    return obj._meta.label_lower


def record(
    *, actor, action: str, obj: models.Model, changes: dict | None = None, reason: str = ""
) -> AuditEvent:
    """Append an audit row for `action` on `obj`. `changes` is {"field": [old, new]} or context."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=object_type_of(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=to_jsonable(changes or {}),
        reason=reason,
        request_id=current_request_id.get(),
    )


def record_many(*, actor, action: str, rows, reason: str = "") -> None:
    """Append one audit row per (obj, changes) in `rows` with a single insert (bulk actions)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    request_id = current_request_id.get()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=user,
            action=action,
            object_type=object_type_of(obj),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            changes=to_jsonable(changes or {}),
            reason=reason,
            request_id=request_id,
        )
        for obj, changes in rows
    )


def diff(before: dict, after: dict) -> dict:
    """{"field": [old, new]} for the fields whose values differ."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
