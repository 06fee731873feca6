"""Billing runs: bill everything billable up to a date, contract by contract in chunks, each chunk its own
transaction; a run that was killed resumes where it stopped, and a twin run never bills an item twice."""

from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.choices import ExceptionKind, PlanStatus, RunStatus
from billing.models import BillingPlan, BillingRun, RunContract, RunException
from billing.services.drafts import draft_contracts
from billing.services.writer import StaleDraft, write_drafts
from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from crm.models import Account, Contract
from projects.choices import EntryStatus
from projects.models import TimeEntry

CHUNK_CONTRACTS = getattr(settings, "BILLING_CHUNK_CONTRACTS", 200)


def _scope_ids(values, model, legal_entity, label: str) -> list[int]:
    ids = sorted({int(value) for value in values or []})
    if not ids:
        return []
    found = set(model.objects.filter(pk__in=ids, legal_entity=legal_entity).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationFailed(
            f"Some {label} are not {legal_entity}'s: {', '.join(map(str, missing))}.",
            fields={label: [f"Not of {legal_entity}: {', '.join(map(str, missing))}."]},
        )
    return ids


def validated_scope(legal_entity, accounts=(), contracts=()) -> dict:
    """The scope's client and contract ids, refused if any is not the legal entity's."""
    return {
        "accounts": _scope_ids(accounts, Account, legal_entity, "accounts"),
        "contracts": _scope_ids(contracts, Contract, legal_entity, "contracts"),
    }


def scoped_contract_ids(*, legal_entity_id: int, accounts=(), contracts=()) -> list[int]:
    """The contracts a run covers: those of the legal entity with an active billing plan, in id order."""
    plans = BillingPlan.objects.filter(legal_entity_id=legal_entity_id, status=PlanStatus.ACTIVE)
    if accounts:
        plans = plans.filter(account_id__in=accounts)
    if contracts:
        plans = plans.filter(contract_id__in=contracts)
    return sorted(set(plans.values_list("contract_id", flat=True)))


@transaction.atomic
def start_billing_run(*, actor, legal_entity, period_end: date, accounts=(), contracts=()) -> BillingRun:
    """Create a run and queue it (it starts when this transaction commits)."""
    require_role(actor, Role.FINANCE)
    if period_end is None:
        raise ValidationFailed("Say up to which date to bill.", fields={"period_end": ["Required."]})
    if period_end > timezone.localdate() + timezone.timedelta(days=366):
        raise ValidationFailed(
            "Bill at most a year ahead.", fields={"period_end": ["More than a year from today."]}
        )
    scope = validated_scope(legal_entity, accounts, contracts)
    run = BillingRun.objects.create(
        legal_entity=legal_entity, period_end=period_end, scope=scope, created_by=actor
    )
    audit.record(
        actor=actor, action="billing_run.created", obj=run, changes={"period_end": period_end, "scope": scope}
    )
    from billing.tasks import run_billing

    transaction.on_commit(lambda: run_billing.delay(run.pk), robust=True)
    return run


@transaction.atomic
def resume_billing_run(*, actor, run: BillingRun) -> BillingRun:
    """Queue a failed or interrupted run again; it continues with the contracts it has not done."""
    require_role(actor, Role.FINANCE)
    run = BillingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.COMPLETED:
        raise InvalidTransition(f"Billing run #{run.pk} is completed; start a new run to bill what is new.")
    audit.record(actor=actor, action="billing_run.resumed", obj=run, changes={"status": run.status})
    from billing.tasks import run_billing

    transaction.on_commit(lambda: run_billing.delay(run.pk), robust=True)
    return run


def _claim(run_id: int) -> BillingRun | None:
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status == RunStatus.COMPLETED:
            return None
        first = run.started_at is None
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.error = ""
        run.started_at = run.started_at or timezone.now()
        ids = scoped_contract_ids(legal_entity_id=run.legal_entity_id, **run.scope)
        run.total_contracts = len(ids)
        run.save(update_fields=["status", "attempts", "error", "started_at", "total_contracts"])
        if first:
            _record_orphan_time(run)
    return run


def _record_orphan_time(run: BillingRun) -> None:
    """Approved billable time of the entity's projects without a contract: nothing can bill it."""
    if run.scope.get("contracts"):
        return
    rows = (
        TimeEntry.objects.filter(
            project__legal_entity_id=run.legal_entity_id,
            project__contract__isnull=True,
            status=EntryStatus.APPROVED,
            billable=True,
            date__lte=run.period_end,
        )
        .order_by()
        .values_list("project_id", "project__code")
        .distinct()
    )
    if run.scope.get("accounts"):
        rows = rows.filter(project__account_id__in=run.scope["accounts"])
    found = [
        RunException(
            run=run,
            kind=ExceptionKind.NO_PLAN,
            project_id=project_id,
            message=f"Project {code} has approved billable time but no contract to bill it under.",
        )
        for project_id, code in rows
    ]
    RunException.objects.bulk_create(found)
    if found:
        BillingRun.objects.filter(pk=run.pk).update(exceptions_count=F("exceptions_count") + len(found))


def _bill_chunk(run: BillingRun, contract_ids: list[int], *, wait: bool) -> list[int]:
    """Bill some contracts in one transaction; returns those a twin run holds (skipped, not done)."""
    with transaction.atomic():
        done = set(
            RunContract.objects.filter(run=run, contract_id__in=contract_ids).values_list(
                "contract_id", flat=True
            )
        )
        todo = [pk for pk in contract_ids if pk not in done]
        locked = list(
            Contract.objects.select_for_update(skip_locked=not wait, of=("self",))
            .filter(pk__in=todo)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not locked:
            return todo
        drafts = draft_contracts(locked, run.period_end, entry_ids=True)
        result = write_drafts(run=run, drafts=drafts)
        RunContract.objects.bulk_create(
            RunContract(run=run, contract_id=pk, invoice=result.invoices.get(pk)) for pk in locked
        )
        BillingRun.objects.filter(pk=run.pk).update(
            done_contracts=F("done_contracts") + len(locked),
            invoices_created=F("invoices_created") + len(result.invoices),
            entries_billed=F("entries_billed") + result.entries,
            expenses_billed=F("expenses_billed") + result.expenses,
            items_billed=F("items_billed") + result.items,
            exceptions_count=F("exceptions_count") + result.exceptions,
        )
        return [pk for pk in todo if pk not in set(locked)]


def _bill_chunk_retrying(run, contract_ids, *, wait: bool) -> list[int]:
    """A chunk whose source rows changed while it was drafted (time approved meanwhile, a twin's link)
    is rolled back and drafted again."""
    for attempt in range(3):
        try:
            return _bill_chunk(run, contract_ids, wait=wait)
        except (StaleDraft, IntegrityError):
            if attempt == 2:
                raise
    return []


def execute_billing_run(*, run_id: int, chunk_size: int | None = None) -> BillingRun | None:
    """The run's work (the Celery task calls this). Safe to call again: finished contracts are skipped."""
    run = _claim(run_id)
    if run is None:
        return BillingRun.objects.filter(pk=run_id).first()
    size = chunk_size or CHUNK_CONTRACTS
    try:
        ids = _contracts_left(run)
        busy = []
        for start in range(0, len(ids), size):
            busy += _bill_chunk_retrying(run, ids[start : start + size], wait=False)
        # Contracts a twin run held: wait for it, then bill what it left (usually nothing).
        for start in range(0, len(busy), size):
            _bill_chunk_retrying(run, busy[start : start + size], wait=True)
        _finish(run)
    except Exception as exc:
        _fail(run, exc)
        raise
    return BillingRun.objects.get(pk=run.pk)


def plan_billing_run_chunks(*, run_id: int, chunk_size: int | None = None) -> list[list[int]]:
    """Claim the run and split the contracts it has left into chunks, for workers to bill side by side
    (`bill_billing_run_chunk` each, then `finish_billing_run`): the fanned-out form of
    `execute_billing_run`. Nothing to do (finished, or no such run): no chunks."""
    run = _claim(run_id)
    if run is None:
        return []
    size = chunk_size or CHUNK_CONTRACTS
    ids = _contracts_left(run)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _contracts_left(run: BillingRun) -> list[int]:
    done = set(RunContract.objects.filter(run=run).values_list("contract_id", flat=True))
    return [
        pk for pk in scoped_contract_ids(legal_entity_id=run.legal_entity_id, **run.scope) if pk not in done
    ]


def bill_billing_run_chunk(*, run_id: int, contract_ids: list[int]) -> None:
    """One chunk of a fanned-out run, in its own transaction; contracts a twin holds are waited for.
    A failure marks the run failed (its committed chunks stay; a resume continues)."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return
    try:
        _bill_chunk_retrying(run, contract_ids, wait=True)
    except Exception as exc:
        _fail(run, exc)
        raise


def finish_billing_run(*, run_id: int) -> BillingRun | None:
    """Close a fanned-out run once its chunks are billed: any contract still left (a lost chunk) is
    billed here first, then the totals, audit and event as `execute_billing_run` writes them."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return run
    try:
        left = _contracts_left(run)
        size = CHUNK_CONTRACTS
        for start in range(0, len(left), size):
            _bill_chunk_retrying(run, left[start : start + size], wait=True)
        _finish(run)
    except Exception as exc:
        _fail(run, exc)
        raise
    return BillingRun.objects.get(pk=run.pk)


def _fail(run: BillingRun, exc: Exception) -> None:
    BillingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
    )


@transaction.atomic
def _finish(run: BillingRun) -> None:
    run = BillingRun.objects.select_for_update().get(pk=run.pk)
    totals = defaultdict(lambda: 0)
    for currency, total in run.invoices.values_list("currency", "total_amount"):
        totals[currency] += total
    run.totals = {currency: str(quantize(total, currency)) for currency, total in sorted(totals.items())}
    run.status = RunStatus.COMPLETED
    run.finished_at = timezone.now()
    run.save(update_fields=["totals", "status", "finished_at"])
    audit.record(
        actor=run.created_by,
        action="billing_run.completed",
        obj=run,
        changes={"invoices": run.invoices_created, "entries": run.entries_billed, "totals": run.totals},
    )
    emit(
        "billing_run.completed",
        run,
        {
            "legal_entity": run.legal_entity_id,
            "period_end": run.period_end,
            "invoices_created": run.invoices_created,
            "entries_billed": run.entries_billed,
            "totals": run.totals,
        },
        actor=run.created_by,
    )
