"""Performance obligations: one per contract line, created when the contract is signed and moved on at
every amendment; the price is allocated over them by relative standalone price, and ratable and
milestone obligations get planned monthly schedule lines."""

import calendar
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from core import audit
from core.errors import ValidationFailed
from core.roles import Role, require_role
from crm.choices import BillingModel, RevenueMethod
from ledger.choices import AccountRole
from projects.choices import MilestoneStatus
from projects.models import Milestone
from revrec.choices import AmendmentTreatment, LineStatus, Measure, ObligationStatus
from revrec.models import Allocation, PerformanceObligation, RevenueScheduleLine
from revrec.services.measures import allocate, months, ratable

ZERO = Decimal(0)
REVENUE_ROLE = {
    BillingModel.TIME_AND_MATERIALS: AccountRole.REVENUE_TM,
    BillingModel.FIXED_FEE: AccountRole.REVENUE_FIXED,
    BillingModel.MILESTONE: AccountRole.REVENUE_FIXED,
    BillingModel.RETAINER: AccountRole.REVENUE_SUBSCRIPTION,
    BillingModel.SUBSCRIPTION: AccountRole.REVENUE_SUBSCRIPTION,
}


def _values(line, contract) -> dict:
    method = line.revenue_method_or_default()
    return {
        "description": line.description,
        "method": method,
        "billing_model": line.billing_model,
        "currency": contract.currency,
        "service_start": line.start,
        "service_end": line.end,
        "cap_amount": line.cap_amount,
        "role_id": line.role_id,
        "revenue_role": REVENUE_ROLE.get(line.billing_model, AccountRole.REVENUE_FIXED),
    }


@transaction.atomic
def sync_obligations(
    *, contract, actor=None, treatment: str = AmendmentTreatment.CATCH_UP, reason: str = ""
) -> list[PerformanceObligation]:
    """Make the contract's obligations match its current lines and re-allocate its price. Idempotent."""
    from crm.services.contracts import current_lines

    lines = list(current_lines(contract))
    existing = list(PerformanceObligation.objects.select_for_update().filter(contract=contract))
    by_line = {obligation.contract_line_id: obligation for obligation in existing}
    kept = []
    for line in lines:
        obligation = by_line.get(line.pk) or (by_line.get(line.origin_id) if line.origin_id else None)
        values = _values(line, contract)
        if obligation is None:
            obligation = PerformanceObligation(
                contract=contract,
                contract_line=line,
                legal_entity_id=contract.legal_entity_id,
                account_id=contract.account_id,
                standalone_price=line.amount,
                excluded=values["method"] == RevenueMethod.AS_DELIVERED,
                measure=Measure.HOURS if line.hours else Measure.COST,
                estimated_total_hours=line.hours or None,
                **values,
            )
        else:
            previous_line = obligation.contract_line
            if previous_line.amount != line.amount:
                obligation.standalone_price = line.amount
            for name, value in values.items():
                setattr(obligation, name, value)
            obligation.contract_line = line
            obligation.status = ObligationStatus.ACTIVE
        obligation.save()
        kept.append(obligation)
    kept_ids = {obligation.pk for obligation in kept}
    ended = [obligation.pk for obligation in existing if obligation.pk not in kept_ids]
    if ended:
        PerformanceObligation.objects.filter(pk__in=ended).update(status=ObligationStatus.ENDED)
        RevenueScheduleLine.objects.filter(obligation_id__in=ended, status=LineStatus.PLANNED).delete()
    reallocate(contract=contract, obligations=kept, actor=actor, treatment=treatment, reason=reason)
    return kept


def reallocate(
    *, contract, obligations, actor=None, treatment=AmendmentTreatment.CATCH_UP, reason=""
) -> Allocation:
    """Allocate the contract's fixed price over its obligations by relative SSP; excluded (as-delivered)
    obligations keep their own value. Then re-plan the schedules of the open future."""
    allocated = [obligation for obligation in obligations if not obligation.excluded]
    price = sum((obligation.contract_line.amount for obligation in allocated), ZERO)
    shares = (
        allocate(price, [obligation.standalone_price for obligation in allocated], contract.currency)
        if allocated
        else []
    )
    for obligation, share in zip(allocated, shares, strict=True):
        obligation.allocated_amount = share
    for obligation in obligations:
        if obligation.excluded:
            obligation.allocated_amount = obligation.contract_line.amount
    PerformanceObligation.objects.bulk_update(obligations, ["allocated_amount"])
    allocation = Allocation.objects.create(
        contract=contract,
        contract_version=contract.version,
        treatment=treatment,
        transaction_price=price,
        shares={str(obligation.pk): str(obligation.allocated_amount) for obligation in obligations},
        reason=reason,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    for obligation in obligations:
        plan_schedule(obligation, treatment=treatment)
    return allocation


def recognized_to_date(obligation_ids) -> dict[int, Decimal]:
    return dict(
        RevenueScheduleLine.objects.filter(obligation_id__in=obligation_ids, status=LineStatus.RECOGNIZED)
        .values("obligation_id")
        .annotate(total=Sum("amount"))
        .values_list("obligation_id", "total")
    )


def plan_schedule(obligation: PerformanceObligation, *, treatment=AmendmentTreatment.CATCH_UP) -> None:
    """Planned lines for the months not yet recognised (recognised lines are never touched).

    Ratable: by day over the service period; with catch-up, what the new amount would have recognised in
    the months already recognised lands in the first open month; prospectively, what is left is spread
    over the remaining months. Milestone: each milestone's share planned in its due month.
    """
    RevenueScheduleLine.objects.filter(obligation=obligation, status=LineStatus.PLANNED).delete()
    if obligation.status != ObligationStatus.ACTIVE:
        return
    recognized = RevenueScheduleLine.objects.filter(obligation=obligation, status=LineStatus.RECOGNIZED)
    done = recognized.aggregate(total=Sum("amount"))["total"] or ZERO
    last = recognized.order_by("-period_end").values_list("period_end", flat=True).first()
    currency = obligation.currency
    planned = []
    if obligation.method == RevenueMethod.RATABLE:
        if treatment == AmendmentTreatment.PROSPECTIVE and last is not None:
            remaining = [
                (first, end)
                for first, end in months(obligation.service_start, obligation.service_end)
                if end > last
            ]
            if remaining:
                pieces = ratable(
                    obligation.allocated_amount - done, remaining[0][0], remaining[-1][1], currency
                )
                planned = list(pieces)
        else:
            pieces = ratable(
                obligation.allocated_amount, obligation.service_start, obligation.service_end, currency
            )
            before = sum((piece for _, end, piece in pieces if last and end <= last), ZERO)
            future = [(first, end, piece) for first, end, piece in pieces if not last or end > last]
            if future:
                first, end, piece = future[0]
                future[0] = (first, end, piece + before - done)
            planned = future
    elif obligation.method == RevenueMethod.MILESTONE:
        rows = obligation.contract_line.milestone_rows
        accepted = set(
            Milestone.objects.filter(
                project__contract_id=obligation.contract_id, status=MilestoneStatus.ACCEPTED
            ).values_list("name", flat=True)
        )
        if rows:
            from core.money import split_by_weights

            shares = split_by_weights(obligation.allocated_amount, [row["amount"] for row in rows], currency)
            for row, share in zip(rows, shares, strict=True):
                if row["name"] in accepted:
                    continue
                due = row["due"]
                first = date(due.year, due.month, 1)
                planned.append(
                    (first, date(due.year, due.month, calendar.monthrange(due.year, due.month)[1]), share)
                )
    merged: dict[date, list] = {}
    for first, end, piece in planned:
        if piece:
            slot = merged.setdefault(first, [first, end, ZERO])
            slot[2] += piece
    RevenueScheduleLine.objects.bulk_create(
        RevenueScheduleLine(obligation=obligation, period_start=first, period_end=end, amount=amount)
        for first, end, amount in merged.values()
    )


@transaction.atomic
def set_standalone_price(*, actor, obligation: PerformanceObligation, price: Decimal, reason: str):
    """Finance sets an obligation's SSP (with why); the contract's price is re-allocated."""
    require_role(actor, Role.FINANCE)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the standalone price changes.", fields={"reason": ["Required."]})
    if price is None or price < 0:
        raise ValidationFailed(
            "A standalone price is zero or more.", fields={"standalone_price": ["Negative."]}
        )
    obligation = PerformanceObligation.objects.select_for_update().get(pk=obligation.pk)
    before = obligation.standalone_price
    obligation.standalone_price = price
    obligation.save(update_fields=["standalone_price", "updated_at"])
    active = list(
        PerformanceObligation.objects.filter(contract=obligation.contract, status=ObligationStatus.ACTIVE)
        .select_related("contract_line")
        .order_by("id")
    )
    reallocate(contract=obligation.contract, obligations=active, actor=actor, reason=reason.strip())
    audit.record(
        actor=actor,
        action="obligation.ssp_changed",
        obj=obligation,
        changes={"standalone_price": [before, price]},
        reason=reason.strip(),
    )
    obligation.refresh_from_db()
    return obligation


@transaction.atomic
def set_estimate(*, actor, obligation: PerformanceObligation, reason: str, total_cost=None, total_hours=None):
    """Finance revises a percent-complete estimate at completion; the next run catches up cumulatively."""
    require_role(actor, Role.FINANCE)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the estimate changes.", fields={"reason": ["Required."]})
    for name, value in (("total_cost", total_cost), ("total_hours", total_hours)):
        if value is not None and value <= 0:
            raise ValidationFailed(
                "An estimate at completion is more than zero.",
                code="estimate_zero",
                fields={name: ["Must be > 0."]},
            )
    obligation = PerformanceObligation.objects.select_for_update().get(pk=obligation.pk)
    changes = {}
    if total_cost is not None:
        changes["estimated_total_cost"] = [obligation.estimated_total_cost, total_cost]
        obligation.estimated_total_cost = total_cost
    if total_hours is not None:
        changes["estimated_total_hours"] = [obligation.estimated_total_hours, total_hours]
        obligation.estimated_total_hours = total_hours
    obligation.save(update_fields=["estimated_total_cost", "estimated_total_hours", "updated_at"])
    audit.record(
        actor=actor,
        action="obligation.estimate_changed",
        obj=obligation,
        changes=changes,
        reason=reason.strip(),
    )
    return obligation
