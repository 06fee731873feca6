"""What the projects services share: audit rows in bulk, input checks, effective-dated rate rows."""

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.db import models

from core.audit import object_type_of
from core.errors import ValidationFailed
from core.jsonable import to_jsonable
from core.middleware import current_request_id
from core.models import AuditEvent
from ledger.choices import PeriodStatus
from ledger.errors import PeriodClosed
from ledger.models import Currency, FiscalPeriod
from ledger.services.close import share_lock_periods

ZERO = Decimal(0)
QUARTER = Decimal("0.25")


def record_many(
    *, actor, action: str, objects: Iterable[models.Model], changes=None, reason: str = ""
) -> None:
    """One audit row per object in one INSERT; `changes` is a dict, or a function of the object."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    request_id = current_request_id.get()
    rows = [
        AuditEvent(
            actor=user,
            action=action,
            object_type=object_type_of(obj),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            changes=to_jsonable((changes(obj) if callable(changes) else changes) or {}),
            reason=reason,
            request_id=request_id,
        )
        for obj in objects
    ]
    AuditEvent.objects.bulk_create(rows, batch_size=500)


def check_currency(code: str, field: str = "currency") -> str:
    if not isinstance(code, str) or not Currency.objects.filter(code=code, active=True).exists():
        raise ValidationFailed(
            f"Unknown currency '{code}'.", fields={field: [f"'{code}' is not an active ISO 4217 code."]}
        )
    return code


def check_dates(start: date, end: date, *, start_field: str = "start", end_field: str = "end") -> None:
    if end < start:
        raise ValidationFailed(
            f"The end ({end.isoformat()}) is before the start ({start.isoformat()}).",
            fields={end_field: ["Must be on or after the start."]},
        )


def check_positive(value: Decimal | None, field: str, what: str, *, allow_zero: bool = False) -> None:
    """Refuse a negative (or, unless `allow_zero`, a zero) quantity."""
    if value is None:
        return
    if value < 0:
        raise ValidationFailed(f"The {what} cannot be negative.", fields={field: ["Cannot be negative."]})
    if value == 0 and not allow_zero:
        raise ValidationFailed(f"The {what} must be more than 0.", fields={field: ["Must be more than 0."]})


def closed_periods(legal_entity_ids: Iterable[int], start: date, end: date) -> dict[int, list[tuple]]:
    """Closed fiscal periods per legal entity overlapping start..end: {entity: [(start, end, label)]}.

    Called by writes only: the periods stay share-locked until the write commits, so a close cannot slip
    in between this check and the commit (see `share_lock_periods`)."""
    legal_entity_ids = set(legal_entity_ids)
    share_lock_periods(legal_entity_ids, start, end)
    found: dict[int, list[tuple]] = {}
    rows = FiscalPeriod.objects.filter(
        legal_entity_id__in=legal_entity_ids,
        status=PeriodStatus.CLOSED,
        start__lte=end,
        end__gte=start,
    ).values_list("legal_entity_id", "start", "end")
    for entity_id, period_start, period_end in rows:
        found.setdefault(entity_id, []).append((period_start, period_end, f"{period_start:%Y-%m}"))
    return found


def closed_period_label(periods: dict[int, list[tuple]], entity_id: int, day: date) -> str | None:
    for start, end, label in periods.get(entity_id, ()):
        if start <= day <= end:
            return label
    return None


def refuse_closed_periods(rows: Iterable[tuple[int, date]], what: str) -> None:
    """Raise `period_closed` if any (legal entity id, day) falls in a closed fiscal period: nothing dated in
    a closed month changes (recorded, edited, submitted, approved, rejected or deleted) until it reopens."""
    rows = list(rows)
    if not rows:
        return
    days = [day for _, day in rows]
    closed = closed_periods({entity_id for entity_id, _ in rows}, min(days), max(days))
    for entity_id, day in sorted(rows, key=lambda row: row[1]):
        label = closed_period_label(closed, entity_id, day)
        if label:
            raise PeriodClosed(
                f"The period {label} is closed; {what} dated {day.isoformat()} cannot change until it is "
                "reopened.",
                fields={"date": [f"{label} is closed."]},
            )


def check_effective_dates(rows: Sequence[tuple[date, date | None]], *, field: str, what: str) -> None:
    """Refuse effective-dated rows that overlap in time (each row is (valid_from, valid_to or None))."""
    ordered = sorted(rows, key=lambda row: row[0])
    for (start, end), (next_start, _next_end) in zip(ordered, ordered[1:], strict=False):
        if end is not None and end < start:
            break
        if end is None or end >= next_start:
            until = end.isoformat() if end else "open-ended"
            raise ValidationFailed(
                f"The {what} from {start.isoformat()} ({until}) overlaps the one from "
                f"{next_start.isoformat()}; close the first before the second starts.",
                fields={field: [f"Overlapping {what}s."]},
            )
    for start, end in ordered:
        if end is not None and end < start:
            raise ValidationFailed(
                f"A {what} ends ({end.isoformat()}) before it starts ({start.isoformat()}).",
                fields={field: ["valid_to is before valid_from."]},
            )


def close_open_predecessor(queryset, valid_from: date) -> list:
    """Before adding a row from `valid_from`: end an open-ended row that started earlier on the day before,
    so raising a rate from a date is one call. Returns the rows it closed (for the audit)."""
    closed = []
    for row in queryset.filter(valid_to__isnull=True, valid_from__lt=valid_from).select_for_update():
        row.valid_to = valid_from - timedelta(days=1)
        row.save(update_fields=["valid_to"])
        closed.append(row)
    return closed
