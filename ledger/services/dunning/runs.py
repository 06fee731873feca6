"""Dunning runs: starting them (by hand or nightly), and executing them in chunks of clients.

One query finds the overdue open invoices, the level each has reached and whether it was noticed at that
level before; each chunk of clients is its own transaction, retried after a collision with a twin run.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import audit
from core.errors import Conflict, DomainError, ValidationFailed
from core.money import format_money
from core.roles import Role, require_role
from core.services.run_recovery import TRANSIENT_DATABASE_ERRORS
from ledger.choices import ArItemKind, DunningRunStatus, DunningRunTrigger, HoldKind, HoldStatus
from ledger.models import CollectionHold, DunningNoticeItem, DunningPolicy, DunningRun, LegalEntity
from ledger.reports.aging import open_items_as_of
from ledger.services.dunning._common import DUNNING_DOCUMENT, _Policies
from ledger.services.dunning.notices import _notice_chunk

logger = logging.getLogger("ledgerline.dunning")
# Clients per chunk: each chunk is one transaction, and the run's progress is saved after it.
CHUNK_CLIENTS = 100
# A chunk that collided with a concurrent twin is re-read and retried this many times in all.
CHUNK_ATTEMPTS = 3
# A run not heard from for this long was lost with its worker; it may be claimed (and continued) again.
RUN_STALE_AFTER = timedelta(minutes=15)


class DunningRunActive(Conflict):
    code = "dunning_run_active"


def _active_run(legal_entity: LegalEntity, as_of: date) -> DunningRun | None:
    return (
        DunningRun.objects.filter(
            legal_entity=legal_entity,
            as_of=as_of,
            status__in=[DunningRunStatus.PENDING, DunningRunStatus.RUNNING],
        )
        .order_by("id")
        .first()
    )


def _is_stale(run: DunningRun, now) -> bool:
    return (run.heartbeat_at or run.created_at) < now - RUN_STALE_AFTER


def _enqueue(run: DunningRun) -> None:
    from ledger.tasks import run_dunning

    run_id = run.pk
    # robust: the run row is committed; a broker outage leaves it pending, to be claimed by a later start.
    transaction.on_commit(lambda: run_dunning.delay(run_id), robust=True)


@transaction.atomic
def start_dunning_run(
    *, actor, legal_entity: LegalEntity, as_of: date, trigger: str = DunningRunTrigger.MANUAL
) -> DunningRun:
    """Create a dunning run for `legal_entity` as of `as_of` and enqueue it once this transaction commits.

    One run per entity and day may be pending or running: a manual start then is refused (409), unless that
    run was lost with its worker, which is enqueued again and returned (it continues where it stopped).
    The nightly trigger is idempotent per entity and day: it returns the day's run if there is one.
    `actor` None is the scheduler.
    """
    if actor is not None:
        require_role(actor, Role.FINANCE)
    if as_of > timezone.localdate():
        raise ValidationFailed(
            "A dunning run cannot look at a day that has not come yet.",
            fields={"as_of": ["Must not be after today."]},
        )
    now = timezone.now()
    if trigger == DunningRunTrigger.NIGHTLY:
        nightly = DunningRun.objects.filter(legal_entity=legal_entity, as_of=as_of, trigger=trigger).first()
        if nightly is not None:
            return nightly
    active = _active_run(legal_entity, as_of)
    if active is not None:
        if trigger == DunningRunTrigger.NIGHTLY or _is_stale(active, now):
            if _is_stale(active, now):
                _enqueue(active)
            return active
        raise DunningRunActive(
            f"Dunning run {active.pk} for {legal_entity} as of {as_of.isoformat()} is still "
            f"{active.status}; follow it instead of starting another.",
            fields={"as_of": [f"Run {active.pk} is {active.status}."]},
        )
    try:
        with transaction.atomic():
            run = DunningRun.objects.create(
                legal_entity=legal_entity,
                as_of=as_of,
                trigger=trigger,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        # A concurrent twin started the same run first.
        twin = _active_run(legal_entity, as_of) or (
            DunningRun.objects.filter(legal_entity=legal_entity, as_of=as_of, trigger=trigger).first()
        )
        if twin is None:
            raise
        if trigger == DunningRunTrigger.NIGHTLY:
            return twin
        raise DunningRunActive(
            f"Dunning run {twin.pk} for {legal_entity} as of {as_of.isoformat()} was just started.",
            fields={"as_of": [f"Run {twin.pk} is {twin.status}."]},
        ) from None
    audit.record(
        actor=actor,
        action="dunning_run.started",
        obj=run,
        changes={"legal_entity": legal_entity.pk, "as_of": as_of, "trigger": trigger},
    )
    _enqueue(run)
    return run


def start_nightly_dunning_runs(*, as_of: date) -> list[DunningRun]:
    """The scheduler's start: a run per legal entity with an active policy, at most one per entity and day."""
    entities = LegalEntity.objects.filter(
        pk__in=DunningPolicy.objects.filter(active=True).values("legal_entity_id")
    ).order_by("pk")
    return [
        start_dunning_run(actor=None, legal_entity=entity, as_of=as_of, trigger=DunningRunTrigger.NIGHTLY)
        for entity in entities
    ]


def _overdue_invoices(legal_entity: LegalEntity, as_of: date):
    """Invoice items of the entity that are past due and open both as of `as_of` and now.

    Fee receivables of earlier notices are not dunned themselves (no interest on interest).
    """
    return (
        open_items_as_of(legal_entity=legal_entity, as_of=as_of)
        .filter(
            kind=ArItemKind.INVOICE, amount__gt=0, open_amount__gt=0, due_date__lt=as_of, open_as_of__gt=0
        )
        .exclude(document_type=DUNNING_DOCUMENT)
    )


def _reached(run: DunningRun, policies: _Policies):
    """Overdue open invoices annotated with the level reached, not yet noticed at that level.

    The level reached is the highest whose `days_overdue` the invoice is past due by, under its client's
    policy (else the entity's default; a client on an inactive policy is paused). An invoice already
    noticed at that level or a higher one is left out (anti-join on the notice items), as is one whose
    client has no policy. `charged_days` are the days past due an earlier notice charged interest for.
    `hold` is the open collection hold covering the invoice or its whole client (disputes first), if any.
    Returns None when no policy has levels.
    """
    whens = [
        When(
            effective_policy=policy_id,
            due_date__lte=run.as_of - timedelta(days=level.days_overdue),
            then=Value(number),
        )
        for policy_id, levels in policies.levels.items()
        for number, level in sorted(levels.items(), reverse=True)
    ]
    if not whens:
        return None
    assigned = F("client__dunning_policy")
    effective = (
        Coalesce(assigned, Value(policies.default_id), output_field=BigIntegerField())
        if policies.default_id
        else assigned
    )
    noticed = DunningNoticeItem.objects.filter(ar_item=OuterRef("pk"), level__gte=OuterRef("reached_level"))
    charged = (
        DunningNoticeItem.objects.filter(ar_item=OuterRef("pk"), interest_percent__isnull=False)
        .order_by()
        .values("ar_item")
        .annotate(days=Max("days_overdue"))
        .values("days")
    )
    hold = (
        CollectionHold.objects.filter(
            Q(ar_item=OuterRef("pk")) | Q(ar_item__isnull=True, client=OuterRef("client_id")),
            status=HoldStatus.OPEN,
        )
        .order_by(Case(When(kind=HoldKind.DISPUTE, then=Value(0)), default=Value(1)), "id")
        .values("pk")[:1]
    )
    return (
        _overdue_invoices(run.legal_entity, run.as_of)
        .annotate(effective_policy=effective)
        .annotate(reached_level=Case(*whens, default=None, output_field=IntegerField()))
        .filter(reached_level__isnull=False)
        .filter(~Exists(noticed))
        .annotate(hold=Subquery(hold, output_field=BigIntegerField()))
    ), charged


def _candidates(run: DunningRun, policies: _Policies, client_ids: Sequence[int] | None = None) -> list[dict]:
    """The one query of a run: overdue open invoices that reached a level not noticed yet, not on hold."""
    reached = _reached(run, policies)
    if reached is None:
        return []
    rows, charged = reached
    rows = rows.filter(hold__isnull=True).annotate(
        charged_days=Coalesce(Subquery(charged, output_field=IntegerField()), Value(0))
    )
    if client_ids is not None:
        rows = rows.filter(client_id__in=client_ids)
    return list(
        rows.order_by("client_id", "due_date", "pk").values(
            "pk",
            "client_id",
            "currency",
            "number",
            "due_date",
            "open_as_of",
            "effective_policy",
            "reached_level",
            "charged_days",
        )
    )


def _skipped(run: DunningRun, policies: _Policies) -> tuple[int, list[dict]]:
    """Invoices that reached a level but are on hold, and why, per client: two queries."""
    reached = _reached(run, policies)
    if reached is None:
        return 0, []
    rows = list(
        reached[0]
        .filter(hold__isnull=False)
        .order_by("client__name", "client_id", "due_date", "pk")
        .values("client_id", "client__name", "number", "hold")
    )
    holds = CollectionHold.objects.select_related("owner", "ar_item").in_bulk({row["hold"] for row in rows})
    per_client: dict[int, dict] = {}
    for row in rows:
        hold = holds[row["hold"]]
        entry = per_client.setdefault(
            row["client_id"],
            {"client": row["client_id"], "client_name": row["client__name"], "items": [], "holds": {}},
        )
        entry["items"].append(row["number"])
        entry["holds"][hold.pk] = hold
    skipped = []
    for entry in per_client.values():
        client_holds = list(entry.pop("holds").values())
        kinds = sorted({hold.kind for hold in client_holds})
        reasons = [hold_reason(hold) for hold in client_holds]
        skipped.append({**entry, "kind": "/".join(kinds), "reason": "; ".join(reasons)})
    return len(rows), skipped


def hold_reason(hold: CollectionHold) -> str:
    """Why a hold stops dunning, in one sentence for finance."""
    what = f"invoice {hold.ar_item.number}" if hold.ar_item_id else "all invoices"
    if hold.kind == HoldKind.DISPUTE:
        owner = f", worked by {hold.owner.get_full_name() or hold.owner.username}" if hold.owner_id else ""
        return f"Disputed ({what}): {hold.reason}{owner}"
    amount = f" {format_money(hold.promised_amount, hold.currency)}" if hold.promised_amount else ""
    return f"Promised to pay{amount} by {hold.until.isoformat()} ({what})"


def _process_chunk(
    run: DunningRun, policies: _Policies, client_ids: list[int], rows: list[dict], progress: int
) -> None:
    """One chunk in its own transaction, with the run's counters and progress.

    A collision with a concurrent twin on the notice items' unique key rolls the chunk back; it is then
    re-read, and the invoices the twin noticed meanwhile are no longer in it.
    """
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                notices, items = _notice_chunk(run, policies, rows)
                DunningRun.objects.filter(pk=run.pk).update(
                    notices_created=F("notices_created") + notices,
                    items_noticed=F("items_noticed") + items,
                    progress=progress,
                    heartbeat_at=timezone.now(),
                )
            return
        except IntegrityError as exc:
            if "dunning_item_once_per_level" not in str(exc) and "ledger_dunningnoticeitem" not in str(exc):
                raise
            if attempt == CHUNK_ATTEMPTS:
                raise
            logger.info("Dunning run %s: a chunk collided with a concurrent run; re-reading it", run.pk)
            rows = _candidates(run, policies, client_ids=client_ids)


def execute_dunning_run(*, run_id: int) -> DunningRun | None:
    """The task body: claim the run, notice its overdue invoices chunk by chunk, and finish it.

    Claiming is a conditional UPDATE (pending, or running but lost with its worker → running), so a
    duplicate delivery of the task does nothing. A transient database error hands the run back (pending)
    for the task's retry; any other failure marks the run failed with the error. Either way the chunks
    committed before stay, and the retry or a later run continues with what is left.
    """
    now = timezone.now()
    claimed = DunningRun.objects.filter(
        Q(status=DunningRunStatus.PENDING)
        | Q(status=DunningRunStatus.RUNNING, heartbeat_at__lt=now - RUN_STALE_AFTER),
        pk=run_id,
    ).update(status=DunningRunStatus.RUNNING, started_at=now, heartbeat_at=now, error="")
    if claimed != 1:
        return DunningRun.objects.filter(pk=run_id).first()
    run = DunningRun.objects.select_related("legal_entity", "created_by").get(pk=run_id)
    try:
        _execute(run)
    except TRANSIENT_DATABASE_ERRORS:
        # A dropped connection, a deadlock: hand the run back so the task's retry claims it again and
        # continues with what is left (noticed items are unique per item and level).
        _hand_back(run.pk)
        raise
    except Exception as exc:
        logger.exception("Dunning run %s failed", run.pk)
        detail = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        return _finish(run, DunningRunStatus.FAILED, error=detail)
    return _finish(run, DunningRunStatus.COMPLETED)


def _hand_back(run_id: int) -> None:
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    try:
        DunningRun.objects.filter(pk=run_id, status=DunningRunStatus.RUNNING).update(
            status=DunningRunStatus.PENDING
        )
    except TRANSIENT_DATABASE_ERRORS:
        logger.warning("Dunning run %s left running: the sweep claims it once its heartbeat is stale", run_id)


def _execute(run: DunningRun) -> None:
    from ledger.services.collections import settle_promises

    # Promises due before the run's day are kept or broken first: a broken one no longer holds dunning.
    settle_promises(legal_entity=run.legal_entity, as_of=run.as_of)
    policies = _Policies.load(run.legal_entity)
    overdue_clients = _overdue_invoices(run.legal_entity, run.as_of).values("client_id").distinct().count()
    on_hold, skipped = _skipped(run, policies)
    DunningRun.objects.filter(pk=run.pk).update(
        clients_evaluated=overdue_clients, items_on_hold=on_hold, skipped=skipped
    )
    rows = _candidates(run, policies)
    by_client: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_client[row["client_id"]].append(row)
    client_ids = sorted(by_client)
    for start in range(0, len(client_ids), CHUNK_CLIENTS):
        chunk = client_ids[start : start + CHUNK_CLIENTS]
        chunk_rows = [row for client_id in chunk for row in by_client[client_id]]
        progress = (start + len(chunk)) * 100 // len(client_ids)
        _process_chunk(run, policies, chunk, chunk_rows, progress)


@transaction.atomic
def _finish(run: DunningRun, status: str, *, error: str = "") -> DunningRun:
    values = {"status": status, "finished_at": timezone.now(), "error": error[:5000]}
    if status == DunningRunStatus.COMPLETED:
        values["progress"] = 100
    DunningRun.objects.filter(pk=run.pk).update(**values)
    run.refresh_from_db()
    audit.record(
        actor=None,
        action=f"dunning_run.{status}",
        obj=run,
        changes={
            "status": [DunningRunStatus.RUNNING, status],
            "clients_evaluated": run.clients_evaluated,
            "notices_created": run.notices_created,
            "items_noticed": run.items_noticed,
            "items_on_hold": run.items_on_hold,
            "error": error,
        },
    )
    return run
