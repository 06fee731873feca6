"""Revenue runs: recognise every obligation of a legal entity up to a period end, contract by contract in
chunks (each its own transaction, resumable), and post one entry per contract: Dr deferred revenue /
Cr revenue by service type. A contract that has recognised more than it billed shows the difference as
unbilled revenue (contract asset), reclassified at the period end and reversed the next day."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.choices import CreditNoteStatus, InvoiceStatus
from billing.models import CreditNoteLine, InvoiceLine
from billing.services.bulk import insert_objects, update_rows
from billing.services.drafts.expenses import rebill_amount
from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, require_role
from crm.choices import RevenueMethod
from crm.models import Contract
from ledger.choices import AccountRole, PeriodStatus
from ledger.errors import PeriodClosed, PeriodMissing
from ledger.models import FiscalPeriod, GLAccount, JournalLine
from ledger.services.posting import EntrySpec, LineSpec, post_entries
from projects.choices import EntryStatus, MilestoneStatus
from projects.models import Expense, Milestone, Project, TimeEntry
from revrec.choices import LineStatus, Measure, ObligationStatus, RunStatus
from revrec.models import PerformanceObligation, RevenueRun, RevenueRunContract, RevenueScheduleLine
from revrec.services.measures import percent_complete_to_date
from revrec.services.obligations import plan_schedule, recognized_to_date

ZERO = Decimal(0)
CHUNK_CONTRACTS = getattr(settings, "REVENUE_CHUNK_CONTRACTS", 100)
DELIVERED = (EntryStatus.APPROVED, EntryStatus.BILLED, EntryStatus.WRITTEN_OFF)
SOURCE = "revrec.run"


def _open_period(legal_entity_id: int, day: date, field: str) -> FiscalPeriod:
    period = FiscalPeriod.objects.filter(
        legal_entity_id=legal_entity_id, start__lte=day, end__gte=day
    ).first()
    if period is None:
        raise PeriodMissing(f"No fiscal period covers {day}.", fields={field: ["No fiscal period."]})
    if period.status != PeriodStatus.OPEN:
        raise PeriodClosed(
            f"The period {period.start:%Y-%m} is closed; revenue is recognised in the current open period "
            "(late changes land there as a catch-up).",
            fields={field: [f"{period.start:%Y-%m} is closed."]},
        )
    return period


def contracts_with_obligations(legal_entity_id: int) -> list[int]:
    return sorted(
        set(
            PerformanceObligation.objects.filter(
                legal_entity_id=legal_entity_id, status=ObligationStatus.ACTIVE
            ).values_list("contract_id", flat=True)
        )
    )


@transaction.atomic
def start_revenue_run(*, actor, legal_entity, period_end: date) -> RevenueRun:
    """Create a run and queue it (it starts when this transaction commits). No actor: the monthly
    schedule (the system)."""
    if actor is not None:
        require_role(actor, Role.FINANCE)
    if period_end is None:
        raise ValidationFailed("Say up to which date to recognise.", fields={"period_end": ["Required."]})
    _open_period(legal_entity.pk, period_end, "period_end")
    later = (
        RevenueRun.objects.filter(legal_entity=legal_entity, period_end__gt=period_end)
        .exclude(status=RunStatus.FAILED)
        .order_by("-period_end")
        .first()
    )
    if later is not None:
        raise ValidationFailed(
            f"Revenue is already recognised to {later.period_end} (run #{later.pk}); an earlier period end "
            "would reverse it. Late changes land in the current period as a catch-up.",
            code="period_before_last_run",
            fields={"period_end": [f"Before {later.period_end}."]},
        )
    run = RevenueRun.objects.create(legal_entity=legal_entity, period_end=period_end, created_by=actor)
    audit.record(actor=actor, action="revenue_run.created", obj=run, changes={"period_end": period_end})
    from revrec.tasks import run_revenue

    transaction.on_commit(lambda: run_revenue.delay(run.pk), robust=True)
    return run


def _inputs(contract_ids, as_of: date) -> dict:
    """Set-wise inputs of a chunk: delivered cost and hours, billable value by role, accepted milestones,
    billed amounts."""
    # By the chunk's project ids, not through the project join: PostgreSQL then reads the chunk's entries by
    # the (project, date) index instead of scanning every entry of the firm once per chunk.
    project_ids = list(Project.objects.filter(contract_id__in=contract_ids).values_list("id", flat=True))
    time = (
        TimeEntry.objects.filter(project_id__in=project_ids, status__in=DELIVERED, date__lte=as_of)
        .values("project__contract_id", "role_id", "billable", "task__name", "task__parent__name")
        .annotate(
            total_hours=Sum("hours"),
            total_cost=Sum(F("hours") * F("cost_rate")),
            total_value=Sum(F("hours") * F("bill_rate")),
        )
    )
    cost, hours, value = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    task_cost, task_hours = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for row in time:
        contract, role = row["project__contract_id"], row["role_id"]
        row_cost, row_hours = Decimal(str(row["total_cost"] or 0)), Decimal(str(row["total_hours"] or 0))
        cost[(contract, role)] += row_cost
        hours[(contract, role)] += row_hours
        # The handoff makes a task per line (or per phase): an obligation's own work is booked there.
        for name in {row["task__name"], row["task__parent__name"]} - {None}:
            task_cost[(contract, name)] += row_cost
            task_hours[(contract, name)] += row_hours
        if row["billable"]:
            value[(contract, role)] += Decimal(str(row["total_value"] or 0))
    expense_value, expense_cost = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for contract, amount, markup, billable, currency in Expense.objects.filter(
        project_id__in=project_ids, status__in=DELIVERED, date__lte=as_of
    ).values_list(
        "project__contract_id", "converted_amount", "markup_percent", "billable", "project_currency"
    ):
        if billable:
            expense_value[contract] += rebill_amount(amount, markup, currency)
        else:
            # Rebilled expenses are time-and-materials revenue; the firm's own are project cost.
            expense_cost[contract] += amount
    accepted = defaultdict(set)
    for contract, name, accepted_at in Milestone.objects.filter(
        project_id__in=project_ids, status=MilestoneStatus.ACCEPTED
    ).values_list("project__contract_id", "name", "accepted_at"):
        if accepted_at is None or timezone.localdate(accepted_at) <= as_of:
            accepted[contract].add(name)
    billed = defaultdict(lambda: ZERO)
    for contract, total in (
        InvoiceLine.objects.filter(invoice__contract_id__in=contract_ids, invoice__issue_date__lte=as_of)
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .values("invoice__contract_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice__contract_id", "total")
    ):
        billed[contract] += total or ZERO
    for contract, total in (
        CreditNoteLine.objects.filter(
            credit_note__invoice__contract_id__in=contract_ids,
            credit_note__status=CreditNoteStatus.RELEASED,
            credit_note__issue_date__lte=as_of,
        )
        .values("credit_note__invoice__contract_id")
        .annotate(total=Sum("amount"))
        .values_list("credit_note__invoice__contract_id", "total")
    ):
        billed[contract] -= total or ZERO
    return {
        "cost": cost,
        "hours": hours,
        "value": value,
        "expense_value": expense_value,
        "expense_cost": expense_cost,
        "task_cost": task_cost,
        "task_hours": task_hours,
        "accepted": accepted,
        "billed": billed,
    }


def _target(obligation, inputs, claimed_roles, warnings) -> Decimal | None:
    """What the obligation has earned by the period end (None: recognised by its planned lines)."""
    contract, currency = obligation.contract_id, obligation.currency
    if obligation.method == RevenueMethod.RATABLE:
        return None
    if obligation.method == RevenueMethod.PERCENT_COMPLETE:
        by_hours = obligation.measure == Measure.HOURS
        measured = inputs["hours"] if by_hours else inputs["cost"]
        on_task = (inputs["task_hours"] if by_hours else inputs["task_cost"]).get(
            (contract, obligation.description)
        )
        if on_task:
            done = on_task
        elif obligation.role_id:
            done = measured[(contract, obligation.role_id)]
        else:
            # Its own work: time of the roles no as-delivered line bills (none if one bills all roles).
            done = ZERO
            if not claimed_roles.get(("all", contract)):
                done = sum(
                    (
                        v
                        for (c, role), v in measured.items()
                        if c == contract and role not in claimed_roles[contract]
                    ),
                    ZERO,
                )
        if obligation.measure == Measure.HOURS:
            estimate = obligation.estimated_total_hours
        else:
            done += inputs["expense_cost"][contract]
            estimate = obligation.estimated_total_cost
        if not estimate:
            warnings.append(f"{obligation}: no estimate at completion; nothing recognised.")
            return ZERO
        if obligation.measure == Measure.COST and estimate > obligation.allocated_amount:
            warnings.append(
                f"{obligation}: estimated cost {estimate:.2f} exceeds the price; a loss is expected."
            )
        return percent_complete_to_date(obligation.allocated_amount, done, estimate, currency)
    if obligation.method == RevenueMethod.MILESTONE:
        from core.money import split_by_weights

        rows = obligation.contract_line.milestone_rows
        if not rows:
            return ZERO
        shares = split_by_weights(obligation.allocated_amount, [row["amount"] for row in rows], currency)
        return sum(
            (
                share
                for row, share in zip(rows, shares, strict=True)
                if row["name"] in inputs["accepted"][contract]
            ),
            ZERO,
        )
    # As delivered: the billable value of the time of its role (or of the roles no other line claims).
    if obligation.role_id:
        value = inputs["value"][(contract, obligation.role_id)]
    else:
        value = sum(
            (
                v
                for (c, role), v in inputs["value"].items()
                if c == contract and role not in claimed_roles[contract]
            ),
            ZERO,
        )
    if obligation.pk == claimed_roles[("first", contract)]:
        value += inputs["expense_value"][contract]
    value = quantize(value, currency)
    if obligation.cap_amount is not None:
        value = min(value, quantize(obligation.cap_amount, currency))
    return value


@dataclass
class Recognition:
    """What a run would recognise for some contracts (nothing written)."""

    obligations: list
    inputs: dict
    amounts: dict = field(default_factory=dict)
    new_lines: list = field(default_factory=list)
    flipped: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def compute_recognition(contract_ids, as_of: date) -> Recognition:
    """Each active obligation's revenue for the period ending `as_of`: its planned lines due (ratable), or
    what it has earned to date less what is recognised (the rest), set-wise for the contracts."""
    month_start = date(as_of.year, as_of.month, 1)
    obligations = list(
        PerformanceObligation.objects.filter(
            contract_id__in=list(contract_ids), status=ObligationStatus.ACTIVE
        )
        .select_related("contract_line", "contract", "contract__account", "contract__legal_entity")
        .order_by("contract_id", "id")
    )
    found = Recognition(obligations=obligations, inputs=_inputs(list(contract_ids), as_of))
    inputs, warnings = found.inputs, found.warnings
    recognized = recognized_to_date([o.pk for o in obligations])
    claimed = defaultdict(set)
    for obligation in obligations:
        if obligation.method == RevenueMethod.AS_DELIVERED:
            if obligation.role_id:
                claimed[obligation.contract_id].add(obligation.role_id)
            else:
                claimed[("all", obligation.contract_id)] = True
            claimed.setdefault(("first", obligation.contract_id), obligation.pk)
    due_planned = defaultdict(list)
    for line in RevenueScheduleLine.objects.filter(
        obligation__in=obligations, status=LineStatus.PLANNED, period_end__lte=as_of
    ):
        due_planned[line.obligation_id].append(line)
    for obligation in obligations:
        target = _target(obligation, inputs, claimed, warnings)
        if target is None:
            lines = [
                line for line in due_planned[obligation.pk] if obligation.method == RevenueMethod.RATABLE
            ]
            amount = sum((line.amount for line in lines), ZERO)
            found.flipped += lines
        else:
            amount = target - recognized.get(obligation.pk, ZERO)
            if amount:
                found.new_lines.append(
                    RevenueScheduleLine(
                        obligation=obligation,
                        period_start=month_start,
                        period_end=as_of,
                        amount=amount,
                        status=LineStatus.RECOGNIZED,
                    )
                )
        if amount:
            found.amounts[obligation.pk] = amount
    return found


def _recognise_chunk(run: RevenueRun, contract_ids: list[int]) -> None:
    as_of = run.period_end
    with transaction.atomic():
        done = set(
            RevenueRunContract.objects.filter(run=run, contract_id__in=contract_ids).values_list(
                "contract_id", flat=True
            )
        )
        locked = list(
            Contract.objects.select_for_update(of=("self",))
            .filter(pk__in=[pk for pk in contract_ids if pk not in done])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not locked:
            return
        found = compute_recognition(locked, as_of)
        obligations, inputs, amounts = found.obligations, found.inputs, found.amounts
        new_lines, flipped, warnings = found.new_lines, found.flipped, list(run.warnings) + found.warnings
        projects = {}
        for contract_id, project_id in (
            Project.objects.filter(contract_id__in=locked).order_by("id").values_list("contract_id", "id")
        ):
            projects.setdefault(contract_id, project_id)
        accounts = {
            account.role: account
            for account in GLAccount.objects.filter(legal_entity_id=run.legal_entity_id, role__isnull=False)
        }
        specs = []
        by_contract = defaultdict(list)
        for obligation in obligations:
            if obligation.pk in amounts:
                by_contract[obligation.contract_id].append(obligation)
        for contract_id, contract_obligations in by_contract.items():
            contract = contract_obligations[0].contract
            lines, total = [], ZERO
            by_role = defaultdict(lambda: ZERO)
            for obligation in contract_obligations:
                by_role[obligation.revenue_role] += amounts[obligation.pk]
                total += amounts[obligation.pk]
            for role, amount in sorted(by_role.items()):
                if amount:
                    lines.append(
                        _line(accounts[role], contract.currency, -amount, projects.get(contract_id), contract)
                    )
            if total:
                lines.append(
                    _line(
                        accounts[AccountRole.DEFERRED_REVENUE],
                        contract.currency,
                        total,
                        projects.get(contract_id),
                        contract,
                    )
                )
            if len(lines) >= 2:
                specs.append(
                    EntrySpec(
                        legal_entity=contract.legal_entity,
                        date=as_of,
                        memo=f"Revenue recognised for {contract.number} to {as_of}",
                        lines=lines,
                        source_type=SOURCE,
                        source_id=str(run.pk),
                        posting_key=f"{SOURCE}:{run.pk}:{contract_id}",
                    )
                )
        entries = post_entries(actor=run.created_by, entries=specs) if specs else []
        entry_of = {
            int(spec.posting_key.rsplit(":", 1)[1]): entry for spec, entry in zip(specs, entries, strict=True)
        }
        now = timezone.now()
        for line in new_lines:
            line.run, line.recognized_at = run, now
            line.journal_entry = entry_of.get(line.obligation.contract_id)
        insert_objects(new_lines)
        _mark_recognized(run, flipped, entry_of, {o.pk: o.contract_id for o in obligations}, now)
        for obligation in obligations:
            if obligation.method == RevenueMethod.MILESTONE and obligation.pk in amounts:
                plan_schedule(obligation)  # accepted milestones leave the plan
        recognised = _functional(entries, accounts[AccountRole.DEFERRED_REVENUE], as_of) if entries else ZERO
        reclassified = _reclassify(run, locked, obligations, inputs["billed"], accounts, projects)
        insert_objects(
            [RevenueRunContract(run=run, contract_id=pk, journal_entry=entry_of.get(pk)) for pk in locked]
        )
        totals = dict(run.totals)
        for obligation in obligations:
            if obligation.pk in amounts:
                currency = obligation.currency
                totals[currency] = str(
                    quantize(Decimal(totals.get(currency, "0")) + amounts[obligation.pk], currency)
                )
        RevenueRun.objects.filter(pk=run.pk).update(
            done_contracts=F("done_contracts") + len(locked),
            recognized_amount=F("recognized_amount") + recognised,
            reclassified_amount=F("reclassified_amount") + reclassified,
            totals=totals,
            warnings=warnings[:200],
        )
        run.totals, run.warnings = totals, warnings


def _mark_recognized(run: RevenueRun, lines: list, entry_of: dict, contract_of: dict, now) -> None:
    """Flip due planned lines to recognised by this run, each naming its contract's entry: one UPDATE
    joined to the lines' entry ids (a contract without an entry leaves its lines' entry empty)."""
    recognized = {"status": LineStatus.RECOGNIZED, "run_id": run.pk, "recognized_at": now}
    with_entry, without_entry = [], []
    for line in lines:
        entry = entry_of.get(contract_of[line.obligation_id])
        if entry is None:
            without_entry.append(line.pk)
        else:
            with_entry.append((line.pk, entry.pk))
    update_rows(RevenueScheduleLine, ["journal_entry_id"], with_entry, constants=recognized)
    if without_entry:
        RevenueScheduleLine.objects.filter(pk__in=without_entry).update(**recognized, journal_entry_id=None)


def _line(account, currency, amount, project_id, contract) -> LineSpec:
    """A debit for a positive amount, a credit for a negative one."""
    return LineSpec(
        account=account,
        currency=currency,
        debit=amount if amount > 0 else ZERO,
        credit=-amount if amount < 0 else ZERO,
        client_id=contract.account_id if account.role in (AccountRole.UNBILLED_REVENUE,) else None,
        project_id=project_id,
        memo=contract.number,
    )


def _reclassify(run, contract_ids, obligations, billed, accounts, projects) -> Decimal:
    """Contracts that recognised more than they billed: Dr unbilled revenue / Cr deferred revenue at the
    period end, reversed on the next day (once per contract and period end)."""
    as_of = run.period_end
    totals = recognized_to_date([o.pk for o in obligations])
    recognized = defaultdict(lambda: ZERO)
    contracts = {}
    for obligation in obligations:
        recognized[obligation.contract_id] += totals.get(obligation.pk, ZERO)
        contracts[obligation.contract_id] = obligation.contract
    next_day = as_of + timedelta(days=1)
    reversal_open = FiscalPeriod.objects.filter(
        legal_entity_id=run.legal_entity_id, start__lte=next_day, end__gte=next_day, status=PeriodStatus.OPEN
    ).exists()
    unbilled = accounts[AccountRole.UNBILLED_REVENUE]
    # What earlier runs for this period end already reclassified (a second run posts the difference).
    before = defaultdict(lambda: ZERO)
    for source_id, debit, credit in JournalLine.objects.filter(
        entry__source_type="revrec.reclass",
        entry__source_id__in=[str(pk) for pk in contract_ids],
        entry__date=as_of,
        account=unbilled,
    ).values_list("entry__source_id", "debit", "credit"):
        before[int(source_id)] += debit - credit
    specs = []
    for contract_id in contract_ids:
        contract = contracts.get(contract_id)
        if contract is None:
            continue
        position = max(recognized[contract_id] - billed[contract_id], ZERO)
        amount = quantize(position, contract.currency) - before[contract_id]
        if not amount:
            continue
        project = projects.get(contract_id)
        dr = _line(accounts[AccountRole.UNBILLED_REVENUE], contract.currency, amount, project, contract)
        cr = _line(accounts[AccountRole.DEFERRED_REVENUE], contract.currency, -amount, project, contract)
        key = f"revrec.reclass:{contract_id}:{as_of.isoformat()}:{run.pk}"
        specs.append(
            EntrySpec(
                legal_entity=contract.legal_entity,
                date=as_of,
                memo=f"Unbilled revenue of {contract.number} at {as_of}",
                lines=[dr, cr],
                source_type="revrec.reclass",
                source_id=str(contract_id),
                posting_key=key,
            )
        )
        if reversal_open:
            specs.append(
                EntrySpec(
                    legal_entity=contract.legal_entity,
                    date=next_day,
                    memo=f"Reversal of unbilled revenue of {contract.number} at {as_of}",
                    lines=[
                        _line(
                            accounts[AccountRole.UNBILLED_REVENUE],
                            contract.currency,
                            -amount,
                            project,
                            contract,
                        ),
                        _line(
                            accounts[AccountRole.DEFERRED_REVENUE],
                            contract.currency,
                            amount,
                            project,
                            contract,
                        ),
                    ],
                    source_type="revrec.reclass",
                    source_id=str(contract_id),
                    posting_key=f"{key}:reversal",
                )
            )
    if not specs:
        return ZERO
    entries = post_entries(actor=run.created_by, entries=specs)
    return _functional(entries, unbilled, as_of)


def _functional(entries, account, day) -> Decimal:
    """The net functional debit of these entries' lines on `account` dated `day` (one currency: the
    legal entity's, so amounts in several contract currencies add up), summed by the database."""
    net = JournalLine.objects.filter(
        entry_id__in=[entry.pk for entry in entries], account=account, date=day
    ).aggregate(net=Sum(F("functional_debit") - F("functional_credit")))["net"]
    return net or ZERO


def _claim(run_id: int) -> RevenueRun | None:
    with transaction.atomic():
        run = RevenueRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status == RunStatus.COMPLETED:
            return None
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.error = ""
        run.started_at = run.started_at or timezone.now()
        run.total_contracts = len(contracts_with_obligations(run.legal_entity_id))
        run.save(update_fields=["status", "attempts", "error", "started_at", "total_contracts"])
    return run


def execute_revenue_run(*, run_id: int, chunk_size: int | None = None) -> RevenueRun | None:
    """The run's work (the Celery task calls this); safe to call again: finished contracts are skipped."""
    run = _claim(run_id)
    if run is None:
        return RevenueRun.objects.filter(pk=run_id).first()
    size = chunk_size or CHUNK_CONTRACTS
    try:
        _open_period(run.legal_entity_id, run.period_end, "period_end")
        done = set(RevenueRunContract.objects.filter(run=run).values_list("contract_id", flat=True))
        ids = [pk for pk in contracts_with_obligations(run.legal_entity_id) if pk not in done]
        for start in range(0, len(ids), size):
            _recognise_chunk(run, ids[start : start + size])
        with transaction.atomic():
            run = RevenueRun.objects.select_for_update().get(pk=run.pk)
            run.status, run.finished_at = RunStatus.COMPLETED, timezone.now()
            run.save(update_fields=["status", "finished_at"])
            audit.record(
                actor=run.created_by,
                action="revenue_run.completed",
                obj=run,
                changes={"recognized": run.recognized_amount, "reclassified": run.reclassified_amount},
            )
            emit(
                "revenue_run.completed",
                run,
                {"legal_entity": run.legal_entity_id, "period_end": run.period_end, "totals": run.totals},
                actor=run.created_by,
            )
    except Exception as exc:
        RevenueRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    return run


def resume_revenue_run(*, actor, run: RevenueRun) -> RevenueRun:
    require_role(actor, Role.FINANCE)
    if run.status == RunStatus.COMPLETED:
        raise InvalidTransition(f"Revenue run #{run.pk} is completed; start a new run.")
    from revrec.tasks import run_revenue

    transaction.on_commit(lambda: run_revenue.delay(run.pk), robust=True)
    return run


def start_month_end_revenue_runs(*, today: date) -> list[RevenueRun]:
    """The monthly schedule: a run to the end of last month for every legal entity with obligations,
    unless one exists (or that month is closed); safe to call every day."""
    from ledger.models import LegalEntity

    first = date(today.year, today.month, 1)
    period_end = first - timedelta(days=1)
    started = []
    for entity in LegalEntity.objects.filter(
        pk__in=PerformanceObligation.objects.filter(status=ObligationStatus.ACTIVE).values("legal_entity_id")
    ):
        if (
            RevenueRun.objects.filter(legal_entity=entity, period_end__gte=period_end)
            .exclude(status=RunStatus.FAILED)
            .exists()
        ):
            continue
        try:
            started.append(start_revenue_run(actor=None, legal_entity=entity, period_end=period_end))
        except (PeriodClosed, PeriodMissing, ValidationFailed):
            continue
    return started
