"""Renewal and expansion triggers: nightly, for contracts nearly consumed or ending soon."""

from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.events import emit
from crm import selectors
from crm.choices import ActivityKind, BillingModel, ContractStatus, TriggerKind
from crm.models import Activity, Contract, Opportunity, OpportunityLine, RenewalTrigger, SalesPolicy
from crm.services.contracts import current_lines
from crm.services.pipeline import _record_stage, stage_named
from crm.services.terms import add_months, line_values, normalise_line, terms_of


def run_renewal_triggers(*, today=None) -> int:
    """Fire the triggers due today for every active contract; returns how many fired. Each trigger fires
    once per contract and kind (a unique row), so running twice, or concurrently, does nothing more."""
    today = today or timezone.localdate()
    policy = SalesPolicy.current()
    horizon = today + timedelta(days=policy.renewal_days_before_end)
    fired = 0
    contracts = Contract.objects.filter(status=ContractStatus.ACTIVE).select_related("account", "opportunity")
    done = set(RenewalTrigger.objects.values_list("contract_id", "kind"))
    for contract in contracts.order_by("id").iterator():
        due = []
        if (
            contract.end <= horizon
            and contract.end >= today
            and (contract.pk, TriggerKind.ENDING) not in done
        ):
            due.append((TriggerKind.ENDING, None))
        if (contract.pk, TriggerKind.CONSUMPTION) not in done:
            consumed = selectors.contract_consumption(contract)
            if consumed["percent"] is not None and consumed["percent"] >= policy.renewal_consumption_percent:
                due.append((TriggerKind.CONSUMPTION, consumed["percent"]))
        for kind, percent in due:
            if fire_renewal_trigger(contract=contract, kind=kind, percent=percent, today=today):
                fired += 1
    return fired


@transaction.atomic
def fire_renewal_trigger(*, contract: Contract, kind: str, percent: Decimal | None, today) -> bool:
    """Record the trigger, give the account owner a follow-up activity and open (once per contract) a
    draft renewal or expansion opportunity pre-filled from the contract. False if it had fired already."""
    try:
        with transaction.atomic():
            trigger = RenewalTrigger.objects.create(contract=contract, kind=kind, consumption_percent=percent)
    except IntegrityError:
        return False
    owner = contract.account.owner or (contract.opportunity.owner if contract.opportunity else None)
    if kind == TriggerKind.ENDING:
        subject = f"Contract {contract.number} ends {contract.end}: agree the renewal"
    else:
        subject = f"Contract {contract.number} is {percent}% consumed: propose an expansion"
    opportunity = _renewal_opportunity(contract=contract, kind=kind, owner=owner, today=today)
    activity = Activity.objects.create(
        account=contract.account,
        contract=contract,
        opportunity=opportunity,
        kind=ActivityKind.TASK,
        subject=subject,
        due=today + timedelta(days=7),
        owner=owner,
    )
    trigger.activity = activity
    trigger.save(update_fields=["activity"])
    audit.record(
        actor=None,
        action="contract.renewal_triggered",
        obj=contract,
        changes={
            "kind": kind,
            "consumption_percent": percent,
            "activity": activity.pk,
            "opportunity": getattr(opportunity, "pk", None),
        },
    )
    emit(
        "contract.renewal_due",
        contract,
        {"kind": kind, "consumption_percent": percent, "opportunity": getattr(opportunity, "pk", None)},
    )
    return True


def _months_between(first: date, later: date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def _shifted(line, months: int) -> dict:
    """The line's terms `months` later: its dates and milestone dates moved, amounts recomputed."""
    spec = terms_of(line) | {"service": line.description}
    spec["start"] = add_months(line.start, months)
    spec["end"] = add_months(line.end + timedelta(days=1), months) - timedelta(days=1)
    spec["milestones"] = [
        milestone | {"due": add_months(date.fromisoformat(milestone["due"]), months).isoformat()}
        for milestone in spec["milestones"]
    ]
    if line.billing_model != BillingModel.FIXED_FEE:
        spec["amount"] = None  # from hours × rate, the milestones or the periods, as sold
    return spec


def _renewal_opportunity(*, contract: Contract, kind: str, owner, today) -> Opportunity | None:
    """The contract's draft renewal (ending) or expansion (consumed) opportunity, pre-filled from its
    current lines moved to the next term (renewal) or to start next month (expansion); created the first
    time any trigger fires for the contract."""
    if Opportunity.objects.filter(renewal_of=contract).exists():
        return None
    ending = kind == TriggerKind.ENDING
    if ending:
        months = _months_between(contract.start, contract.end + timedelta(days=1))
    else:
        months = max(0, _months_between(contract.start, add_months(today.replace(day=1), 1)))
    stage = stage_named(Opportunity.Stage.QUALIFY)
    base = contract.opportunity.name if contract.opportunity else contract.account.name
    opportunity = Opportunity.objects.create(
        account=contract.account,
        name=f"{'Renewal' if ending else 'Expansion'}: {base}",
        stage=stage.code,
        probability=stage.probability,
        currency=contract.currency,
        expected_close=contract.end if ending else today + timedelta(days=30),
        owner=owner,
        source="renewal" if ending else "expansion",
        description=f"Opened by the renewal trigger of contract {contract.number}.",
        renewal_of=contract,
    )
    lines = [normalise_line(_shifted(line, months), contract.currency) for line in current_lines(contract)]
    OpportunityLine.objects.bulk_create(
        [
            OpportunityLine(opportunity=opportunity, service=line["service"], **line_values(line))
            for line in lines
        ]
    )
    opportunity.amount = sum((line["amount"] for line in lines), Decimal(0))
    _record_stage(opportunity, actor=None, from_stage="", reason=f"Renewal trigger of {contract.number}")
    opportunity.save(update_fields=["amount", "stage_changed_at"])
    emit("opportunity.created", opportunity, {"account": contract.account_id, "renewal_of": contract.pk})
    return opportunity
