"""Demo firm, revenue part: the CRM handoff already gave every demo contract its obligations and planned
schedules; this sets an estimate at completion on the percent-complete ones that have none, then runs
revenue recognition per legal entity for each month the billing demo billed, through the real services,
so the waterfall and the roll-forward show numbers that agree with the ledger.

Estimates are set once (only where missing); a month already run for an entity is skipped (a run left
unfinished is worked to the end), so a second load adds nothing.
"""

import time
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import F, Sum

from billing.demo import MONTHS, completed_months
from core.errors import DomainError
from core.money import quantize
from ledger.models import LegalEntity
from projects.models import Project, TimeEntry
from revrec.choices import Measure, ObligationStatus, RevenueMethod, RunStatus
from revrec.models import PerformanceObligation, RevenueRun
from revrec.services.obligations import set_estimate
from revrec.services.runs import execute_revenue_run, start_revenue_run

ZERO = Decimal(0)
DELIVERED = ("approved", "billed", "written_off")
ESTIMATE_REASON = "Estimate at completion from the project budget: budget hours × average cost rate"
FINISHED_REASON = "The project is finished: its estimate at completion is the cost it delivered"


def load(ctx) -> None:
    finance = get_user_model().objects.filter(username="finance").first()
    entities = list(LegalEntity.objects.filter(projects__contract__isnull=False).distinct().order_by("pk"))
    if finance is None or not entities:
        ctx.stdout.write("  skipped: the finance user or the demo's contracts are missing")
        return
    started = time.monotonic()
    estimates = _estimates(ctx, finance)
    runs, skipped = _runs(ctx, finance, entities)
    recognised = defaultdict(lambda: ZERO)
    for run in RevenueRun.objects.filter(pk__in=[run.pk for run in runs]):
        for currency, amount in (run.totals or {}).items():
            recognised[currency] += Decimal(amount)
    amounts = ", ".join(f"{currency} {amount:,.2f}" for currency, amount in sorted(recognised.items()))
    ctx.stdout.write(
        f"  {estimates} estimates at completion, {len(runs)} revenue runs"
        f"{f' recognising {amounts}' if amounts else ''}, {skipped} months already run"
        f" ({time.monotonic() - started:.1f}s)"
    )


def _average_cost_rates() -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """The average snapshot cost rate of delivered time per contract and, as a fallback, per legal entity."""
    per_contract, per_entity = {}, {}
    for key, into in (("project__contract_id", per_contract), ("project__legal_entity_id", per_entity)):
        rows = (
            TimeEntry.objects.filter(status__in=DELIVERED, project__contract__isnull=False)
            .values(key)
            .annotate(total_hours=Sum("hours"), total_cost=Sum(F("hours") * F("cost_rate")))
            .values_list(key, "total_hours", "total_cost")
        )
        for pk, hours, cost in rows:
            if hours:
                into[pk] = Decimal(str(cost)) / Decimal(str(hours))
    return per_contract, per_entity


def _delivered_cost(contract_ids) -> dict[int, Decimal]:
    return {
        pk: Decimal(str(cost or 0))
        for pk, cost in TimeEntry.objects.filter(status__in=DELIVERED, project__contract_id__in=contract_ids)
        .values("project__contract_id")
        .annotate(total_cost=Sum(F("hours") * F("cost_rate")))
        .values_list("project__contract_id", "total_cost")
    }


def _estimates(ctx, finance) -> int:
    """Percent-complete obligations measure progress against an estimate at completion; give the ones
    without one the project's: its budget hours at the average cost rate of the contract's delivered time
    (the entity's where none is delivered yet), never below the cost delivered so far. A finished project's
    estimate is what it cost. Hours-measured obligations take the budget hours."""
    missing = [
        obligation
        for obligation in PerformanceObligation.objects.filter(
            method=RevenueMethod.PERCENT_COMPLETE, status=ObligationStatus.ACTIVE
        ).order_by("pk")
        if (
            obligation.estimated_total_hours
            if obligation.measure == Measure.HOURS
            else obligation.estimated_total_cost
        )
        is None
    ]
    if not missing:
        return 0
    projects = {}
    for project in Project.objects.filter(contract_id__in=[o.contract_id for o in missing]).order_by("pk"):
        projects.setdefault(project.contract_id, project)
    per_contract, per_entity = _average_cost_rates()
    delivered = _delivered_cost([o.contract_id for o in missing])
    count = 0
    for obligation in missing:
        project = projects.get(obligation.contract_id)
        if project is None or not project.budget_hours:
            continue
        if obligation.measure == Measure.HOURS:
            set_estimate(
                actor=finance,
                obligation=obligation,
                total_hours=project.budget_hours,
                reason="Estimate at completion: the project's budget hours",
            )
            count += 1
            continue
        rate = per_contract.get(obligation.contract_id) or per_entity.get(obligation.legal_entity_id)
        done = delivered.get(obligation.contract_id, ZERO)
        if project.end < ctx.today and done > 0:
            estimate, reason = done, FINISHED_REASON
        elif rate:
            estimate, reason = max(project.budget_hours * rate, done), ESTIMATE_REASON
        else:
            continue
        set_estimate(
            actor=finance,
            obligation=obligation,
            total_cost=quantize(estimate, obligation.currency),
            reason=reason,
        )
        count += 1
    return count


def _runs(ctx, finance, entities) -> tuple[list[RevenueRun], int]:
    """A revenue run per legal entity and billed month, oldest month first (percent complete catches up
    month by month); months already run are skipped, an unfinished run is worked to the end."""
    runs, skipped = [], 0
    for _, period_end in completed_months(ctx.today, MONTHS):
        for entity in entities:
            existing = (
                RevenueRun.objects.filter(legal_entity=entity, period_end=period_end).order_by("-pk").first()
            )
            if existing is not None and existing.status == RunStatus.COMPLETED:
                skipped += 1
                continue
            try:
                run = existing or start_revenue_run(actor=finance, legal_entity=entity, period_end=period_end)
                runs.append(execute_revenue_run(run_id=run.pk))
            except DomainError as exc:
                # Say, a closed period: the month stays for finance to run by hand.
                ctx.stdout.write(f"  no revenue run for {entity.name} to {period_end}: {exc.detail}")
    return runs, skipped
