"""What billing would invoice for a set of contracts up to a date, computed from the database without
writing anything: the preview shows it, a run writes it (`billing.services.runs`)."""

from datetime import date

from billing.choices import PlanStatus
from billing.models import BillingPlan
from billing.services.drafts.expenses import draft_expenses
from billing.services.drafts.items import draft_items
from billing.services.drafts.retainers import billed_periods, draft_retainer, retainer_state
from billing.services.drafts.time import PlanMap, draft_time
from billing.services.drafts.types import ContractDraft, DraftLine, EntryLink, MovementSpec, OverCapSpec
from crm.models import Contract
from projects.models import Project, Role

__all__ = ["ContractDraft", "DraftLine", "EntryLink", "MovementSpec", "OverCapSpec", "draft_contracts"]


def draft_contracts(contract_ids, period_end: date, *, entry_ids: bool = False) -> dict[int, ContractDraft]:
    """One draft per contract (in id order), lines in a fixed order: scheduled items by date, time by
    project, role and rate, capped and retainer time, expenses by category. Same data, same drafts.
    `entry_ids`: every time line lists the entries it bills (a run writes their links from them)."""
    contracts = Contract.objects.filter(pk__in=list(contract_ids)).select_related("account").order_by("pk")
    drafts = {contract.pk: ContractDraft(contract=contract) for contract in contracts}
    if not drafts:
        return drafts
    plans = PlanMap(BillingPlan.objects.filter(contract_id__in=list(drafts), status=PlanStatus.ACTIVE))
    roles = dict(Role.objects.values_list("id", "name"))
    projects: dict[int, int] = {}
    for contract_id, project_id in (
        Project.objects.filter(contract_id__in=list(drafts)).order_by("id").values_list("contract_id", "id")
    ):
        projects.setdefault(contract_id, project_id)
    draft_items(drafts, plans, period_end, projects)
    draft_time(drafts, plans, period_end, roles, entry_ids=entry_ids)
    retainers = [plan for plan in plans.plans.values() if plan.billing_model == "retainer"]
    if retainers:
        ids = [plan.pk for plan in retainers]
        state, earlier = retainer_state(ids), billed_periods(ids)
        for plan in retainers:
            draft_retainer(
                drafts[plan.contract_id], plan, state[plan.pk], earlier[plan.pk], period_end, roles
            )
    draft_expenses(drafts, plans, period_end)
    for draft in drafts.values():
        contract = draft.contract
        tax_code = contract.tax_code or contract.account.tax_code
        for line in draft.lines:
            line.tax_code = tax_code
            line.project_id = line.project_id or projects.get(contract.pk)
    return drafts
