"""Scheduled items that are due: instalments and subscription or retainer periods from their date,
milestones once the client accepted them."""

from datetime import date

from django.utils import timezone

from billing.choices import ITEM_SOURCE, ItemKind
from billing.models import PlanItem
from billing.services.drafts.types import DraftLine
from projects.choices import MilestoneStatus
from projects.models import Milestone


def accepted_milestones(contract_ids, period_end: date) -> dict[tuple[int, str], int]:
    """(contract id, milestone name) → milestone id, for milestones accepted by `period_end`."""
    found = {}
    for pk, contract_id, name, accepted_at in Milestone.objects.filter(
        project__contract_id__in=contract_ids, status=MilestoneStatus.ACCEPTED
    ).values_list("id", "project__contract_id", "name", "accepted_at"):
        if accepted_at is None or timezone.localdate(accepted_at) <= period_end:
            found.setdefault((contract_id, name), pk)
    return found


def draft_items(drafts: dict, plans, period_end: date, projects: dict[int, int]) -> None:
    accepted = accepted_milestones(list(drafts), period_end)
    items = (
        PlanItem.objects.filter(plan_id__in=list(plans.plans), invoice_line__isnull=True, cancelled=False)
        .order_by("plan__contract_id", "date", "plan_id", "key")
        .select_related("plan")
    )
    for item in items:
        plan = item.plan
        draft = drafts[plan.contract_id]
        if item.kind == ItemKind.MILESTONE:
            name = item.key.removeprefix("milestone:")
            if (plan.contract_id, name) not in accepted:
                continue
        elif item.date > period_end:
            continue
        draft.lines.append(
            DraftLine(
                description=item.description,
                source_type=ITEM_SOURCE[item.kind],
                quantity=item.hours if item.kind == ItemKind.RETAINER_FEE and item.hours else 1,
                unit_price=item.amount / item.hours
                if item.kind == ItemKind.RETAINER_FEE and item.hours
                else item.amount,
                amount=item.amount,
                plan_id=plan.pk,
                project_id=plan.project_id or projects.get(plan.contract_id),
                period_start=item.period_start,
                period_end=item.period_end,
                item_ids=[item.pk],
                first_date=item.date,
                last_date=item.date,
            )
        )
        if item.kind == ItemKind.RETAINER_FEE:
            draft.fees.setdefault(plan.pk, []).append(item)
