"""Quotes: priced versions of an opportunity, the approval rule, and the client's acceptance."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit
from core.money import quantize
from core.roles import Role, has_role
from crm import selectors
from crm.access import require_owner
from crm.choices import PERIODIC_MODELS, BillingModel, QuoteStatus
from crm.models import Opportunity, Quote, QuoteLine, SalesPolicy
from crm.services.terms import line_problems, line_values, normalise_line, periods, terms_of

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def _pct(value) -> str:
    """A percentage for people: 30, 28.57, 12.5."""
    return format(Decimal(value).normalize(), "f")


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (part * HUNDRED / whole).quantize(Decimal("0.01"))


def price_lines(*, lines: list[dict], currency: str, discount_percent: Decimal, on) -> list[dict]:
    """Price each line: a role's rate from the standard rate card (an explicit rate wins), list amount =
    hours × rate (or the fee), less the line's discount (default: the quote's); cost = hours × the average
    current cost rate of the people in the role."""
    role_ids = {line.get("role") for line in lines if line.get("role")}
    role_ids = {getattr(role, "pk", role) for role in role_ids}
    card = selectors.standard_rates(role_ids=role_ids, currency=currency, on=on)
    costs = selectors.average_cost_rates(role_ids=role_ids, currency=currency, on=on)
    priced = []
    for spec in lines:
        spec = dict(spec)
        role_id = getattr(spec.get("role"), "pk", spec.get("role"))
        if role_id and not spec.get("rate") and role_id in card:
            spec["rate"] = card[role_id]
        if spec.get("billing_model") == BillingModel.TIME_AND_MATERIALS:
            spec["amount"] = None  # always hours × rate
        line = normalise_line(spec, currency)
        explicit = spec.get("discount_percent")
        if line["milestones"]:
            # Milestones are priced one by one; a quote-wide percentage does not reach them.
            if explicit:
                raise ValidationFailed(
                    "Discount a milestone line by pricing its milestones, not with a percentage.",
                    fields={"discount_percent": ["Not for lines with milestones."]},
                )
            explicit = 0
        discount = Decimal(str(explicit if explicit is not None else discount_percent))
        if not ZERO <= discount <= HUNDRED:
            raise ValidationFailed("A discount is 0 to 100 percent.", fields={"discount_percent": ["0–100."]})
        line["list_amount"] = line["amount"]
        line["discount_percent"] = discount
        if discount:
            line = _discounted(line, discount, currency)
        cost_rate = costs.get(role_id) if role_id else None
        line["role_id"] = role_id
        line["cost_rate"] = cost_rate
        line["cost_amount"] = quantize(line["hours"] * cost_rate, currency) if cost_rate is not None else None
        priced.append(line)
    return priced


def _discounted(line: dict, discount: Decimal, currency: str) -> dict:
    """The line at its sold price: the discount lowers what billing will charge (the rate of time and
    materials, the fee per period), so the contract carries the discounted terms."""
    keep = (HUNDRED - discount) / HUNDRED
    model = line["billing_model"]
    if model == BillingModel.TIME_AND_MATERIALS:
        line["rate"] = (line["rate"] * keep).quantize(Decimal("0.0001"))
        line["amount"] = quantize(line["hours"] * line["rate"], currency)
    elif model in PERIODIC_MODELS and line.get("period_amount"):
        line["period_amount"] = quantize(line["period_amount"] * keep, currency)
        count = len(periods(line["start"], line["end"], line["billing_period"])) if line["start"] else 0
        line["amount"] = quantize(line["period_amount"] * count, currency)
    else:
        line["amount"] = quantize(line["amount"] * keep, currency)
    return line


def approval_reasons(*, lines: list[dict], total: Decimal, cost: Decimal | None, policy: SalesPolicy, roles):
    """Why a quote needs approval under `policy` (empty: it may be accepted once submitted)."""
    reasons = []
    for line in lines:
        if line["discount_percent"] > policy.max_discount_percent:
            reasons.append(
                f"{line['service']} is discounted {_pct(line['discount_percent'])}%, more than the "
                f"{_pct(policy.max_discount_percent)}% allowed without approval."
            )
        if line["role_id"] and line["hours"] and line["cost_rate"] is None:
            reasons.append(
                f"No cost rate is known for {roles.get(line['role_id'], 'the role')}: the margin of "
                f"{line['service']} cannot be checked."
            )
    if cost is not None and total > 0:
        margin = _percent(total - cost, total)
        if margin < policy.margin_target_percent:
            reasons.append(
                f"The margin is {_pct(margin)}%, under the {_pct(policy.margin_target_percent)}% target."
            )
    elif cost is not None and total <= 0 < cost:
        reasons.append("The quote costs more than it earns.")
    return reasons


@transaction.atomic
def create_quote(
    *,
    actor,
    opportunity: Opportunity,
    lines: list[dict] | None = None,
    discount_percent: Decimal = ZERO,
    valid_until=None,
    notes: str = "",
    today=None,
) -> Quote:
    """Quote the next version for an open opportunity, from `lines` or the opportunity's own lines.

    Older versions still in draft, submitted or approved are expired: one version is on the table.
    """
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    require_owner(actor, opportunity.owner_id, "opportunity")
    if not opportunity.is_open:
        raise InvalidTransition(f"“{opportunity}” is {opportunity.stage}; quote an open opportunity.")
    today = today or timezone.localdate()
    specs = (
        lines
        if lines is not None
        else [terms_of(line) | {"service": line.service} for line in opportunity.lines.all()]
    )
    if not specs:
        raise ValidationFailed(
            "Add the services to quote: the opportunity has no lines.", fields={"lines": ["No lines."]}
        )
    currency = opportunity.currency
    priced = price_lines(lines=specs, currency=currency, discount_percent=Decimal(discount_percent), on=today)
    problems = {}
    for index, line in enumerate(priced):
        if not (line.get("service") or "").strip():
            problems[f"lines.{index}.service"] = ["Name the service."]
        problems |= line_problems(line, currency, f"lines.{index}")
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    policy = SalesPolicy.current()
    total = sum((line["amount"] for line in priced), ZERO)
    list_total = sum((line["list_amount"] for line in priced), ZERO)
    known_costs = [line["cost_amount"] for line in priced if line["cost_amount"] is not None]
    missing_cost = any(line["role_id"] and line["hours"] and line["cost_rate"] is None for line in priced)
    cost = None if missing_cost else sum(known_costs, ZERO)
    roles = selectors.role_names({line["role_id"] for line in priced if line["role_id"]})
    reasons = approval_reasons(lines=priced, total=total, cost=cost, policy=policy, roles=roles)
    version = (opportunity.quotes.aggregate(v=Max("version"))["v"] or 0) + 1
    superseded = list(
        opportunity.quotes.filter(
            status__in=[QuoteStatus.DRAFT, QuoteStatus.SUBMITTED, QuoteStatus.APPROVED]
        ).values_list("pk", flat=True)
    )
    opportunity.quotes.filter(pk__in=superseded).update(
        status=QuoteStatus.EXPIRED, decision_reason=f"Superseded by version {version}."
    )
    quote = Quote.objects.create(
        opportunity=opportunity,
        version=version,
        currency=currency,
        valid_until=valid_until or today + timedelta(days=policy.quote_valid_days),
        list_amount=list_total,
        discount_amount=list_total - total,
        total_amount=total,
        cost_amount=cost,
        margin_percent=_percent(total - cost, total) if cost is not None and total > 0 else None,
        approval_reasons=reasons,
        notes=notes,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    QuoteLine.objects.bulk_create(
        [
            QuoteLine(
                quote=quote,
                service=line["service"].strip(),
                list_amount=line["list_amount"],
                discount_percent=line["discount_percent"],
                cost_rate=line["cost_rate"],
                cost_amount=line["cost_amount"],
                **line_values(line),
            )
            for line in priced
        ]
    )
    audit.record(
        actor=actor,
        action="quote.created",
        obj=quote,
        changes={
            "version": version,
            "total": total,
            "margin_percent": quote.margin_percent,
            "approval_reasons": reasons,
            "superseded": superseded,
        },
    )
    return quote


def _lock(quote: Quote) -> Quote:
    return Quote.objects.select_for_update(of=("self",)).select_related("opportunity").get(pk=quote.pk)


def _transition(quote: Quote, *, actor, action: str, to: str, reason: str = "", **stamps) -> Quote:
    previous = quote.status
    quote.status = to
    for name, value in stamps.items():
        setattr(quote, name, value)
    if reason:
        quote.decision_reason = reason
    quote.save()
    audit.record(actor=actor, action=action, obj=quote, changes={"status": [previous, to]}, reason=reason)
    emit(action, quote, {"opportunity": quote.opportunity_id, "version": quote.version}, actor=actor)
    return quote


def _check_current(quote: Quote, today) -> None:
    if quote.valid_until < today:
        raise InvalidTransition(f"Quote version {quote.version} expired on {quote.valid_until}; quote again.")


@transaction.atomic
def submit_quote(*, actor, quote: Quote, today=None) -> Quote:
    """Submit a draft: it is approved at once when within the policy, else it waits for the approver."""
    quote = _lock(quote)
    require_owner(actor, quote.opportunity.owner_id, "opportunity")
    if quote.status != QuoteStatus.DRAFT:
        raise InvalidTransition(f"Only a draft quote can be submitted; this one is {quote.status}.")
    _check_current(quote, today or timezone.localdate())
    user = actor if getattr(actor, "is_authenticated", False) else None
    now = timezone.now()
    if quote.needs_approval:
        return _transition(
            quote,
            actor=actor,
            action="quote.submitted",
            to=QuoteStatus.SUBMITTED,
            submitted_at=now,
            submitted_by=user,
        )
    quote = _transition(
        quote,
        actor=actor,
        action="quote.submitted",
        to=QuoteStatus.SUBMITTED,
        submitted_at=now,
        submitted_by=user,
    )
    return _transition(
        quote,
        actor=actor,
        action="quote.approved",
        to=QuoteStatus.APPROVED,
        approved_at=now,
        reason="Within the sales policy: no approval needed.",
    )


def _require_approver(actor, quote: Quote) -> None:
    policy = SalesPolicy.current()
    if actor is not None and not has_role(actor, policy.approver_role):
        raise PermissionDenied(
            f"Quotes needing approval are approved by the {Role(policy.approver_role).label} role."
        )
    if actor is not None and quote.submitted_by_id == actor.pk and not has_role(actor, Role.ADMIN):
        raise PermissionDenied("Someone other than the submitter approves a quote.")


@transaction.atomic
def approve_quote(*, actor, quote: Quote, reason: str = "") -> Quote:
    """The policy's approver accepts the quote's risk (low margin, deep discount)."""
    quote = _lock(quote)
    _require_approver(actor, quote)
    if quote.status != QuoteStatus.SUBMITTED:
        raise InvalidTransition(f"Only a submitted quote can be approved; this one is {quote.status}.")
    return _transition(
        quote,
        actor=actor,
        action="quote.approved",
        to=QuoteStatus.APPROVED,
        approved_at=timezone.now(),
        approved_by=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
    )


@transaction.atomic
def reject_quote(*, actor, quote: Quote, reason: str) -> Quote:
    """The approver refuses a submitted quote, or the client declines an approved one."""
    quote = _lock(quote)
    if quote.status == QuoteStatus.SUBMITTED:
        _require_approver(actor, quote)
    elif quote.status == QuoteStatus.APPROVED:
        require_owner(actor, quote.opportunity.owner_id, "opportunity")
    else:
        raise InvalidTransition(f"A {quote.status} quote cannot be rejected.")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the quote is rejected.", fields={"reason": ["Required."]})
    return _transition(quote, actor=actor, action="quote.rejected", to=QuoteStatus.REJECTED, reason=reason)


@transaction.atomic
def accept_quote(*, actor, quote: Quote, today=None) -> Quote:
    """Record that the client accepted an approved quote; the win then contracts exactly these lines."""
    quote = _lock(quote)
    require_owner(actor, quote.opportunity.owner_id, "opportunity")
    if quote.status != QuoteStatus.APPROVED:
        waiting = " It is waiting for approval." if quote.status == QuoteStatus.SUBMITTED else ""
        raise InvalidTransition(
            f"Only an approved quote can be accepted; this one is {quote.status}.{waiting}"
        )
    _check_current(quote, today or timezone.localdate())
    if not quote.opportunity.is_open:
        raise InvalidTransition("The opportunity is closed.")
    return _transition(
        quote, actor=actor, action="quote.accepted", to=QuoteStatus.ACCEPTED, accepted_at=timezone.now()
    )
