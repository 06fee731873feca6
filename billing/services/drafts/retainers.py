"""Retainers: fees add prepaid hours, approved time draws them down, time beyond the balance bills as
overage, and each period's end expires or carries what is left (at the line's end: expire, keep or refund)."""

from billing.choices import DrawdownKind, ItemKind, SourceType, UnusedBalance
from billing.models import PlanItem, RetainerMovement
from billing.services.drafts.types import ZERO, DraftLine, EntryLink, MovementSpec
from core.money import quantize

CLOSINGS = (DrawdownKind.EXPIRED, DrawdownKind.ROLLED_OVER, DrawdownKind.REFUNDED)
FEE, ENTRY, CLOSE = 0, 1, 2


def retainer_state(plan_ids) -> dict[int, dict]:
    """Each plan's balance (hours) after its last movement and the period ends already closed."""
    state = {pk: {"balance": ZERO, "closed": set()} for pk in plan_ids}
    for plan_id, kind, day, balance in (
        RetainerMovement.objects.filter(plan_id__in=plan_ids)
        .order_by("id")
        .values_list("plan_id", "kind", "date", "balance_hours")
    ):
        state[plan_id]["balance"] = balance
        if kind in CLOSINGS:
            state[plan_id]["closed"].add(day)
    return state


def billed_periods(plan_ids) -> dict[int, list]:
    """The period ends of each retainer plan's fees billed before this run."""
    ends: dict[int, list] = {pk: [] for pk in plan_ids}
    for plan_id, end in PlanItem.objects.filter(
        plan_id__in=plan_ids, kind=ItemKind.RETAINER_FEE, invoice_line__isnull=False
    ).values_list("plan_id", "period_end"):
        ends[plan_id].append(end)
    return ends


def draft_retainer(draft, plan, state: dict, earlier_period_ends: list, period_end, roles) -> None:
    currency = draft.contract.currency
    rows = draft.retainer_rows.get(plan.pk, [])
    fees = draft.fees.get(plan.pk, [])
    balance = state["balance"]
    events = [(item.date, FEE, item.pk, item) for item in fees]
    events += [(row[6], ENTRY, row[0], row) for row in rows]
    ends = set(earlier_period_ends) | {item.period_end for item in fees}
    events += [
        (end, CLOSE, 0, end) for end in ends if end and end < period_end and end not in state["closed"]
    ]
    if plan.end <= period_end and plan.end not in state["closed"] and plan.end not in ends:
        events.append((plan.end, CLOSE, 0, plan.end))
    events.sort(key=lambda event: event[:3])
    rate = plan.drawdown_rate or ZERO
    overage_rate = plan.overage_rate if plan.overage_rate is not None else rate
    usage = ZERO
    usage_day = None
    overage_links: list[EntryLink] = []
    pending_lines = []

    def flush_usage():
        nonlocal usage
        if usage:
            draft.movements.append(
                MovementSpec(plan.pk, DrawdownKind.USAGE, usage_day, -usage, -usage * rate, balance)
            )
            usage = ZERO

    for day, kind, _key, payload in events:
        if kind == FEE:
            flush_usage()
            hours = payload.hours or ZERO
            balance += hours
            draft.movements.append(
                MovementSpec(
                    plan.pk, DrawdownKind.FEE, day, hours, payload.amount, balance, note=payload.description
                )
            )
        elif kind == ENTRY:
            entry_id, _project, _contract, _role, hours, _rate, _day = payload
            drawn = min(balance, hours) if balance > 0 else ZERO
            over = hours - drawn
            balance -= drawn
            usage += drawn
            usage_day = day
            link = EntryLink(entry_id=entry_id, plan_id=plan.pk, drawn_hours=drawn, billed_hours=over)
            if over > 0:
                link.amount = over * overage_rate
                overage_links.append(link)
            else:
                link.amount = ZERO
                draft.unlined_links.append(link)
        else:
            flush_usage()
            final = day >= plan.end
            rule = plan.unused_balance or UnusedBalance.EXPIRE
            if rule == UnusedBalance.EXPIRE:
                draft.movements.append(
                    MovementSpec(plan.pk, DrawdownKind.EXPIRED, day, -balance, -balance * rate, ZERO)
                )
                balance = ZERO
            elif final and rule == UnusedBalance.REFUND and balance > 0:
                refund = quantize(balance * rate, currency)
                line = DraftLine(
                    description=f"{plan.description}: refund of {balance} unused hours at {rate:.2f}",
                    source_type=SourceType.RETAINER_FEE,
                    quantity=balance,
                    unit_price=-rate,
                    amount=-refund,
                    plan_id=plan.pk,
                    project_id=plan.project_id,
                )
                pending_lines.append(line)
                draft.movements.append(
                    MovementSpec(plan.pk, DrawdownKind.REFUNDED, day, -balance, -refund, ZERO, line=line)
                )
                balance = ZERO
            else:
                draft.movements.append(
                    MovementSpec(plan.pk, DrawdownKind.ROLLED_OVER, day, ZERO, ZERO, balance)
                )
    flush_usage()
    if overage_links:
        hours = sum((link.billed_hours for link in overage_links), ZERO)
        line = DraftLine(
            description=f"{plan.description}: {hours} h beyond the retainer balance at {overage_rate:.2f}",
            source_type=SourceType.RETAINER_OVERAGE,
            quantity=hours,
            unit_price=overage_rate,
            amount=quantize(hours * overage_rate, currency),
            plan_id=plan.pk,
            project_id=plan.project_id,
            entry_links=overage_links,
            first_date=min(row[6] for row in rows),
            last_date=max(row[6] for row in rows),
        )
        draft.lines.append(line)
        draft.movements.append(
            MovementSpec(plan.pk, DrawdownKind.OVERAGE, period_end, ZERO, line.amount, balance, line=line)
        )
    draft.lines.extend(pending_lines)
