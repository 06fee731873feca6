"""Month-end close: closing a fiscal period once its checklist passes, with a stored close report, and
reopening it with a reason.

Closing is finance's job: the roles have no separate "finance admin", so the finance role (and admins,
who pass every role check) may close and reopen.
"""

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from core import audit
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.events import emit
from core.jsonable import to_jsonable
from core.roles import Role, require_role
from ledger.choices import PeriodStatus
from ledger.close_checklist import close_checklist
from ledger.models import FiscalPeriod, PeriodCloseReport
from ledger.reports.financial import fiscal_year_start, profit_and_loss, trial_balance


def share_lock_periods(legal_entity_ids, start: date, end: date) -> None:
    """Hold a share lock, until the caller's transaction commits, on the periods a write is dated in.

    `close_period` locks the period row for update, so a close waits for writes in flight into the month
    (and its checklist then sees them), and a write that starts during a close waits and then reads the
    period as closed. Share locks do not block each other, so writers never wait for one another.
    """
    entity_ids = sorted(set(legal_entity_ids))
    if connection.vendor != "postgresql" or not connection.in_atomic_block or not entity_ids:
        return
    table = connection.ops.quote_name(FiscalPeriod._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id FROM {table} WHERE legal_entity_id = ANY(%s) AND start <= %s AND "end" >= %s '  # noqa: S608
            "ORDER BY id FOR SHARE",
            [entity_ids, end, start],
        )


class CloseBlocked(DomainError):
    """The checklist has blocking items; `blockers` lists them (key, title, sentence, fix URL)."""

    status_code = 409
    code = "close_blocked"

    def __init__(self, detail: str, *, blockers: list[dict]):
        super().__init__(detail, fields={"checklist": {item["key"]: [item["sentence"]] for item in blockers}})
        self.blockers = blockers


def _reason(reason: str, doing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            f"Say why the period is being {doing}.", fields={"reason": ["This field is required."]}
        )
    return reason


def _lock(period: FiscalPeriod) -> FiscalPeriod:
    return FiscalPeriod.objects.select_for_update().select_related("legal_entity").get(pk=period.pk)


def _statements(period: FiscalPeriod) -> tuple[dict, dict]:
    entity = period.legal_entity
    tb = trial_balance(legal_entity=entity, as_of=period.end)
    month = profit_and_loss(legal_entity=entity, start=period.start, end=period.end)
    year = profit_and_loss(legal_entity=entity, start=fiscal_year_start(entity, period.end), end=period.end)
    return to_jsonable(tb), to_jsonable({"month": month, "year_to_date": year})


@transaction.atomic
def close_period(*, actor, period: FiscalPeriod, reason: str) -> FiscalPeriod:
    """Close a period: refused with `close_blocked` (and nothing written) while a checklist item blocks;
    else time, expenses, invoices, payments, revenue and journal entries dated in it are refused from now
    on, and a close report keeps the checklist, trial balance and P&L as they were at the close."""
    require_role(actor, Role.FINANCE)
    reason = _reason(reason, "closed")
    period = _lock(period)
    if period.status == PeriodStatus.CLOSED:
        raise InvalidTransition(f"The period {period.start:%Y-%m} is already closed.")
    checklist = close_checklist(period)
    if not checklist.can_close:
        blockers = [
            {"key": i.key, "title": i.title, "sentence": i.sentence, "fix_url": i.fix_url}
            for i in checklist.blockers
        ]
        raise CloseBlocked(
            f"The period {period.start:%Y-%m} cannot be closed: "
            + " ".join(f"{i['title']}: {i['sentence']}" for i in blockers),
            blockers=blockers,
        )
    now = timezone.now()
    period.status = PeriodStatus.CLOSED
    period.closed_at = now
    period.closed_by = actor
    period.save(update_fields=["status", "closed_at", "closed_by"])
    tb, pl = _statements(period)
    report = PeriodCloseReport.objects.create(
        period=period,
        closed_at=now,
        closed_by=actor,
        reason=reason,
        checklist=checklist.as_data(),
        trial_balance=tb,
        profit_and_loss=pl,
    )
    audit.record(
        actor=actor,
        action="period.closed",
        obj=period,
        changes={"status": ["open", "closed"], "close_report": report.pk},
        reason=reason,
    )
    emit(
        "period.closed",
        period,
        {
            "legal_entity": period.legal_entity_id,
            "start": period.start,
            "end": period.end,
            "close_report": report.pk,
        },
        actor=actor,
    )
    return period


@transaction.atomic
def reopen_period(*, actor, period: FiscalPeriod, reason: str) -> FiscalPeriod:
    """Reopen a closed period for corrections: the reason is required, audited and shown on the period.
    Its close reports stay; closing it again adds a new one."""
    require_role(actor, Role.FINANCE)
    reason = _reason(reason, "reopened")
    period = _lock(period)
    if period.status == PeriodStatus.OPEN:
        raise InvalidTransition(f"The period {period.start:%Y-%m} is already open.")
    closed_by, closed_at = period.closed_by_id, period.closed_at
    period.status = PeriodStatus.OPEN
    period.closed_at = None
    period.closed_by = None
    period.reopened_at = timezone.now()
    period.reopened_by = actor
    period.reopen_reason = reason
    period.save(
        update_fields=["status", "closed_at", "closed_by", "reopened_at", "reopened_by", "reopen_reason"]
    )
    audit.record(
        actor=actor,
        action="period.reopened",
        obj=period,
        changes={"status": ["closed", "open"], "closed_by": closed_by, "closed_at": closed_at},
        reason=reason,
    )
    emit(
        "period.reopened",
        period,
        {"legal_entity": period.legal_entity_id, "start": period.start, "end": period.end, "reason": reason},
        actor=actor,
    )
    return period
