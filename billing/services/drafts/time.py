"""Approved billable time of a chunk of contracts: grouped by role and rate (set-wise), or entry by entry
for plans whose value is bounded (a not-to-exceed cap, a retainer's balance)."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Aggregate, Count, Exists, Field, Max, Min, OuterRef, Sum

from billing.choices import ExceptionKind, HoldStatus, SourceType
from billing.models import InvoiceLine, OverCapEntry, TimeEntryBilling
from billing.services.drafts.types import ZERO, ContractDraft, DraftLine, EntryLink, OverCapSpec, hours_of
from core.money import quantize
from projects.choices import EntryStatus
from projects.models import Project, TimeEntry


def unbilled_time(contract_ids, period_end: date):
    """Approved billable time of the contracts' projects up to `period_end` that billing has not
    consumed nor held over a cap. Filtered by project ids (not through the project join) so the
    partial billing-scan index on (status, project, date) serves each chunk."""
    project_ids = list(
        Project.objects.filter(contract_id__in=list(contract_ids)).values_list("id", flat=True)
    )
    return (
        TimeEntry.objects.filter(
            project_id__in=project_ids,
            status=EntryStatus.APPROVED,
            billable=True,
            date__lte=period_end,
        )
        .filter(~ProbedExists(TimeEntryBilling.objects.filter(time_entry_id=OuterRef("pk"))))
        .filter(~ProbedExists(OverCapEntry.objects.filter(time_entry_id=OuterRef("pk"))))
    )


class ProbedExists(Exists):
    """EXISTS checked row by row with one index probe each. Left to itself PostgreSQL turns the anti-join
    into a hash of the whole link table, once per chunk: a run's cost then grows with everything billed
    before it (0.6 s per chunk of 200 contracts with 1,000,000 links), not with the chunk. `OFFSET 0` is
    PostgreSQL's documented fence against pulling an EXISTS up into a join; SQLite ignores it."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


class EntryIds(Aggregate):
    """The ids of a group's rows, so a run links the very entries it priced without reading them again:
    an array on PostgreSQL, a comma-separated string elsewhere (see `ids_of`)."""

    function = "ARRAY_AGG"
    output_field = Field()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def ids_of(value) -> list[int]:
    if value is None:
        return []
    if isinstance(value, str):
        return [int(pk) for pk in value.split(",")]
    return list(value)


class PlanMap:
    """Which plan takes a time entry: the contract's plan for the entry's role, else its first plan
    that takes time (time and materials or retainer)."""

    def __init__(self, plans):
        self.by_role, self.default, self.plans, self.first = {}, {}, {}, {}
        for plan in sorted(plans, key=lambda p: p.pk):
            self.plans[plan.pk] = plan
            self.first.setdefault(plan.contract_id, plan)
            if not plan.takes_time:
                continue
            self.default.setdefault(plan.contract_id, plan)
            if plan.role_id:
                self.by_role.setdefault((plan.contract_id, plan.role_id), plan)

    def for_time(self, contract_id: int, role_id: int):
        return self.by_role.get((contract_id, role_id)) or self.default.get(contract_id)

    def first_of(self, contract_id: int):
        """The plan expenses bill on: the first that takes time, else the contract's first plan."""
        return self.default.get(contract_id) or self.first.get(contract_id)


def cap_consumed(plan_ids) -> dict[int, Decimal]:
    """What each capped plan has billed so far: its lines on invoices not voided, less released credits."""
    consumed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows = (
        InvoiceLine.objects.filter(plan_id__in=plan_ids)
        .exclude(invoice__status="void")
        .values("plan_id")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        consumed[row["plan_id"]] += row["total"] or ZERO
    credited = (
        InvoiceLine.objects.filter(plan_id__in=plan_ids, credit_lines__credit_note__status="released")
        .exclude(invoice__status="void")
        .values("plan_id")
        .annotate(total=Sum("credit_lines__amount"))
    )
    for row in credited:
        consumed[row["plan_id"]] -= row["total"] or ZERO
    return consumed


def _role_label(roles: dict, role_id) -> str:
    return roles.get(role_id, "Time")


def draft_time(
    drafts: dict[int, ContractDraft],
    plans: PlanMap,
    period_end: date,
    roles: dict,
    *,
    entry_ids: bool = False,
) -> None:
    """Add the time lines (and over-cap holds) of each contract draft; a retainer's rows are left in
    `retainer_rows` for `draft_retainer`. With `entry_ids`, each grouped line carries its entries' ids
    (a run links them); a preview only needs the counts."""
    contract_ids = list(drafts)
    totals = {"hours": Sum("hours"), "count": Count("id"), "first": Min("date"), "last": Max("date")}
    if entry_ids:
        totals["ids"] = EntryIds("id")
    groups = (
        unbilled_time(contract_ids, period_end)
        .values("project_id", "project__contract_id", "role_id", "bill_rate", "currency")
        .annotate(**totals)
        .order_by("project__contract_id", "project_id", "role_id", "bill_rate")
    )
    detailed: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for group in groups:
        contract_id = group["project__contract_id"]
        draft = drafts[contract_id]
        plan = plans.for_time(contract_id, group["role_id"])
        hours = hours_of(group["hours"])
        if plan is None:
            draft.add_exception(
                ExceptionKind.NO_PLAN,
                f"{hours} approved billable hours on project {group['project_id']} have no "
                "time-and-materials "
                "or retainer line to bill on.",
                project=group["project_id"],
                hours=hours,
            )
            continue
        if group["currency"] != draft.contract.currency:
            draft.add_exception(
                ExceptionKind.CURRENCY,
                f"{hours} hours are priced in {group['currency']}, the contract bills in "
                f"{draft.contract.currency}.",
                project=group["project_id"],
            )
            continue
        if plan.cap_amount is not None or plan.billing_model == "retainer":
            detailed[plan.pk].add((group["project_id"], group["role_id"]))
            continue
        rate = group["bill_rate"]
        draft.lines.append(
            DraftLine(
                description=f"{_role_label(roles, group['role_id'])}: {hours} h at {rate:.2f}",
                source_type=SourceType.TIME,
                quantity=hours,
                unit_price=rate,
                amount=quantize(hours * rate, draft.contract.currency),
                plan_id=plan.pk,
                project_id=group["project_id"],
                role_id=group["role_id"],
                entry_count=group["count"],
                entry_ids=ids_of(group.get("ids")),
                first_date=group["first"],
                last_date=group["last"],
            )
        )
    # Capped plans with holds a change order released bill them even without new time.
    for plan_id in set(
        OverCapEntry.objects.filter(plan_id__in=list(plans.plans), status=HoldStatus.RELEASED).values_list(
            "plan_id", flat=True
        )
    ):
        detailed.setdefault(plan_id, set())
    if not detailed:
        return
    pairs = {pair for plan_pairs in detailed.values() for pair in plan_pairs}
    rows = (
        unbilled_time(contract_ids, period_end)
        .filter(project_id__in={project for project, _ in pairs}, role_id__in={role for _, role in pairs})
        .values_list("id", "project_id", "project__contract_id", "role_id", "hours", "bill_rate", "date")
        .order_by("date", "id")
    )
    by_plan: dict[int, list] = defaultdict(list)
    for row in rows:
        plan = plans.for_time(row[2], row[3])
        if plan is not None and (row[1], row[3]) in detailed.get(plan.pk, ()):
            by_plan[plan.pk].append(row)
    capped = [pk for pk in detailed if plans.plans[pk].cap_amount is not None]
    consumed = cap_consumed(capped)
    released = defaultdict(list)
    for hold in OverCapEntry.objects.filter(plan_id__in=capped, status=HoldStatus.RELEASED).order_by(
        "time_entry_id"
    ):
        released[hold.plan_id].append(hold)
    for plan_pk in detailed:
        plan = plans.plans[plan_pk]
        draft = drafts[plan.contract_id]
        if plan.cap_amount is not None:
            _draft_capped(draft, plan, by_plan[plan_pk], released[plan_pk], consumed[plan_pk], roles)
        else:
            draft.retainer_rows[plan_pk] = by_plan[plan_pk]


def _grouped_lines(draft, plan, rows, roles) -> list[DraftLine]:
    """Lines per (project, role, rate) for whole entries, each with explicit per-entry links."""
    lines: dict[tuple, DraftLine] = {}
    currency = draft.contract.currency
    for entry_id, project_id, _contract, role_id, hours, rate, day in rows:
        key = (project_id, role_id, rate)
        line = lines.get(key)
        if line is None:
            line = lines[key] = DraftLine(
                description="",
                source_type=SourceType.TIME,
                quantity=ZERO,
                unit_price=rate,
                amount=ZERO,
                plan_id=plan.pk,
                project_id=project_id,
                role_id=role_id,
                first_date=day,
                last_date=day,
            )
        line.quantity += hours
        line.last_date = day
        line.entry_count += 1
        line.entry_ids.append(entry_id)
    for (_, role_id, rate), line in lines.items():
        line.amount = quantize(line.quantity * rate, currency)
        line.description = f"{_role_label(roles, role_id)}: {line.quantity} h at {rate:.2f}"
    return list(lines.values())


def _draft_capped(draft, plan, rows, released_holds, consumed: Decimal, roles) -> None:
    """Bill in date order up to the cap; the entry that crosses it is split, the rest is held.

    Held time a change order released bills first (oldest work first) while it fits whole.
    """
    currency = draft.contract.currency
    remaining = plan.cap_amount - consumed
    if released_holds:
        fits, total, hours = [], ZERO, ZERO
        for hold in released_holds:
            if total + hold.amount <= remaining:
                fits.append(hold)
                total += hold.amount
                hours += hold.hours
            else:
                draft.reheld_ids.append(hold.pk)
        if fits:
            amount = quantize(total, currency)
            draft.lines.append(
                DraftLine(
                    description=f"Time over the earlier cap, released by change order: {hours} h",
                    source_type=SourceType.TIME,
                    quantity=Decimal(1),
                    unit_price=amount,
                    amount=amount,
                    plan_id=plan.pk,
                    project_id=plan.project_id,
                    released_hold_ids=[hold.pk for hold in fits],
                )
            )
            remaining -= amount
    whole, crossing, over = [], None, []
    cumulative = ZERO
    for row in rows:
        value = row[4] * row[5]
        if crossing is None and not over and cumulative + value <= remaining:
            whole.append(row)
            cumulative += value
        elif crossing is None and not over and remaining - cumulative > 0:
            crossing = row
        else:
            over.append(row)
    lines = _grouped_lines(draft, plan, whole, roles)
    draft.lines.extend(lines)
    if crossing is not None:
        entry_id, project_id, _c, role_id, hours, rate, day = crossing
        # What is left of the cap after the whole entries' lines (rounded), so the plan lands on the cap.
        part = remaining - sum((line.amount for line in lines), ZERO)
        value = hours * rate
        part_hours = hours_of(hours * part / value) if value else ZERO
        draft.lines.append(
            DraftLine(
                description=(
                    f"{_role_label(roles, role_id)}: {part_hours} of {hours} h on {day} at {rate:.2f}, "
                    "up to the not-to-exceed cap"
                ),
                source_type=SourceType.TIME,
                quantity=Decimal(1),
                unit_price=part,
                amount=part,
                plan_id=plan.pk,
                project_id=project_id,
                role_id=role_id,
                entry_links=[
                    EntryLink(entry_id=entry_id, plan_id=plan.pk, billed_hours=part_hours, amount=part)
                ],
                first_date=day,
                last_date=day,
            )
        )
        draft.over_cap.append(OverCapSpec(entry_id, plan.pk, hours - part_hours, value - part))
    for entry_id, _p, _c, _r, hours, rate, _d in over:
        draft.over_cap.append(OverCapSpec(entry_id, plan.pk, hours, hours * rate))
    if crossing is not None or over:
        held = sum((spec.amount for spec in draft.over_cap if spec.plan_id == plan.pk), ZERO)
        draft.add_exception(
            ExceptionKind.OVER_CAP,
            f"{plan.description}: {quantize(held, currency)} {currency} of time is over the "
            "not-to-exceed cap "
            f"of {plan.cap_amount:.2f} {currency}; write it off or raise the cap by change order.",
            plan=plan.pk,
            amount=quantize(held, currency),
        )
