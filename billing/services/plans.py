"""Billing plans: one per contract line, built from the line's terms when the contract is created and
moved to the new line when a change order amends it (what was billed stays billed)."""

import calendar
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from billing.choices import ItemKind, PlanStatus, UnusedBalance
from billing.models import BillingPlan, OverCapEntry, PlanItem
from core.money import quantize

ZERO = Decimal(0)
UNUSED_RULE = {
    "forfeit": UnusedBalance.EXPIRE,
    "carry_over": UnusedBalance.ROLL_OVER,
    "refund": UnusedBalance.REFUND,
}


def _add_months(day: date, months: int, anchor_day: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def subscription_periods(
    start: date, end: date, months: int, cycle_day: int, amount: Decimal, currency: str
) -> list[dict]:
    """Billing periods aligned to the cycle day, each billed in advance on its first day.

    A partial first or last period is prorated by days against the full period it falls in:
    6,000.00 a month from 2026-04-11 with cycle day 1 → 2026-04-11..04-30 = 20 of April's 30 days =
    4,000.00. Amounts are rounded once per period.
    """
    boundary = date(start.year, start.month, min(cycle_day, calendar.monthrange(start.year, start.month)[1]))
    if boundary > start:
        boundary = _add_months(boundary, -months, cycle_day)
    result = []
    while boundary <= end:
        following = _add_months(boundary, months, cycle_day)
        full_last = following - timedelta(days=1)
        first, last = max(boundary, start), min(full_last, end)
        if first <= last:
            full_days = (following - boundary).days
            days = (last - first).days + 1
            value = amount if days == full_days else quantize(amount * days / full_days, currency)
            result.append(
                {"start": first, "end": last, "amount": value, "days": days, "full_days": full_days}
            )
        boundary = following
    return result


def _items_for(line, currency: str) -> list[dict]:
    """The scheduled items of a line: [{"kind", "key", "description", "date", "amount", ...}]."""
    schedule = line.schedule or {}
    model = line.billing_model
    items = []
    if model in ("milestone", "fixed_fee") and schedule.get("milestones"):
        for milestone in schedule["milestones"]:
            items.append(
                {
                    "kind": ItemKind.MILESTONE,
                    "key": f"milestone:{milestone['name']}",
                    "description": f"Milestone: {milestone['name']}",
                    "date": date.fromisoformat(milestone["due"]),
                    "amount": Decimal(milestone["amount"]),
                }
            )
    elif model == "fixed_fee":
        instalments = schedule.get("instalments") or []
        for index, instalment in enumerate(instalments, start=1):
            items.append(
                {
                    "kind": ItemKind.INSTALMENT,
                    "key": f"instalment:{index}",
                    "description": f"{line.description}: instalment {index} of {len(instalments)}",
                    "date": date.fromisoformat(instalment["date"]),
                    "amount": Decimal(instalment["amount"]),
                }
            )
    elif model == "subscription":
        months = {"monthly": 1, "quarterly": 3, "annual": 12}.get(line.billing_period, 1)
        cycle_day = line.cycle_day or 1
        for period in subscription_periods(
            line.start, line.end, months, cycle_day, quantize(line.period_amount or ZERO, currency), currency
        ):
            partial = (
                ""
                if period["days"] == period["full_days"]
                else f" ({period['days']}/{period['full_days']} days)"
            )
            items.append(
                {
                    "kind": ItemKind.SUBSCRIPTION,
                    "key": f"period:{period['start'].isoformat()}",
                    "description": f"{line.description}: {period['start']} to {period['end']}{partial}",
                    "date": period["start"],
                    "period_start": period["start"],
                    "period_end": period["end"],
                    "amount": period["amount"],
                }
            )
    elif model == "retainer":
        for period in schedule.get("periods") or []:
            first, last = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
            items.append(
                {
                    "kind": ItemKind.RETAINER_FEE,
                    "key": f"period:{first.isoformat()}",
                    "description": f"{line.description}: retainer {first} to {last}",
                    "date": first,
                    "period_start": first,
                    "period_end": last,
                    "amount": Decimal(period["amount"]),
                    "hours": line.period_hours,
                }
            )
    return items


def _plan_values(line, contract) -> dict:
    currency = contract.currency
    values = {
        "billing_model": line.billing_model,
        "description": line.description,
        "currency": currency,
        "start": line.start,
        "end": line.end,
        "role_id": line.role_id,
        "cap_amount": quantize(line.cap_amount, currency) if line.cap_amount is not None else None,
        "period_hours": None,
        "drawdown_rate": None,
        "overage_rate": None,
        "unused_balance": "",
    }
    if line.billing_model == "retainer":
        values["period_hours"] = line.period_hours
        if line.period_hours:
            values["drawdown_rate"] = quantize((line.period_amount or ZERO) / line.period_hours, currency)
        values["overage_rate"] = (
            line.overage_rate if line.overage_rate is not None else values["drawdown_rate"]
        )
        values["unused_balance"] = UNUSED_RULE.get(line.unused_hours or "forfeit", UnusedBalance.EXPIRE)
    return values


def _sync_items(plan: BillingPlan, wanted: list[dict]) -> None:
    existing = {item.key: item for item in plan.items.all()}
    create, update = [], []
    for spec in wanted:
        item = existing.pop(spec["key"], None)
        if item is None:
            create.append(PlanItem(plan=plan, **spec))
        elif item.invoice_line_id is None:
            for name, value in spec.items():
                setattr(item, name, value)
            item.cancelled = False
            update.append(item)
    # Scheduled items the new version no longer has: cancelled unless already billed.
    for item in existing.values():
        if item.invoice_line_id is None and not item.cancelled:
            item.cancelled = True
            update.append(item)
    PlanItem.objects.bulk_create(create)
    if update:
        PlanItem.objects.bulk_update(
            update, ["description", "date", "period_start", "period_end", "amount", "hours", "cancelled"]
        )


@transaction.atomic
def sync_billing_plans(*, contract) -> list[BillingPlan]:
    """Make the contract's plans match its current lines: a plan per line, following amendments through
    each line's `origin`; plans of removed lines end. Idempotent."""
    from crm.services.contracts import current_lines

    lines = list(current_lines(contract))
    plans = list(BillingPlan.objects.select_for_update().filter(contract=contract))
    by_line = {plan.contract_line_id: plan for plan in plans}
    kept = []
    for line in lines:
        plan = by_line.get(line.pk) or (by_line.get(line.origin_id) if line.origin_id else None)
        values = _plan_values(line, contract)
        if plan is None:
            plan = BillingPlan.objects.create(
                contract=contract,
                contract_line=line,
                legal_entity_id=contract.legal_entity_id,
                account_id=contract.account_id,
                **values,
            )
        else:
            previous_cap = plan.cap_amount
            for name, value in values.items():
                setattr(plan, name, value)
            plan.contract_line = line
            plan.status = PlanStatus.ACTIVE
            plan.save()
            if previous_cap is not None and (plan.cap_amount is None or plan.cap_amount > previous_cap):
                # A change order raised the cap: held over-cap time bills in the next run.
                OverCapEntry.objects.filter(plan=plan, status="held").update(status="released")
        _sync_items(plan, _items_for(line, contract.currency))
        kept.append(plan)
    kept_ids = {plan.pk for plan in kept}
    ended = [plan.pk for plan in plans if plan.pk not in kept_ids]
    if ended:
        BillingPlan.objects.filter(pk__in=ended).update(status=PlanStatus.ENDED)
        PlanItem.objects.filter(plan_id__in=ended, invoice_line__isnull=True).update(cancelled=True)
    return kept
