"""Opportunities: creating them with their lines, moving them through the stages, losing them."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from crm.access import require_owner, require_writer
from crm.choices import StageOutcome
from crm.models import Account, Opportunity, OpportunityLine, PipelineStage, StageChange
from crm.services.terms import line_problems, line_values, normalise_line

ZERO = Decimal(0)
OPPORTUNITY_FIELDS = ("name", "expected_close", "owner", "probability", "source", "description", "amount")


def stage_named(code: str) -> PipelineStage:
    stage = PipelineStage.objects.filter(code=code, active=True).first()
    if stage is None:
        known = ", ".join(PipelineStage.objects.filter(active=True).values_list("code", flat=True))
        raise ValidationFailed(f"There is no stage '{code}'.", fields={"stage": [f"Choose one of: {known}."]})
    return stage


def _lock(opportunity: Opportunity) -> Opportunity:
    return (
        Opportunity.objects.select_for_update(of=("self",)).select_related("account").get(pk=opportunity.pk)
    )


def _record_stage(opportunity: Opportunity, *, actor, from_stage: str, reason: str = "") -> None:
    now = timezone.now()
    opportunity.stage_changed_at = now
    StageChange.objects.create(
        opportunity=opportunity,
        from_stage=from_stage,
        to_stage=opportunity.stage,
        probability=opportunity.probability,
        changed_at=now,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
    )


def _write_lines(opportunity: Opportunity, lines: list[dict]) -> None:
    """Replace the opportunity's lines by `lines` (normalised); its amount becomes their total."""
    currency = opportunity.currency
    normalised = [normalise_line(spec, currency) for spec in lines]
    problems = {}
    for index, line in enumerate(normalised):
        if not (line.get("service") or "").strip():
            problems[f"lines.{index}.service"] = ["Name the service sold."]
        for field, messages in line_problems(line, currency, f"lines.{index}").items():
            # While a deal is open its lines may be incomplete; the handoff demands the rest.
            if field.endswith((".billing_model", ".end", ".start")) or ".milestones." in field:
                problems[field] = messages
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    opportunity.lines.all().delete()
    OpportunityLine.objects.bulk_create(
        [
            OpportunityLine(opportunity=opportunity, service=line["service"].strip(), **line_values(line))
            for line in normalised
        ]
    )
    if normalised:
        opportunity.amount = sum((line["amount"] for line in normalised), ZERO)


@transaction.atomic
def create_opportunity(
    *,
    actor,
    account: Account,
    name: str,
    expected_close,
    currency: str | None = None,
    owner=None,
    stage: str = Opportunity.Stage.QUALIFY,
    probability: int | None = None,
    amount: Decimal = ZERO,
    source: str = "",
    description: str = "",
    lines: list[dict] = (),
) -> Opportunity:
    """Open a deal for a client in an open stage; its amount is its lines' total when it has lines."""
    require_writer(actor)
    entry = stage_named(stage)
    if entry.outcome != StageOutcome.OPEN:
        raise ValidationFailed(
            "A new opportunity starts in an open stage; win or lose it afterwards.",
            fields={"stage": ["Choose an open stage."]},
        )
    if not name.strip():
        raise ValidationFailed("The opportunity needs a name.", fields={"name": ["Required."]})
    if owner is None and getattr(actor, "is_authenticated", False):
        owner = actor
    opportunity = Opportunity.objects.create(
        account=account,
        name=name.strip(),
        stage=entry.code,
        probability=entry.probability if probability is None else probability,
        amount=amount,
        currency=currency or account.currency,
        expected_close=expected_close,
        owner=owner,
        source=source,
        description=description,
    )
    if lines:
        _write_lines(opportunity, list(lines))
        opportunity.save(update_fields=["amount"])
    _record_stage(opportunity, actor=actor, from_stage="")
    opportunity.save(update_fields=["stage_changed_at"])
    audit.record(
        actor=actor,
        action="opportunity.created",
        obj=opportunity,
        changes={"account": account.pk, "stage": opportunity.stage, "amount": opportunity.amount},
    )
    emit("opportunity.created", opportunity, {"account": account.pk, "stage": opportunity.stage}, actor=actor)
    return opportunity


@transaction.atomic
def update_opportunity(*, actor, opportunity: Opportunity, lines: list[dict] | None = None, **changes):
    """Change an open deal's details, or replace its lines (`lines`); a closed deal is final."""
    opportunity = _lock(opportunity)
    require_owner(actor, opportunity.owner_id, "opportunity")
    if not opportunity.is_open:
        raise InvalidTransition(f"“{opportunity}” is {opportunity.stage}; a closed deal cannot change.")
    unknown = set(changes) - set(OPPORTUNITY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown opportunity fields: {sorted(unknown)}")
    probability = changes.get("probability")
    if probability is not None and not 0 <= probability <= 100:
        raise ValidationFailed("Probability is 0 to 100.", fields={"probability": ["0–100."]})
    before = {name: getattr(opportunity, name) for name in changes} | {"amount": opportunity.amount}
    for name, value in changes.items():
        setattr(opportunity, name, value)
    if lines is not None:
        _write_lines(opportunity, lines)
    opportunity.save()
    after = {name: getattr(opportunity, name) for name in before}
    if lines is not None:
        after["lines"] = len(lines)
    audit.record(
        actor=actor, action="opportunity.updated", obj=opportunity, changes=audit.diff(before, after)
    )
    return opportunity


@transaction.atomic
def move_opportunity(
    *, actor, opportunity: Opportunity, stage: str, reason: str = "", probability: int | None = None
) -> Opportunity:
    """Move an open deal to another stage; it takes the stage's probability. Won goes through
    `win_opportunity` (the handoff); lost needs a reason."""
    opportunity = _lock(opportunity)
    require_owner(actor, opportunity.owner_id, "opportunity")
    if not opportunity.is_open:
        raise InvalidTransition(
            f"“{opportunity}” is {opportunity.stage} and cannot move; open a new opportunity instead."
        )
    target = stage_named(stage)
    if target.outcome == StageOutcome.WON:
        raise InvalidTransition(
            "Win the opportunity with the win action: it creates the contract and project."
        )
    if target.outcome == StageOutcome.LOST:
        return lose_opportunity(actor=actor, opportunity=opportunity, reason=reason)
    if target.code == opportunity.stage:
        return opportunity
    previous = opportunity.stage
    opportunity.stage = target.code
    opportunity.probability = target.probability if probability is None else probability
    _record_stage(opportunity, actor=actor, from_stage=previous, reason=reason)
    opportunity.save(update_fields=["stage", "probability", "stage_changed_at"])
    audit.record(
        actor=actor,
        action="opportunity.moved",
        obj=opportunity,
        changes={"stage": [previous, target.code], "probability": opportunity.probability},
        reason=reason,
    )
    emit("opportunity.stage_changed", opportunity, {"from": previous, "to": target.code}, actor=actor)
    return opportunity


@transaction.atomic
def lose_opportunity(*, actor, opportunity: Opportunity, reason: str) -> Opportunity:
    """Close an open deal as lost, with the reason (for win/loss analysis)."""
    opportunity = _lock(opportunity)
    require_owner(actor, opportunity.owner_id, "opportunity")
    if not opportunity.is_open:
        raise InvalidTransition(f"“{opportunity}” is already {opportunity.stage}.")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the deal was lost.", fields={"reason": ["A reason is required."]})
    lost = PipelineStage.objects.get(outcome=StageOutcome.LOST)
    previous = opportunity.stage
    opportunity.stage = lost.code
    opportunity.probability = lost.probability
    opportunity.lost_reason = reason.strip()
    opportunity.closed_at = timezone.now()
    _record_stage(opportunity, actor=actor, from_stage=previous, reason=opportunity.lost_reason)
    opportunity.save(update_fields=["stage", "probability", "lost_reason", "closed_at", "stage_changed_at"])
    audit.record(
        actor=actor,
        action="opportunity.lost",
        obj=opportunity,
        changes={"stage": [previous, lost.code]},
        reason=opportunity.lost_reason,
    )
    emit("opportunity.lost", opportunity, {"from": previous, "reason": opportunity.lost_reason}, actor=actor)
    return opportunity
