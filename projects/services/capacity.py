"""What shapes available hours: practices (service lines), legal-entity holidays and personal time off.

Resource managers (and admins) keep practices and holidays and record anyone's time off; people who keep
time record their own. Each write is audited.
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from core import audit
from core.errors import PermissionDenied, ValidationFailed
from core.roles import has_role
from projects.access import STAFFERS, TIME_KEEPERS, require_any
from projects.models import Holiday, Person, Practice, TimeOff
from projects.services.common import check_dates

TIME_OFF_EDITABLE = ("kind", "start", "end", "hours_per_day", "note")
DAY_HOURS = Decimal(24)


def _clean_name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(f"The {what} needs a name.", fields={"name": ["Required."]})
    return name[:100]


@transaction.atomic
def create_practice(*, actor, name: str) -> Practice:
    """Add a practice (service line) people belong to and projects deliver."""
    require_any(actor, STAFFERS, "add practices")
    name = _clean_name(name, "practice")
    if Practice.objects.filter(name__iexact=name).exists():
        raise ValidationFailed(f"A practice named '{name}' exists.", fields={"name": ["Taken."]})
    practice = Practice.objects.create(name=name)
    audit.record(actor=actor, action="practice.created", obj=practice)
    return practice


@transaction.atomic
def update_practice(*, actor, practice: Practice, name: str | None = None, active: bool | None = None):
    """Rename a practice or (de)activate it; people and projects keep it either way."""
    require_any(actor, STAFFERS, "change practices")
    practice = Practice.objects.select_for_update().get(pk=practice.pk)
    changes = {}
    if name is not None:
        name = _clean_name(name, "practice")
        if Practice.objects.filter(name__iexact=name).exclude(pk=practice.pk).exists():
            raise ValidationFailed(f"A practice named '{name}' exists.", fields={"name": ["Taken."]})
        changes["name"] = name
    if active is not None:
        changes["active"] = active
    before = {key: getattr(practice, key) for key in changes}
    for key, value in changes.items():
        setattr(practice, key, value)
    if changes:
        practice.save(update_fields=list(changes))
    diff = audit.diff(before, changes)
    if diff:
        audit.record(actor=actor, action="practice.changed", obj=practice, changes=diff)
    return practice


@transaction.atomic
def create_holiday(*, actor, legal_entity, date: date, name: str) -> Holiday:
    """Declare a public holiday of a legal entity: nobody employed there is available that day."""
    require_any(actor, STAFFERS, "declare holidays")
    name = _clean_name(name, "holiday")
    taken = Holiday.objects.filter(legal_entity=legal_entity, date=date).first()
    if taken is not None:
        raise ValidationFailed(
            f"{date.isoformat()} is already a holiday of {legal_entity.name} ({taken.name}).",
            fields={"date": ["Already a holiday."]},
        )
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(legal_entity=legal_entity, date=date, name=name)
    except IntegrityError:
        raise ValidationFailed(
            f"{date.isoformat()} is already a holiday of {legal_entity.name}.",
            fields={"date": ["Already a holiday."]},
        ) from None
    audit.record(
        actor=actor, action="holiday.created", obj=holiday, changes={"legal_entity": legal_entity.pk}
    )
    return holiday


@transaction.atomic
def delete_holiday(*, actor, holiday: Holiday) -> None:
    """Withdraw a holiday declared by mistake."""
    require_any(actor, STAFFERS, "remove holidays")
    audit.record(
        actor=actor,
        action="holiday.deleted",
        obj=holiday,
        changes={"legal_entity": holiday.legal_entity_id, "date": holiday.date},
    )
    holiday.delete()


def may_record_time_off(user, person: Person) -> bool:
    """Their own time off for people who keep time; anyone's for resource managers, admins and the system."""
    if user is None or has_role(user, *STAFFERS):
        return True
    return person.user_id == user.pk and has_role(user, *TIME_KEEPERS)


def _require_time_off_writer(actor, person: Person) -> None:
    if not may_record_time_off(actor, person):
        raise PermissionDenied("You may record only your own time off.")


def _check_time_off(person: Person, start: date, end: date, hours_per_day, kind: str, exclude=None) -> None:
    check_dates(start, end)
    if not isinstance(hours_per_day, Decimal | int) or isinstance(hours_per_day, bool):
        raise ValidationFailed("Hours per day is a number.", fields={"hours_per_day": ["Not a number."]})
    if not 0 < hours_per_day <= DAY_HOURS:
        raise ValidationFailed(
            "Hours per day must be more than 0 and at most 24.",
            fields={"hours_per_day": ["More than 0, at most 24."]},
        )
    if kind not in TimeOff.Kind.values:
        raise ValidationFailed(
            f"Unknown kind of time off '{kind}'.",
            fields={"kind": [f"One of {', '.join(TimeOff.Kind.values)}."]},
        )
    overlapping = TimeOff.objects.filter(person=person, start__lte=end, end__gte=start)
    if exclude is not None:
        overlapping = overlapping.exclude(pk=exclude.pk)
    clash = overlapping.order_by("start").first()
    if clash is not None:
        other = (
            f"{clash.get_kind_display().lower()} from {clash.start.isoformat()} to {clash.end.isoformat()}"
        )
        raise ValidationFailed(
            f"{person.name} already has {other}; time off may not overlap.",
            code="overlap",
            fields={"start": [f"Overlaps {other}."], "end": [f"Overlaps {other}."]},
        )


@transaction.atomic
def record_time_off(
    *,
    actor,
    person: Person,
    start: date,
    end: date,
    hours_per_day: Decimal = Decimal(8),
    kind: str = TimeOff.Kind.VACATION,
    note: str = "",
) -> TimeOff:
    """Record leave: `hours_per_day` off each weekday from `start` to `end` (not overlapping other leave)."""
    _require_time_off_writer(actor, person)
    # The person's row lock makes two overlapping requests for one person take turns.
    person = Person.objects.select_for_update().get(pk=person.pk)
    _check_time_off(person, start, end, hours_per_day, kind)
    time_off = TimeOff.objects.create(
        person=person,
        start=start,
        end=end,
        hours_per_day=hours_per_day,
        kind=kind,
        note=(note or "")[:200],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(
        actor=actor,
        action="time_off.recorded",
        obj=time_off,
        changes={"person": person.pk, "start": start, "end": end, "hours_per_day": hours_per_day},
    )
    return time_off


@transaction.atomic
def update_time_off(*, actor, time_off: TimeOff, **changes) -> TimeOff:
    """Change the dates, hours, kind or note of recorded time off."""
    unknown = sorted(set(changes) - set(TIME_OFF_EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    _require_time_off_writer(actor, time_off.person)
    person = Person.objects.select_for_update().get(pk=time_off.person_id)
    time_off = TimeOff.objects.select_for_update().get(pk=time_off.pk)
    after = {name: changes.get(name, getattr(time_off, name)) for name in TIME_OFF_EDITABLE}
    _check_time_off(person, after["start"], after["end"], after["hours_per_day"], after["kind"], time_off)
    before = {name: getattr(time_off, name) for name in changes}
    for name, value in changes.items():
        setattr(time_off, name, value)
    if changes:
        time_off.save(update_fields=list(changes))
    diff = audit.diff(before, changes)
    if diff:
        audit.record(actor=actor, action="time_off.changed", obj=time_off, changes=diff)
    return time_off


@transaction.atomic
def cancel_time_off(*, actor, time_off: TimeOff) -> None:
    """Withdraw recorded time off (the person works those days after all)."""
    _require_time_off_writer(actor, time_off.person)
    audit.record(
        actor=actor,
        action="time_off.cancelled",
        obj=time_off,
        changes={"person": time_off.person_id, "start": time_off.start, "end": time_off.end},
    )
    time_off.delete()
