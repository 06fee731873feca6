"""What billing has not taken by a month end, per project and reason, for the month-end close checklist.

Reads billing's own definitions of unbilled work (`billing.reports.wip`) and its over-cap holds.
"""

from decimal import Decimal

from django.db.models import Case, CharField, Count, Exists, OuterRef, Sum, Value, When

ZERO = Decimal(0)
TIME_MODELS = ("time_and_materials", "retainer")


def unbilled_by_reason(period) -> list[dict]:
    """Approved billable work up to the month end that no invoice has taken, per project and reason."""
    from billing.choices import HoldStatus, PlanStatus
    from billing.models import BillingPlan, OverCapEntry
    from billing.reports.wip import unbilled_expenses, unbilled_time
    from projects.choices import EntryStatus
    from projects.models import TimeEntry

    entity = period.legal_entity
    plans = BillingPlan.objects.filter(contract_id=OuterRef("project__contract_id"), status=PlanStatus.ACTIVE)
    reason = Case(
        When(project__contract__isnull=True, then=Value("no_contract")),
        When(~Exists(plans.filter(billing_model__in=TIME_MODELS)), then=Value("no_plan")),
        default=Value("awaiting_run"),
        output_field=CharField(),
    )
    expense_reason = Case(
        When(project__contract__isnull=True, then=Value("no_contract")),
        When(~Exists(plans), then=Value("no_plan")),
        default=Value("awaiting_run"),
        output_field=CharField(),
    )
    keys = ("project_id", "project__code", "project__name", "reason")
    rows: dict[tuple, dict] = {}

    def row(group: dict) -> dict:
        key = tuple(group[name] for name in keys)
        return rows.setdefault(
            key,
            {"project": group["project_id"], "code": group["project__code"], "name": group["project__name"],
             "reason": group["reason"], "time_entries": 0, "hours": ZERO, "expenses": 0},
        )  # fmt: skip

    for group in (
        unbilled_time(entity)
        .filter(date__lte=period.end)
        .annotate(reason=reason)
        .values(*keys)
        .annotate(count=Count("pk"), hours=Sum("hours"))
        .order_by()
    ):
        target = row(group)
        target["time_entries"] += group["count"]
        target["hours"] += group["hours"] or ZERO
    held = (
        TimeEntry.objects.filter(
            project__legal_entity=entity, date__lte=period.end, status=EntryStatus.APPROVED
        )
        .filter(
            Exists(
                OverCapEntry.objects.filter(
                    time_entry_id=OuterRef("pk"), status__in=(HoldStatus.HELD, HoldStatus.RELEASED)
                )
            )
        )
        .annotate(
            reason=Case(
                When(over_cap__status=HoldStatus.RELEASED, then=Value("cap_raised")),
                default=Value("over_cap"),
                output_field=CharField(),
            )
        )
        .values(*keys)
        .annotate(count=Count("pk"), hours=Sum("hours"))
        .order_by()
    )
    for group in held:
        target = row(group)
        target["time_entries"] += group["count"]
        target["hours"] += group["hours"] or ZERO
    for group in (
        unbilled_expenses(entity)
        .filter(date__lte=period.end)
        .annotate(reason=expense_reason)
        .values(*keys)
        .annotate(count=Count("pk"))
        .order_by()
    ):
        row(group)["expenses"] += group["count"]
    return sorted(rows.values(), key=lambda r: (r["code"], r["reason"]))


UNBILLED_REASONS = {
    "over_cap": "over its contract's cap, held for a write-off or a change order",
    "cap_raised": "was over the cap; the cap is raised and the next run bills it",
    "no_plan": "its contract has no billing plan for it",
    "no_contract": "its project has no contract",
    "awaiting_run": "not billed yet (approved after the last run, or outside its scope)",
}
