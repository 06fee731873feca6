"""The win → delivery handoff: one transaction from a won deal to a contract, project, budget, rate card,
milestones and resource requests, carrying exactly the commercial terms sold (no rekeying)."""

import importlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from core.models import Event
from crm.access import require_owner
from crm.choices import PERIODIC_MODELS, BillingModel, QuoteStatus, StageOutcome
from crm.models import Contract, Opportunity, PipelineStage, Quote, StageChange
from crm.selectors import other_model
from crm.services.contracts import _check_lines, create_contract, current_lines
from crm.services.pipeline import _write_lines
from crm.services.terms import normalise_line, periods, terms_of

ZERO = Decimal(0)
PROJECT_SERVICES = ("create_project", "create_rate_card", "create_resource_request", "create_milestone")
PROJECT_MODULES = ("projects", "rates", "people")


def projects_services() -> SimpleNamespace | None:
    """The projects app's services the handoff calls (from `projects.services` or its modules), or None
    while that app does not offer all of them."""
    found = {}
    for module_name in ("projects.services", *(f"projects.services.{name}" for name in PROJECT_MODULES)):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not module_name.startswith(exc.name or "-"):
                raise
            continue
        found |= {name: getattr(module, name) for name in PROJECT_SERVICES if hasattr(module, name)}
    return SimpleNamespace(**found) if len(found) == len(PROJECT_SERVICES) else None


def _manager_of(user):
    """The owner's person record (projects' managers are people), if the owner has one and is active."""
    Person = other_model("projects.Person")
    if user is None or Person is None:
        return None
    return Person.objects.filter(user=user, active=True).first()


@dataclass
class DeliveryPlan:
    """What delivery gets from a contract, derived only from its lines (see `delivery_plan`)."""

    project: dict
    tasks: list[dict]
    rate_card: dict | None
    resource_requests: list[dict] = field(default_factory=list)
    milestones: list[dict] = field(default_factory=list)


def _line_hours(line) -> Decimal:
    """Hours the line plans to deliver: estimated hours, or a retainer's hours per period × periods."""
    if line.billing_model in PERIODIC_MODELS and line.period_hours:
        return line.period_hours * len(periods(line.start, line.end, line.billing_period))
    return line.hours or ZERO


def delivery_plan(contract: Contract, lines=None) -> DeliveryPlan:
    """The project (one per contract), its tasks (a task per phase, a sub-task per line), budgets in hours
    and money, the client's rate card (each time-and-materials role at its sold rate for the line's dates),
    resource requests (per role: hours and dates) and milestones (name, amount, due)."""
    lines = list(lines if lines is not None else current_lines(contract))
    opportunity = contract.opportunity
    owner = opportunity.owner if opportunity else contract.account.owner
    phases: dict[str, list] = {}
    for line in lines:
        phases.setdefault(line.phase_name, []).append(line)
    tasks = [
        {
            "name": phase,
            "billable": True,
            "children": [{"name": line.description, "billable": True} for line in phase_lines]
            if len(phase_lines) > 1 or phase_lines[0].description != phase
            else [],
        }
        for phase, phase_lines in phases.items()
    ]
    rates = [
        {"role": line.role, "rate": line.rate, "valid_from": line.start, "valid_to": line.end}
        for line in lines
        if line.billing_model == BillingModel.TIME_AND_MATERIALS and line.role_id
    ]
    rate_card = None
    if rates:
        rate_card = {
            "name": f"{contract.account.name} · {contract.number}",
            "currency": contract.currency,
            "rates": rates,
        }
    requests = [
        {"role": line.role, "hours": _line_hours(line), "start": line.start, "end": line.end}
        for line in lines
        if line.role_id and _line_hours(line) > 0
    ]
    milestones = [
        {
            "name": milestone["name"],
            "amount": Decimal(milestone["amount"]),
            "due": date.fromisoformat(milestone["due"]),
        }
        for line in lines
        for milestone in (line.milestones or [])
    ]
    return DeliveryPlan(
        project={
            "code": contract.number,
            "name": opportunity.name if opportunity else contract.account.name,
            "account": contract.account,
            "legal_entity": contract.legal_entity,
            "currency": contract.currency,
            "start": contract.start,
            "end": contract.end,
            "manager": _manager_of(owner),
            "contract": contract,
            "budget_hours": sum((_line_hours(line) for line in lines), ZERO),
            "budget_amount": contract.total_amount,
        },
        tasks=tasks,
        rate_card=rate_card,
        resource_requests=requests,
        milestones=milestones,
    )


def handoff_problems(*, opportunity: Opportunity, lines: list[dict], quote: Quote | None) -> dict:
    """Everything downstream needs, checked at once: {field: [problem]} (empty: ready to win)."""
    account = opportunity.account
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if account.status == account.Status.INACTIVE:
        add("account.status", f"{account.name} is inactive; reactivate the client first.")
    if not account.legal_entity_id:
        add("account.legal_entity", f"{account.name} has no legal entity to contract and invoice from.")
    if opportunity.currency != account.currency:
        add(
            "currency",
            f"The deal is in {opportunity.currency} but {account.name} is billed in {account.currency}.",
        )
    from ledger.models import Currency

    if not Currency.objects.filter(code=opportunity.currency, active=True).exists():
        add("currency", f"{opportunity.currency} is not an active currency.")
    if not account.tax_code:
        add("account.tax_code", f"{account.name} has no tax code for its invoices.")
    if not 0 < account.payment_terms_days <= 365:
        add("account.payment_terms_days", f"{account.name} needs payment terms of 1 to 365 days.")
    if not account.billing_email and not (account.billing_contact and account.billing_contact.email):
        add("account.billing_email", f"{account.name} has no billing e-mail to send invoices to.")
    if quote is not None:
        if quote.opportunity_id != opportunity.pk:
            add("quote", "That quote belongs to another opportunity.")
        elif quote.status != QuoteStatus.ACCEPTED:
            add("quote", f"Quote version {quote.version} is {quote.status}; win with an accepted quote.")
    for name, messages in _check_lines(lines, opportunity.currency).items():
        for message in messages:
            add(name, message)
    sold: dict[int, list[tuple[int, dict]]] = {}
    for index, line in enumerate(lines):
        role = line.get("role")
        if line.get("billing_model") == BillingModel.TIME_AND_MATERIALS and role and line.get("rate"):
            sold.setdefault(getattr(role, "pk", role), []).append((index, line))
    for entries in sold.values():
        for position, (index, line) in enumerate(entries):
            for other_index, other in entries[:position]:
                overlap = line["start"] and other["start"] and line["start"] <= other["end"]
                if (
                    overlap
                    and other["end"]
                    and line["end"] >= other["start"]
                    and line["rate"] != other["rate"]
                ):
                    add(
                        f"lines.{index}.rate",
                        f"{line.get('service') or 'The line'} sells the same role as line {other_index + 1} "
                        "at another rate for overlapping dates; the client's rate card holds one rate.",
                    )
    return problems


def _source_lines(opportunity: Opportunity, quote: Quote | None) -> list[dict]:
    source = quote.lines.all() if quote is not None else opportunity.lines.all()
    return [
        normalise_line(
            terms_of(line) | {"service": line.service, "description": line.service}, opportunity.currency
        )
        for line in source
    ]


def win_opportunity(*, actor, opportunity: Opportunity, quote: Quote | None = None, lines=None) -> Contract:
    """Win the deal and hand it to delivery and finance in one transaction.

    Sells the accepted quote (`quote`, or the opportunity's accepted one), else `lines` (which replace the
    opportunity's lines), else the opportunity's lines. Refuses with every problem at once (400
    `handoff_invalid`) and creates nothing then, except an audit row `opportunity.handoff_refused` with the
    problems, written after the rollback so flow health can count refused handoffs. Winning a won
    opportunity returns its contract; the row lock and the one-contract-per-opportunity constraint make a
    concurrent double win create one.
    """
    try:
        return _win(actor=actor, opportunity=opportunity, quote=quote, lines=lines)
    except ValidationFailed as refusal:
        if refusal.code == "handoff_invalid":
            audit.record(
                actor=actor,
                action="opportunity.handoff_refused",
                obj=opportunity,
                changes={"problems": refusal.fields},
                reason=refusal.detail,
            )
        raise


@transaction.atomic
def _win(*, actor, opportunity: Opportunity, quote: Quote | None, lines) -> Contract:
    opportunity = (
        Opportunity.objects.select_for_update(of=("self",)).select_related("account").get(pk=opportunity.pk)
    )
    existing = Contract.objects.filter(opportunity=opportunity).first()
    if existing is not None:
        return existing
    require_owner(actor, opportunity.owner_id, "opportunity")
    if not opportunity.is_open:
        raise InvalidTransition(f"“{opportunity}” is {opportunity.stage}; a lost deal cannot be won.")
    if lines is not None:
        _write_lines(opportunity, list(lines))
        opportunity.save(update_fields=["amount"])
    if quote is None and lines is None:
        quote = opportunity.quotes.filter(status=QuoteStatus.ACCEPTED).first()
    specs = _source_lines(opportunity, quote)
    problems = handoff_problems(opportunity=opportunity, lines=specs, quote=quote)
    if problems:
        count = sum(len(messages) for messages in problems.values())
        raise ValidationFailed(
            f"The opportunity cannot be won yet: {count} problem{'s' if count != 1 else ''} to fix first.",
            code="handoff_invalid",
            fields=problems,
        )
    try:
        with transaction.atomic():
            contract = create_contract(
                actor=actor,
                account=opportunity.account,
                currency=opportunity.currency,
                lines=specs,
                opportunity=opportunity,
                quote=quote,
            )
    except IntegrityError:
        # A concurrent win committed first (only possible without the row lock, e.g. another database).
        return Contract.objects.get(opportunity=opportunity)
    won = PipelineStage.objects.get(outcome=StageOutcome.WON)
    previous = opportunity.stage
    opportunity.stage, opportunity.probability = won.code, won.probability
    opportunity.amount = contract.total_amount
    opportunity.closed_at = opportunity.stage_changed_at = timezone.now()
    opportunity.save(update_fields=["stage", "probability", "amount", "closed_at", "stage_changed_at"])
    StageChange.objects.create(
        opportunity=opportunity,
        from_stage=previous,
        to_stage=won.code,
        probability=won.probability,
        changed_at=opportunity.closed_at,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        reason=f"Won: contract {contract.number}",
    )
    projects = _deliver(actor=actor, contract=contract)
    # Billing plans: the billing app creates one per contract line from `ContractLine.schedule` (T&M rates
    # and cap, fixed-fee instalments, milestones, retainer and subscription periods) when it receives
    # `contract.created`; revenue recognition creates its obligations from `revenue_method` the same way.
    audit.record(
        actor=actor,
        action="opportunity.won",
        obj=opportunity,
        changes={
            "stage": [previous, won.code],
            "contract": contract.number,
            "projects": [project.pk for project in projects],
        },
    )
    emit(
        "opportunity.won",
        opportunity,
        {
            "contract": contract.pk,
            "contract_number": contract.number,
            "amount": contract.total_amount,
            "currency": contract.currency,
            "projects": [project.pk for project in projects],
        },
        actor=actor,
    )
    return contract


def _deliver(*, actor, contract: Contract) -> list:
    """Create the contract's project with its tasks and budgets, the client's rate card, milestones and
    resource requests through the projects app's services. Without them (the projects app not installed
    yet) the contract stands alone and the trace says delivery has not started."""
    services = projects_services()
    if services is None:
        return []
    plan = delivery_plan(contract)
    if plan.rate_card is not None:
        card = services.create_rate_card(
            actor=actor, account=contract.account, contract=contract, **plan.rate_card
        )
        contract.rate_card_id = card.pk
        contract.save(update_fields=["rate_card_id"])
        current_lines(contract).filter(billing_model=BillingModel.TIME_AND_MATERIALS).update(
            rate_card_id=card.pk
        )
    project = services.create_project(actor=actor, tasks=plan.tasks, **plan.project)
    for request in plan.resource_requests:
        services.create_resource_request(actor=actor, project=project, **request)
    for milestone in plan.milestones:
        services.create_milestone(actor=actor, project=project, **milestone)
    already = Event.objects.filter(
        type="project.created", subject_type=project._meta.label_lower, subject_id=str(project.pk)
    ).exists()
    if not already:
        emit(
            "project.created",
            project,
            {"contract": contract.pk, "account": contract.account_id, "code": plan.project["code"]},
            actor=actor,
        )
    return [project]
