"""Dunning policies: ordered reminder levels, validated as a whole, and which policy a client follows."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.template import TemplateSyntaxError

from core import audit
from core.errors import Conflict, ValidationFailed
from core.money import format_money, minor_unit_exponent, quantize
from core.roles import Role, require_role
from crm.models import Account
from ledger.models import Currency, DunningLevel, DunningPolicy, LegalEntity
from ledger.services.dunning._common import ZERO
from ledger.services.dunning.templates import render_template

# What a level holds besides its number; `update_dunning_policy` writes these when levels are replaced.
LEVEL_FIELDS = (
    "days_overdue",
    "fee_amount",
    "annual_interest_percent",
    "subject_template",
    "body_template",
    "escalate_to_owner",
)


class InvalidDunningPolicy(ValidationFailed):
    code = "invalid_dunning_policy"


class DunningCurrencyMismatch(ValidationFailed):
    code = "dunning_currency_mismatch"


class DunningPolicyInUse(Conflict):
    code = "dunning_policy_in_use"


@dataclass(frozen=True)
class LevelSpec:
    """One level of a policy as given by the caller; `create/update_dunning_policy` validate it."""

    level: int
    days_overdue: int
    subject_template: str
    body_template: str
    fee_amount: Decimal = ZERO
    annual_interest_percent: Decimal | None = None
    escalate_to_owner: bool = False


def _sample_context(currency: str) -> dict:
    """What a template is test-rendered with when a policy is saved."""
    amount = partial(format_money, currency=currency)
    return {
        "client": {"name": "Example client"},
        "legal_entity": {"name": "Example entity", "address": ""},
        "level": 1,
        "as_of": date(2026, 1, 31),
        "currency": currency,
        "items": [
            {
                "number": "INV-1",
                "due_date": date(2026, 1, 1),
                "days_overdue": 30,
                "open_amount": amount(Decimal(100)),
                "interest": amount(ZERO),
            }
        ],
        "total_open": amount(Decimal(100)),
        "interest": amount(ZERO),
        "fee": amount(ZERO),
        "charges": amount(ZERO),
        "total_due": amount(Decimal(100)),
        "payment_instructions": "",
    }


def _check_policy(
    *,
    legal_entity: LegalEntity,
    name: str,
    fee_currency: str,
    is_default: bool,
    active: bool,
    levels: Sequence[LevelSpec],
    exclude_pk: int | None = None,
) -> None:
    """Refuse an invalid policy with every problem at once.

    `fields.levels` maps the (0-based) position of each level with problems to its field errors, the
    shape DRF gives nested list errors, so a bad body and a bad rule read the same.
    """
    fields: dict = {}
    if not name.strip():
        fields["name"] = ["This field is required."]
    elif (
        DunningPolicy.objects.filter(legal_entity=legal_entity, name__iexact=name.strip())
        .exclude(pk=exclude_pk)
        .exists()
    ):
        fields["name"] = [f"{legal_entity} already has a dunning policy named '{name.strip()}'."]
    currency_ok = Currency.objects.filter(code=fee_currency, active=True).exists()
    if not currency_ok:
        fields["fee_currency"] = [f"'{fee_currency}' is not an active currency."]
    if is_default and not active:
        fields["is_default"] = ["An inactive policy cannot be the default."]
    level_errors = _check_levels(levels, fee_currency if currency_ok else None)
    if not levels:
        fields["levels"] = ["A policy needs at least one level."]
    elif level_errors:
        fields["levels"] = level_errors
    if fields:
        raise InvalidDunningPolicy(f"The dunning policy is invalid: {_first_problem(fields)}", fields=fields)


def _first_problem(fields: dict) -> str:
    """The first message, for the error's sentence: "level 2, days_overdue: Must be more than …"."""
    key, value = next(iter(fields.items()))
    if key == "levels" and isinstance(value, dict):
        index, errors = next(iter(value.items()))
        field, messages = next(iter(errors.items()))
        return f"level {index + 1}, {field}: {messages[0]}"
    return f"{key}: {value[0]}"


def _check_levels(levels: Sequence[LevelSpec], currency: str | None) -> dict[int, dict]:
    errors: dict[int, dict] = {}
    previous_days = 0
    for index, spec in enumerate(levels):
        problems: dict[str, list[str]] = {}
        if spec.level != index + 1:
            problems["level"] = [
                f"Levels are numbered 1, 2, 3… by days overdue: expected {index + 1}, not {spec.level}."
            ]
        if spec.days_overdue < 1:
            problems["days_overdue"] = ["At least 1 day past due."]
        elif index and spec.days_overdue <= previous_days:
            problems["days_overdue"] = [
                f"Must be more than the previous level's {previous_days} days: levels escalate over time."
            ]
        previous_days = max(previous_days, spec.days_overdue)
        if not isinstance(spec.fee_amount, Decimal | int) or isinstance(spec.fee_amount, bool):
            problems["fee_amount"] = ["Not a decimal amount."]
        elif spec.fee_amount < 0:
            problems["fee_amount"] = ["Must not be negative."]
        elif currency and quantize(spec.fee_amount, currency) != spec.fee_amount:
            places = minor_unit_exponent(currency)
            problems["fee_amount"] = [f"{currency} has {places} decimals; round the fee to them."]
        percent = spec.annual_interest_percent
        if percent is not None and not 0 <= percent <= 100:
            problems["annual_interest_percent"] = ["Between 0 and 100 (percent a year), or null for none."]
        for field in ("subject_template", "body_template"):
            problem = _template_problem(getattr(spec, field), currency or "USD")
            if problem:
                problems[field] = [problem]
        if problems:
            errors[index] = problems
    return errors


def _template_problem(source: str, currency: str) -> str | None:
    if not source.strip():
        return "This field is required."
    try:
        render_template(source, _sample_context(currency))
    except TemplateSyntaxError as exc:
        return f"The template does not compile: {exc}"
    return None


def _check_client_currencies(policy: DunningPolicy, clients: Iterable[Account], charges_fees: bool) -> None:
    """A policy that charges fees serves only clients billed in its fee currency: fees are never converted."""
    if not charges_fees:
        return
    others = sorted({client.name for client in clients if client.currency != policy.fee_currency})
    if others:
        names = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise DunningCurrencyMismatch(
            f"'{policy.name}' charges fees in {policy.fee_currency}, but {names} "
            f"{'is' if len(others) == 1 else 'are'} billed in another currency; fees are never converted. "
            f"Use a policy with fees in the client's currency, or one without fees.",
            fields={"policy": [f"Fees in {policy.fee_currency}; the client is billed in another currency."]},
        )


def _save_levels(policy: DunningPolicy, levels: Sequence[LevelSpec]) -> None:
    """Replace the policy's levels as a whole; a level number kept keeps its row (and its notices' link)."""
    existing = {row.level: row for row in policy.levels.all()}
    wanted = {spec.level for spec in levels}
    DunningLevel.objects.filter(policy=policy).exclude(level__in=wanted).delete()
    changed, created = [], []
    for spec in levels:
        values = {field: getattr(spec, field) for field in LEVEL_FIELDS}
        row = existing.get(spec.level)
        if row is None:
            created.append(DunningLevel(policy=policy, level=spec.level, **values))
        else:
            for field, value in values.items():
                setattr(row, field, value)
            changed.append(row)
    if changed:
        DunningLevel.objects.bulk_update(changed, list(LEVEL_FIELDS))
    if created:
        DunningLevel.objects.bulk_create(created)


def _levels_snapshot(levels: Iterable[LevelSpec | DunningLevel]) -> list[dict]:
    return [
        {
            "level": level.level,
            "days_overdue": level.days_overdue,
            "fee_amount": level.fee_amount,
            "annual_interest_percent": level.annual_interest_percent,
            "escalate_to_owner": level.escalate_to_owner,
        }
        for level in levels
    ]


def _take_default(policy: DunningPolicy, actor) -> None:
    """Make `policy` its entity's default: the previous default (locked) stops being one, same transaction."""
    previous = list(
        DunningPolicy.objects.select_for_update()
        .filter(legal_entity_id=policy.legal_entity_id, is_default=True)
        .exclude(pk=policy.pk)
    )
    for other in previous:
        DunningPolicy.objects.filter(pk=other.pk).update(is_default=False)
        audit.record(
            actor=actor, action="dunning_policy.changed", obj=other, changes={"is_default": [True, False]}
        )


@transaction.atomic
def create_dunning_policy(
    *,
    actor,
    legal_entity: LegalEntity,
    name: str,
    levels: Sequence[LevelSpec],
    fee_currency: str | None = None,
    payment_instructions: str = "",
    is_default: bool = False,
    active: bool = True,
) -> DunningPolicy:
    """Create a policy with its levels. Fees default to the entity's functional currency.

    Making it the default takes that role from the entity's previous default policy.
    """
    require_role(actor, Role.FINANCE)
    fee_currency = (fee_currency or legal_entity.functional_currency).upper()
    _check_policy(
        legal_entity=legal_entity,
        name=name,
        fee_currency=fee_currency,
        is_default=is_default,
        active=active,
        levels=levels,
    )
    policy = DunningPolicy(
        legal_entity=legal_entity,
        name=name.strip(),
        fee_currency=fee_currency,
        payment_instructions=payment_instructions,
        is_default=is_default,
        active=active,
    )
    if is_default:
        _take_default(policy, actor)
    policy.save()
    _save_levels(policy, levels)
    audit.record(
        actor=actor,
        action="dunning_policy.created",
        obj=policy,
        changes={
            "name": policy.name,
            "fee_currency": fee_currency,
            "is_default": is_default,
            "active": active,
            "levels": _levels_snapshot(levels),
        },
    )
    return policy


@transaction.atomic
def update_dunning_policy(
    *,
    actor,
    policy: DunningPolicy,
    name: str | None = None,
    fee_currency: str | None = None,
    payment_instructions: str | None = None,
    is_default: bool | None = None,
    active: bool | None = None,
    levels: Sequence[LevelSpec] | None = None,
) -> DunningPolicy:
    """Change a policy; arguments left as None stay as they are. `levels` replaces all levels at once.

    Notices already sent keep the amounts and texts they were created with.
    """
    require_role(actor, Role.FINANCE)
    policy = DunningPolicy.objects.select_for_update().select_related("legal_entity").get(pk=policy.pk)
    current_levels = list(policy.levels.all())
    before = {
        "name": policy.name,
        "fee_currency": policy.fee_currency,
        "payment_instructions": policy.payment_instructions,
        "is_default": policy.is_default,
        "active": policy.active,
        "levels": _levels_snapshot(current_levels),
    }
    after = {
        "name": policy.name if name is None else name.strip(),
        "fee_currency": policy.fee_currency if fee_currency is None else fee_currency.upper(),
        "payment_instructions": (
            policy.payment_instructions if payment_instructions is None else payment_instructions
        ),
        "is_default": policy.is_default if is_default is None else is_default,
        "active": policy.active if active is None else active,
    }
    if active is False and is_default is None:
        after["is_default"] = False
    new_levels = (
        levels
        if levels is not None
        else [
            LevelSpec(level=row.level, **{field: getattr(row, field) for field in LEVEL_FIELDS})
            for row in current_levels
        ]
    )
    _check_policy(
        legal_entity=policy.legal_entity,
        name=after["name"],
        fee_currency=after["fee_currency"],
        is_default=after["is_default"],
        active=after["active"],
        levels=new_levels,
        exclude_pk=policy.pk,
    )
    for field, value in after.items():
        setattr(policy, field, value)
    _check_client_currencies(
        policy, policy.clients.all(), charges_fees=any(spec.fee_amount > 0 for spec in new_levels)
    )
    if policy.is_default and not before["is_default"]:
        _take_default(policy, actor)
    policy.save()
    if levels is not None:
        _save_levels(policy, levels)
        after["levels"] = _levels_snapshot(levels)
    else:
        after["levels"] = before["levels"]
    changes = audit.diff(before, after)
    if changes:
        audit.record(actor=actor, action="dunning_policy.changed", obj=policy, changes=changes)
    return policy


@transaction.atomic
def delete_dunning_policy(*, actor, policy: DunningPolicy) -> None:
    """Delete a policy that no client follows and no notice came from; otherwise deactivate it instead."""
    require_role(actor, Role.FINANCE)
    policy = DunningPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.clients.exists() or policy.notices.exists():
        raise DunningPolicyInUse(
            f"'{policy.name}' is assigned to clients or has notices; deactivate it instead of deleting it."
        )
    audit.record(
        actor=actor,
        action="dunning_policy.deleted",
        obj=policy,
        changes={"name": policy.name, "levels": _levels_snapshot(policy.levels.all())},
    )
    policy.levels.all().delete()
    policy.delete()


@transaction.atomic
def assign_dunning_policy(*, actor, client: Account, policy: DunningPolicy | None) -> Account:
    """Make `client` follow `policy` (None: its legal entity's default policy).

    Refused when the policy belongs to another legal entity, or charges fees in a currency other than
    the client's (fees are never converted).
    """
    require_role(actor, Role.FINANCE)
    client = Account.objects.select_for_update().get(pk=client.pk)
    if policy is not None:
        if policy.legal_entity_id != client.legal_entity_id:
            raise ValidationFailed(
                f"'{policy.name}' is a policy of another legal entity than {client}'s.",
                fields={"policy": ["Belongs to another legal entity."]},
            )
        _check_client_currencies(
            policy, [client], charges_fees=policy.levels.filter(fee_amount__gt=0).exists()
        )
    previous = client.dunning_policy_id
    new = policy.pk if policy else None
    if previous != new:
        client.dunning_policy = policy
        client.save(update_fields=["dunning_policy"])
        audit.record(
            actor=actor,
            action="client.dunning_policy_assigned",
            obj=client,
            changes={"dunning_policy": [previous, new]},
        )
    return client
