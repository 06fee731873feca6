"""Decisions on time held over a not-to-exceed cap: write it off (it is never billed), or a change order
raises the cap (`sync_billing_plans` releases the holds and the next run bills them)."""

from django.db import transaction
from django.utils import timezone

from billing.choices import HoldStatus
from billing.models import OverCapEntry, TimeEntryBilling
from billing.services.invoices import _reason
from core import audit
from core.errors import ValidationFailed
from core.events import emit
from core.roles import Role, require_role
from projects.choices import EntryStatus
from projects.models import TimeEntry


@transaction.atomic
def write_off_over_cap(*, actor, entry_ids, reason: str) -> list[OverCapEntry]:
    """Finance approves writing off held over-cap time. A whole held entry becomes `written_off`; the held
    part of an entry split at the cap is written off while its billed part stays billed."""
    require_role(actor, Role.FINANCE)
    reason = _reason(reason)
    ids = sorted({int(pk) for pk in entry_ids or []})
    holds = list(
        OverCapEntry.objects.select_for_update()
        .filter(time_entry_id__in=ids, status__in=[HoldStatus.HELD, HoldStatus.RELEASED])
        .select_related("plan")
    )
    missing = sorted(set(ids) - {hold.time_entry_id for hold in holds})
    if not ids or missing:
        raise ValidationFailed(
            "Name time entries that are held over a cap.",
            fields={
                "time_entries": [f"Not held: {', '.join(map(str, missing))}." if missing else "Required."]
            },
        )
    now = timezone.now()
    for hold in holds:
        hold.status, hold.decided_by, hold.decided_at, hold.reason = (
            HoldStatus.WRITTEN_OFF,
            actor,
            now,
            reason,
        )
    OverCapEntry.objects.bulk_update(holds, ["status", "decided_by", "decided_at", "reason"])
    split = set(
        TimeEntryBilling.objects.filter(time_entry_id__in=ids).values_list("time_entry_id", flat=True)
    )
    whole = [pk for pk in ids if pk not in split]
    TimeEntry.objects.filter(pk__in=whole).update(status=EntryStatus.WRITTEN_OFF, updated_at=now)
    for plan in {hold.plan for hold in holds}:
        written = [hold for hold in holds if hold.plan_id == plan.pk]
        total = sum(hold.amount for hold in written)
        audit.record(
            actor=actor,
            action="over_cap.written_off",
            obj=plan,
            changes={"time_entries": [hold.time_entry_id for hold in written], "amount": total},
            reason=reason,
        )
        emit(
            "time.written_off",
            plan,
            {
                "contract": plan.contract_id,
                "time_entries": [h.time_entry_id for h in written],
                "amount": total,
            },
            actor=actor,
        )
    return holds
