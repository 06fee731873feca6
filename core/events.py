"""The domain-event outbox: `emit` writes an Event in the caller's transaction; webhooks fan out on commit."""

from django.db import models, transaction

from core.jsonable import to_jsonable
from core.models import Event


def emit(type: str, subject: models.Model, data: dict | None = None, *, actor=None) -> Event:
    """Record that `type` happened to `subject`. Must run inside the transaction that made the change."""
    event = Event.objects.create(
        type=type,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        data=to_jsonable(data or {}),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    from core.tasks import fan_out_event

    # robust: the change has committed; a broker outage must not turn it into an error (and a retry that
    # repeats it). The periodic sweep fans the event out later.
    transaction.on_commit(lambda: fan_out_event.delay(event.id), robust=True)
    return event


def emit_many(type: str, rows, *, actor=None) -> list[Event]:
    """Record `type` for each (subject, data) in `rows` with one insert and one fan-out task."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    events = Event.objects.bulk_create(
        Event(
            type=type,
            subject_type=subject._meta.label_lower,
            subject_id=str(subject.pk),
            data=to_jsonable(data or {}),
            actor=user,
        )
        for subject, data in rows
    )
    if events:
        from core.tasks import fan_out_events

        ids = [event.id for event in events]
        transaction.on_commit(lambda: fan_out_events.delay(ids), robust=True)
    return events
