"""Roles, rate cards, people's cost rates and their bill-rate overrides on projects: the effective-dated
sources time entries are priced from (see `projects.selectors.rates`)."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import ValidationFailed
from core.roles import Role as UserRole
from core.roles import has_role
from projects.access import COST_RATE_WRITERS, RATE_CARD_WRITERS, require_any, require_manager
from projects.models import CostRate, Person, Project, ProjectRateOverride, RateCard, RateCardRate, Role
from projects.services.common import check_currency, check_effective_dates, close_open_predecessor

RATE_LIMIT = Decimal("1000000")


@transaction.atomic
def create_role(*, actor, name: str, description: str = "") -> Role:
    """Add a delivery role (Senior consultant, Analyst, …)."""
    require_any(actor, (UserRole.FINANCE, UserRole.RESOURCE_MANAGER), "add roles")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The role needs a name.", fields={"name": ["Required."]})
    if Role.objects.filter(name__iexact=name).exists():
        raise ValidationFailed(f"A role named '{name}' exists.", fields={"name": ["Taken."]})
    role = Role.objects.create(name=name[:100], description=description[:300])
    audit.record(actor=actor, action="role.created", obj=role)
    return role


def _role(value) -> Role:
    if isinstance(value, Role):
        return value
    role = Role.objects.filter(pk=value).first() if isinstance(value, int) else None
    if role is None and isinstance(value, str):
        role = Role.objects.filter(name__iexact=value.strip()).first()
    if role is None:
        raise ValidationFailed(f"Unknown role {value!r}.", fields={"rates": [f"Unknown role {value!r}."]})
    return role


def _check_rate(rate, field: str = "rate") -> Decimal:
    if not isinstance(rate, Decimal | int) or isinstance(rate, bool):
        raise ValidationFailed("A rate is a decimal number.", fields={field: ["Not a decimal number."]})
    rate = Decimal(rate)
    if rate < 0 or rate >= RATE_LIMIT:
        raise ValidationFailed(
            f"A rate must be from 0 to under {RATE_LIMIT:,}.", fields={field: ["Out of range."]}
        )
    if rate != rate.quantize(Decimal("0.0001")):
        raise ValidationFailed("A rate has at most 4 decimals.", fields={field: ["At most 4 decimals."]})
    return rate


def _rate_rows(rates: Iterable[dict], default_from: date) -> list[RateCardRate]:
    rows = []
    for spec in rates:
        valid_from = spec.get("valid_from") or default_from
        rows.append(
            RateCardRate(
                role=_role(spec.get("role")),
                rate=_check_rate(spec.get("rate"), "rates"),
                valid_from=valid_from,
                valid_to=spec.get("valid_to"),
            )
        )
    by_role: dict[int, list] = {}
    for row in rows:
        by_role.setdefault(row.role.pk, []).append((row.valid_from, row.valid_to))
    for role_id, periods in by_role.items():
        name = next(row.role.name for row in rows if row.role.pk == role_id)
        check_effective_dates(periods, field="rates", what=f"{name} rate")
    return rows


@transaction.atomic
def create_rate_card(*, actor, name: str, currency: str, rates, account=None, contract=None) -> RateCard:
    """Create a rate card: standard (no account, no contract), a client's (`account`) or a contract's.

    `rates`: [{role, rate, valid_from, valid_to}] where role is a Role, its id or its name; a missing
    `valid_from` means from the contract's start (or today). A role's rates on one card must not
    overlap in time. The CRM handoff calls this with the won deal's rates.
    """
    require_any(actor, RATE_CARD_WRITERS, "create rate cards")
    check_currency(currency)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The rate card needs a name.", fields={"name": ["Required."]})
    if contract is not None:
        if account is not None and account.pk != contract.account_id:
            raise ValidationFailed(
                f"Contract {contract.number} belongs to another client.",
                fields={"contract": ["Not a contract of this client."]},
            )
        if contract.currency != currency:
            raise ValidationFailed(
                f"Contract {contract.number} is in {contract.currency}; its rate card must be too.",
                fields={"currency": [f"Use {contract.currency}."]},
            )
        account = contract.account
    default_from = contract.start if contract is not None else timezone.localdate()
    rows = _rate_rows(list(rates or ()), default_from)
    card = RateCard.objects.create(
        name=name[:200],
        currency=currency,
        account=account,
        contract=contract,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    for row in rows:
        row.rate_card = card
    RateCardRate.objects.bulk_create(rows)
    audit.record(
        actor=actor,
        action="rate_card.created",
        obj=card,
        changes={"scope": card.scope, "currency": currency, "rates": _rates_snapshot(rows)},
    )
    return card


def _rates_snapshot(rows: Iterable[RateCardRate]) -> list[dict]:
    return [
        {"role": row.role_id, "rate": row.rate, "valid_from": row.valid_from, "valid_to": row.valid_to}
        for row in rows
    ]


@transaction.atomic
def update_rate_card(
    *, actor, rate_card: RateCard, name: str | None = None, active: bool | None = None, rates=None
) -> RateCard:
    """Rename or (de)activate a card, or replace its rates. Entries already saved keep their rates."""
    require_any(actor, RATE_CARD_WRITERS, "change rate cards")
    card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    changes = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed("The rate card needs a name.", fields={"name": ["Required."]})
        changes["name"] = [card.name, name.strip()[:200]]
        card.name = name.strip()[:200]
    if active is not None:
        changes["active"] = [card.active, active]
        card.active = active
    card.save()
    if rates is not None:
        old = list(card.rates.all())
        rows = _rate_rows(list(rates), timezone.localdate())
        card.rates.all().delete()
        for row in rows:
            row.rate_card = card
        RateCardRate.objects.bulk_create(rows)
        changes["rates"] = [_rates_snapshot(old), _rates_snapshot(rows)]
    if changes:
        audit.record(actor=actor, action="rate_card.changed", obj=card, changes=changes)
    return card


@transaction.atomic
def add_rate_card_rate(
    *, actor, rate_card: RateCard, role: Role, rate: Decimal, valid_from: date, valid_to: date | None = None
) -> RateCardRate:
    """Give a role a new rate on a card from `valid_from`: an open-ended earlier rate of the role ends the
    day before; any other overlap is refused."""
    require_any(actor, RATE_CARD_WRITERS, "change rate cards")
    card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    rate = _check_rate(rate)
    existing = card.rates.filter(role=role)
    closed = close_open_predecessor(existing, valid_from)
    periods = [(r.valid_from, r.valid_to) for r in existing] + [(valid_from, valid_to)]
    check_effective_dates(periods, field="valid_from", what=f"{role.name} rate")
    row = RateCardRate.objects.create(
        rate_card=card, role=role, rate=rate, valid_from=valid_from, valid_to=valid_to
    )
    audit.record(
        actor=actor,
        action="rate_card.rate_added",
        obj=card,
        changes={
            "role": role.pk,
            "rate": rate,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "closed": [{"id": r.pk, "valid_to": r.valid_to} for r in closed],
        },
    )
    return row


@transaction.atomic
def set_project_rate(
    *, actor, project: Project, person: Person, rate: Decimal, valid_from: date, valid_to: date | None = None
) -> ProjectRateOverride:
    """Give a person their own bill rate on a project (in its currency) from `valid_from`; it beats every
    rate card. An open-ended earlier override ends the day before."""
    if actor is not None and not has_role(actor, UserRole.FINANCE):
        require_manager(actor, project, "set its people's rates")
    rate = _check_rate(rate)
    existing = ProjectRateOverride.objects.filter(project=project, person=person)
    close_open_predecessor(existing, valid_from)
    periods = [(r.valid_from, r.valid_to) for r in existing] + [(valid_from, valid_to)]
    check_effective_dates(periods, field="valid_from", what=f"rate of {person.name}")
    override = ProjectRateOverride.objects.create(
        project=project,
        person=person,
        rate=rate,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(
        actor=actor,
        action="project.rate_override_set",
        obj=project,
        changes={"person": person.pk, "rate": rate, "valid_from": valid_from, "valid_to": valid_to},
    )
    return override


@transaction.atomic
def set_cost_rate(
    *,
    actor,
    person: Person,
    rate: Decimal,
    valid_from: date,
    currency: str | None = None,
    valid_to: date | None = None,
) -> CostRate:
    """What an hour of `person` costs from `valid_from` (default currency: their legal entity's). An
    open-ended earlier cost rate ends the day before; entries already saved keep their cost."""
    require_any(actor, COST_RATE_WRITERS, "set cost rates")
    person = Person.objects.select_for_update(of=("self",)).select_related("legal_entity").get(pk=person.pk)
    currency = currency or person.legal_entity.functional_currency
    check_currency(currency)
    rate = _check_rate(rate)
    existing = CostRate.objects.filter(person=person)
    close_open_predecessor(existing, valid_from)
    periods = [(r.valid_from, r.valid_to) for r in existing] + [(valid_from, valid_to)]
    check_effective_dates(periods, field="valid_from", what="cost rate")
    row = CostRate.objects.create(
        person=person,
        rate=rate,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(
        actor=actor,
        action="person.cost_rate_set",
        obj=person,
        changes={"rate": rate, "currency": currency, "valid_from": valid_from, "valid_to": valid_to},
    )
    return row
