"""Dunning: policies of ordered reminder levels, and the run that notices each overdue invoice once per level.

A run evaluates a legal entity's AR as of a day. One query finds the overdue open invoices, the highest
level each has reached under its client's policy (else the entity's default) and whether that level was
noticed before. Clients are processed in chunks, each chunk its own transaction. Per client, level and
currency one notice groups the invoices; its fee and interest are billed as a fee receivable through
`post_receivable` (Dr AR / Cr interest and late-fee income), and the notice is e-mailed after commit.
`DunningNoticeItem` is unique per (invoice, level): a repeated or concurrent run collides on that key,
its chunk rolls back and is re-read, so no invoice is ever noticed or charged twice at one level.
"""

import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context as DecimalContext
from decimal import Decimal
from functools import cache, partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.utils import timezone

from core import audit
from core.errors import Conflict, DomainError, InvalidTransition, ValidationFailed
from core.events import emit
from core.money import format_money, minor_unit_exponent, quantize
from core.roles import Role, require_role
from crm.models import Account
from ledger.choices import AccountRole, ArItemKind, DunningNoticeStatus, DunningRunStatus, DunningRunTrigger
from ledger.models import (
    ArItem,
    Currency,
    DunningLevel,
    DunningNotice,
    DunningNoticeItem,
    DunningPolicy,
    DunningRun,
    LegalEntity,
)
from ledger.reports.aging import open_items_as_of
from ledger.selectors import account_by_role
from ledger.services.ar import post_receivable
from ledger.services.posting import LineSpec

logger = logging.getLogger("ledgerline.dunning")

ZERO = Decimal(0)
# The AR items of fee receivables name their notice: ("ledger.dunningnotice", "<notice id>").
DUNNING_DOCUMENT = "ledger.dunningnotice"
# Clients per chunk: each chunk is one transaction, and the run's progress is saved after it.
CHUNK_CLIENTS = 100
# A chunk that collided with a concurrent twin is re-read and retried this many times in all.
CHUNK_ATTEMPTS = 3
# A run not heard from for this long was lost with its worker; it may be claimed (and continued) again.
RUN_STALE_AFTER = timedelta(minutes=15)
# Interest is open × percent ÷ 100 ÷ 365 × days, computed exactly and rounded once.
EXACT = DecimalContext(prec=60)
DAYS_PER_YEAR = 365
# Tags a policy's template may not use: they load code, reveal internals, or need a request.
BLOCKED_TAGS = {"load", "debug", "url", "csrf_token", "querystring"}
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


class DunningRunActive(Conflict):
    code = "dunning_run_active"


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


# Templates


@cache
def _template_engine() -> Engine:
    """A Django template engine without loaders and without the tags that load code or need a request.

    Templates only ever see the plain values of `notice_context` (strings, numbers, dates, lists, dicts),
    never model instances, so they cannot reach other data through attributes or methods.
    """
    library = Library()
    library.tags = {name: tag for name, tag in defaulttags.register.tags.items() if name not in BLOCKED_TAGS}
    library.filters = dict(defaultfilters.register.filters)
    engine = Engine(autoescape=False)
    engine.template_builtins = [library]
    return engine


def render_template(source: str, context: dict) -> str:
    return _template_engine().from_string(source).render(Context(context, autoescape=False))


def _subject_line(text: str) -> str:
    """A rendered subject on one line: e-mail headers must not contain line breaks."""
    return " ".join(text.split())[:500]


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


# Policies


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


# Runs


def _active_run(legal_entity: LegalEntity, as_of: date) -> DunningRun | None:
    return (
        DunningRun.objects.filter(
            legal_entity=legal_entity,
            as_of=as_of,
            status__in=[DunningRunStatus.PENDING, DunningRunStatus.RUNNING],
        )
        .order_by("id")
        .first()
    )


def _is_stale(run: DunningRun, now) -> bool:
    return (run.heartbeat_at or run.created_at) < now - RUN_STALE_AFTER


def _enqueue(run: DunningRun) -> None:
    from ledger.tasks import run_dunning

    run_id = run.pk
    # robust: the run row is committed; a broker outage leaves it pending, to be claimed by a later start.
    transaction.on_commit(lambda: run_dunning.delay(run_id), robust=True)


@transaction.atomic
def start_dunning_run(
    *, actor, legal_entity: LegalEntity, as_of: date, trigger: str = DunningRunTrigger.MANUAL
) -> DunningRun:
    """Create a dunning run for `legal_entity` as of `as_of` and enqueue it once this transaction commits.

    One run per entity and day may be pending or running: a manual start then is refused (409), unless that
    run was lost with its worker, which is enqueued again and returned (it continues where it stopped).
    The nightly trigger is idempotent per entity and day: it returns the day's run if there is one.
    `actor` None is the scheduler.
    """
    if actor is not None:
        require_role(actor, Role.FINANCE)
    if as_of > timezone.localdate():
        raise ValidationFailed(
            "A dunning run cannot look at a day that has not come yet.",
            fields={"as_of": ["Must not be after today."]},
        )
    now = timezone.now()
    if trigger == DunningRunTrigger.NIGHTLY:
        nightly = DunningRun.objects.filter(legal_entity=legal_entity, as_of=as_of, trigger=trigger).first()
        if nightly is not None:
            return nightly
    active = _active_run(legal_entity, as_of)
    if active is not None:
        if trigger == DunningRunTrigger.NIGHTLY or _is_stale(active, now):
            if _is_stale(active, now):
                _enqueue(active)
            return active
        raise DunningRunActive(
            f"Dunning run {active.pk} for {legal_entity} as of {as_of.isoformat()} is still "
            f"{active.status}; follow it instead of starting another.",
            fields={"as_of": [f"Run {active.pk} is {active.status}."]},
        )
    try:
        with transaction.atomic():
            run = DunningRun.objects.create(
                legal_entity=legal_entity,
                as_of=as_of,
                trigger=trigger,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        # A concurrent twin started the same run first.
        twin = _active_run(legal_entity, as_of) or (
            DunningRun.objects.filter(legal_entity=legal_entity, as_of=as_of, trigger=trigger).first()
        )
        if twin is None:
            raise
        if trigger == DunningRunTrigger.NIGHTLY:
            return twin
        raise DunningRunActive(
            f"Dunning run {twin.pk} for {legal_entity} as of {as_of.isoformat()} was just started.",
            fields={"as_of": [f"Run {twin.pk} is {twin.status}."]},
        ) from None
    audit.record(
        actor=actor,
        action="dunning_run.started",
        obj=run,
        changes={"legal_entity": legal_entity.pk, "as_of": as_of, "trigger": trigger},
    )
    _enqueue(run)
    return run


def start_nightly_dunning_runs(*, as_of: date) -> list[DunningRun]:
    """The scheduler's start: a run per legal entity with an active policy, at most one per entity and day."""
    entities = LegalEntity.objects.filter(
        pk__in=DunningPolicy.objects.filter(active=True).values("legal_entity_id")
    ).order_by("pk")
    return [
        start_dunning_run(actor=None, legal_entity=entity, as_of=as_of, trigger=DunningRunTrigger.NIGHTLY)
        for entity in entities
    ]


def _overdue_invoices(legal_entity: LegalEntity, as_of: date):
    """Invoice items of the entity that are past due and open both as of `as_of` and now.

    Fee receivables of earlier notices are not dunned themselves (no interest on interest).
    """
    return (
        open_items_as_of(legal_entity=legal_entity, as_of=as_of)
        .filter(
            kind=ArItemKind.INVOICE, amount__gt=0, open_amount__gt=0, due_date__lt=as_of, open_as_of__gt=0
        )
        .exclude(document_type=DUNNING_DOCUMENT)
    )


@dataclass
class _Policies:
    """The entity's active policies and levels, loaded once per run."""

    by_id: dict[int, DunningPolicy]
    levels: dict[int, dict[int, DunningLevel]]
    default_id: int | None

    @classmethod
    def load(cls, legal_entity: LegalEntity) -> "_Policies":
        policies = {
            policy.pk: policy
            for policy in DunningPolicy.objects.filter(legal_entity=legal_entity, active=True).select_related(
                "legal_entity"
            )
        }
        levels: dict[int, dict[int, DunningLevel]] = defaultdict(dict)
        for level in DunningLevel.objects.filter(policy_id__in=policies):
            levels[level.policy_id][level.level] = level
        default_id = next((pk for pk, policy in policies.items() if policy.is_default), None)
        return cls(by_id=policies, levels=dict(levels), default_id=default_id)


def _candidates(run: DunningRun, policies: _Policies, client_ids: Sequence[int] | None = None) -> list[dict]:
    """The one query of a run: overdue open invoices, the level reached, not yet noticed at that level.

    The level reached is the highest whose `days_overdue` the invoice is past due by, under its client's
    policy (else the entity's default; a client on an inactive policy is paused). An invoice already
    noticed at that level or a higher one is left out (anti-join on the notice items), as is one whose
    client has no policy. `charged_days` are the days past due an earlier notice charged interest for.
    """
    whens = [
        When(
            effective_policy=policy_id,
            due_date__lte=run.as_of - timedelta(days=level.days_overdue),
            then=Value(number),
        )
        for policy_id, levels in policies.levels.items()
        for number, level in sorted(levels.items(), reverse=True)
    ]
    if not whens:
        return []
    assigned = F("client__dunning_policy")
    effective = (
        Coalesce(assigned, Value(policies.default_id), output_field=BigIntegerField())
        if policies.default_id
        else assigned
    )
    noticed = DunningNoticeItem.objects.filter(ar_item=OuterRef("pk"), level__gte=OuterRef("reached_level"))
    charged = (
        DunningNoticeItem.objects.filter(ar_item=OuterRef("pk"), interest_percent__isnull=False)
        .order_by()
        .values("ar_item")
        .annotate(days=Max("days_overdue"))
        .values("days")
    )
    rows = (
        _overdue_invoices(run.legal_entity, run.as_of)
        .annotate(effective_policy=effective)
        .annotate(reached_level=Case(*whens, default=None, output_field=IntegerField()))
        .filter(reached_level__isnull=False)
        .filter(~Exists(noticed))
        .annotate(charged_days=Coalesce(Subquery(charged, output_field=IntegerField()), Value(0)))
    )
    if client_ids is not None:
        rows = rows.filter(client_id__in=client_ids)
    return list(
        rows.order_by("client_id", "due_date", "pk").values(
            "pk",
            "client_id",
            "currency",
            "number",
            "due_date",
            "open_as_of",
            "effective_policy",
            "reached_level",
            "charged_days",
        )
    )


def _interest(open_amount: Decimal, percent: Decimal | None, days: int, currency: str) -> Decimal:
    """Simple interest, open × percent ÷ 100 ÷ 365 × days, rounded half-up once to the currency."""
    if not percent or days <= 0:
        return quantize(ZERO, currency)
    exact = EXACT.divide(EXACT.multiply(EXACT.multiply(open_amount, percent), days), 100 * DAYS_PER_YEAR)
    return quantize(exact, currency)


@dataclass
class _Draft:
    """A notice being built in a chunk, before it is inserted."""

    notice: DunningNotice
    level: DunningLevel
    items: list[DunningNoticeItem]


def _draft_notices(run: DunningRun, policies: _Policies, rows: list[dict], clients: dict[int, Account]):
    groups: dict[tuple[int, int, str], list[dict]] = defaultdict(list)
    for row in rows:
        # SQLite may leave float noise on a settled amount; a row open for less than a minor unit is not.
        if quantize(row["open_as_of"], row["currency"]) > 0:
            groups[(row["client_id"], row["reached_level"], row["currency"])].append(row)
    drafts = []
    for (client_id, number, currency), group in groups.items():
        client = clients[client_id]
        policy = policies.by_id[group[0]["effective_policy"]]
        level = policies.levels[policy.pk][number]
        items = []
        for row in group:
            open_amount = quantize(row["open_as_of"], currency)
            days = (run.as_of - row["due_date"]).days
            percent = level.annual_interest_percent
            interest_days = max(days - row["charged_days"], 0) if percent is not None else 0
            items.append(
                DunningNoticeItem(
                    ar_item_id=row["pk"],
                    level=number,
                    days_overdue=days,
                    open_amount=open_amount,
                    interest_percent=percent,
                    interest_days=interest_days,
                    interest_amount=_interest(open_amount, percent, interest_days, currency),
                )
            )
        total_open = sum((item.open_amount for item in items), ZERO)
        interest = sum((item.interest_amount for item in items), ZERO)
        fee_note = ""
        if policy.fee_currency == currency:
            fee = quantize(level.fee_amount, currency)
        else:
            fee = quantize(ZERO, currency)
            if level.fee_amount > 0:
                fee_note = (
                    f"No fee: the policy bills its fees in {policy.fee_currency} and these invoices are in "
                    f"{currency}; fees are never converted."
                )
        notice = DunningNotice(
            run=run,
            legal_entity_id=run.legal_entity_id,
            client=client,
            policy=policy,
            policy_level=level,
            level=number,
            currency=currency,
            total_open=total_open,
            interest_amount=interest,
            fee_amount=fee,
            total_due=total_open + interest + fee,
            fee_note=fee_note,
            recipient=client.billing_email,
            escalated_to=client.owner if level.escalate_to_owner else None,
        )
        context = notice_context(notice, items, {row["pk"]: row for row in group}, policy)
        notice.subject = _subject_line(render_template(level.subject_template, context))
        notice.body = render_template(level.body_template, context)
        drafts.append(_Draft(notice=notice, level=level, items=items))
    return drafts


def notice_context(notice: DunningNotice, items: list[DunningNoticeItem], rows: dict, policy) -> dict:
    """The plain values a notice's templates see; amounts are formatted in the notice's currency."""
    currency = notice.currency
    amount = partial(format_money, currency=currency)
    entity = policy.legal_entity
    return {
        "client": {"name": notice.client.name},
        "legal_entity": {"name": entity.name, "address": entity.address},
        "level": notice.level,
        "as_of": notice.run.as_of,
        "currency": currency,
        "items": [
            {
                "number": rows[item.ar_item_id]["number"],
                "due_date": rows[item.ar_item_id]["due_date"],
                "days_overdue": item.days_overdue,
                "open_amount": amount(item.open_amount),
                "interest": amount(item.interest_amount),
            }
            for item in items
        ],
        "total_open": amount(notice.total_open),
        "interest": amount(notice.interest_amount),
        "fee": amount(notice.fee_amount),
        "charges": amount(notice.fee_amount + notice.interest_amount),
        "total_due": amount(notice.total_due),
        "payment_instructions": policy.payment_instructions,
    }


def _post_charges(run: DunningRun, notice: DunningNotice, actor) -> ArItem:
    """Bill the notice's fee and interest: an AR invoice item, Dr AR / Cr interest and late-fee income."""
    entity = run.legal_entity
    charges = notice.fee_amount + notice.interest_amount
    label = f"{entity.invoice_prefix}DUN-{notice.pk:06d}"
    memo = f"Dunning level {notice.level} charges to {notice.client}: fee and interest on overdue invoices"
    return post_receivable(
        actor=actor,
        legal_entity=entity,
        client=notice.client,
        kind=ArItemKind.INVOICE,
        document_type=DUNNING_DOCUMENT,
        document_id=str(notice.pk),
        number=label,
        date=run.as_of,
        due_date=run.as_of + timedelta(days=notice.client.payment_terms_days),
        currency=notice.currency,
        amount=charges,
        lines=[
            LineSpec(
                account=account_by_role(entity, AccountRole.FEE_INCOME),
                currency=notice.currency,
                credit=charges,
                client_id=notice.client_id,
                memo=label,
            )
        ],
        memo=memo[:500],
        posting_key=f"dunning-notice:{notice.pk}",
    )


def _notice_chunk(run: DunningRun, policies: _Policies, rows: list[dict]) -> tuple[int, int]:
    """Create the notices of one chunk of clients; the caller holds the chunk's transaction."""
    if not rows:
        return 0, 0
    clients = Account.objects.select_related("owner").in_bulk({row["client_id"] for row in rows})
    drafts = _draft_notices(run, policies, rows, clients)
    DunningNotice.objects.bulk_create([draft.notice for draft in drafts])
    items = []
    for draft in drafts:
        for item in draft.items:
            item.notice = draft.notice
            items.append(item)
    # The guarantee: a twin that noticed one of these invoices at this level first makes this insert fail.
    # Inserted in key order, so two twins wait for each other in one direction only and never deadlock.
    items.sort(key=lambda item: (item.ar_item_id, item.level))
    DunningNoticeItem.objects.bulk_create(items, ignore_conflicts=False)
    actor = run.created_by
    charged = []
    for draft in drafts:
        notice = draft.notice
        if notice.fee_amount + notice.interest_amount > 0:
            notice.fee_item = _post_charges(run, notice, actor)
            charged.append(notice)
    if charged:
        DunningNotice.objects.bulk_update(charged, ["fee_item"])
    for draft in drafts:
        _announce(run, draft, actor)
    return len(drafts), len(items)


def _announce(run: DunningRun, draft: _Draft, actor) -> None:
    notice = draft.notice
    data = {
        "notice": notice.pk,
        "run": run.pk,
        "legal_entity": run.legal_entity_id,
        "client": notice.client_id,
        "level": notice.level,
        "currency": notice.currency,
        "total_open": notice.total_open,
        "interest_amount": notice.interest_amount,
        "fee_amount": notice.fee_amount,
        "total_due": notice.total_due,
        "ar_items": [item.ar_item_id for item in draft.items],
        "fee_item": notice.fee_item_id,
    }
    audit.record(actor=actor, action="dunning_notice.created", obj=notice, changes=data)
    emit("dunning.notice_created", notice, data, actor=actor)
    if notice.escalated_to_id:
        emit(
            "dunning.escalated",
            notice,
            {
                "notice": notice.pk,
                "client": notice.client_id,
                "owner": notice.escalated_to_id,
                "level": notice.level,
            },
            actor=actor,
        )
    transaction.on_commit(partial(send_dunning_notice, notice_id=notice.pk), robust=True)


def _process_chunk(
    run: DunningRun, policies: _Policies, client_ids: list[int], rows: list[dict], progress: int
) -> None:
    """One chunk in its own transaction, with the run's counters and progress.

    A collision with a concurrent twin on the notice items' unique key rolls the chunk back; it is then
    re-read, and the invoices the twin noticed meanwhile are no longer in it.
    """
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                notices, items = _notice_chunk(run, policies, rows)
                DunningRun.objects.filter(pk=run.pk).update(
                    notices_created=F("notices_created") + notices,
                    items_noticed=F("items_noticed") + items,
                    progress=progress,
                    heartbeat_at=timezone.now(),
                )
            return
        except IntegrityError as exc:
            if "dunning_item_once_per_level" not in str(exc) and "ledger_dunningnoticeitem" not in str(exc):
                raise
            if attempt == CHUNK_ATTEMPTS:
                raise
            logger.info("Dunning run %s: a chunk collided with a concurrent run; re-reading it", run.pk)
            rows = _candidates(run, policies, client_ids=client_ids)


def execute_dunning_run(*, run_id: int) -> DunningRun | None:
    """The task body: claim the run, notice its overdue invoices chunk by chunk, and finish it.

    Claiming is a conditional UPDATE (pending, or running but lost with its worker → running), so a
    duplicate delivery of the task does nothing. A failure marks the run failed with the error; the chunks
    committed before stay, and a later run continues with what is left.
    """
    now = timezone.now()
    claimed = DunningRun.objects.filter(
        Q(status=DunningRunStatus.PENDING)
        | Q(status=DunningRunStatus.RUNNING, heartbeat_at__lt=now - RUN_STALE_AFTER),
        pk=run_id,
    ).update(status=DunningRunStatus.RUNNING, started_at=now, heartbeat_at=now, error="")
    if claimed != 1:
        return DunningRun.objects.filter(pk=run_id).first()
    run = DunningRun.objects.select_related("legal_entity", "created_by").get(pk=run_id)
    try:
        _execute(run)
    except Exception as exc:
        logger.exception("Dunning run %s failed", run.pk)
        detail = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        return _finish(run, DunningRunStatus.FAILED, error=detail)
    return _finish(run, DunningRunStatus.COMPLETED)


def _execute(run: DunningRun) -> None:
    policies = _Policies.load(run.legal_entity)
    overdue_clients = _overdue_invoices(run.legal_entity, run.as_of).values("client_id").distinct().count()
    DunningRun.objects.filter(pk=run.pk).update(clients_evaluated=overdue_clients)
    rows = _candidates(run, policies)
    by_client: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_client[row["client_id"]].append(row)
    client_ids = sorted(by_client)
    for start in range(0, len(client_ids), CHUNK_CLIENTS):
        chunk = client_ids[start : start + CHUNK_CLIENTS]
        chunk_rows = [row for client_id in chunk for row in by_client[client_id]]
        progress = (start + len(chunk)) * 100 // len(client_ids)
        _process_chunk(run, policies, chunk, chunk_rows, progress)


@transaction.atomic
def _finish(run: DunningRun, status: str, *, error: str = "") -> DunningRun:
    values = {"status": status, "finished_at": timezone.now(), "error": error[:5000]}
    if status == DunningRunStatus.COMPLETED:
        values["progress"] = 100
    DunningRun.objects.filter(pk=run.pk).update(**values)
    run.refresh_from_db()
    audit.record(
        actor=None,
        action=f"dunning_run.{status}",
        obj=run,
        changes={
            "status": [DunningRunStatus.RUNNING, status],
            "clients_evaluated": run.clients_evaluated,
            "notices_created": run.notices_created,
            "items_noticed": run.items_noticed,
            "error": error,
        },
    )
    return run


# Sending


@transaction.atomic
def send_dunning_notice(*, notice_id: int) -> DunningNotice | None:
    """E-mail a pending notice to the client's billing address (the owner in copy when escalated).

    A client without a billing e-mail, or a mail server refusing the message, marks the notice failed
    with the reason instead of raising; finance fixes the cause and resends it. Safe to call twice.
    """
    notice = (
        DunningNotice.objects.select_for_update(of=("self",))
        .select_related("client", "escalated_to")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None or notice.status != DunningNoticeStatus.PENDING:
        return notice
    recipient = notice.client.billing_email
    notice.recipient = recipient
    if not recipient:
        _mark(notice, DunningNoticeStatus.FAILED, f"{notice.client} has no billing e-mail address.")
        return notice
    copy = [notice.escalated_to.email] if notice.escalated_to_id and notice.escalated_to.email else []
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        cc=copy,
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        _mark(notice, DunningNoticeStatus.FAILED, f"The mail server refused the message: {exc}")
        return notice
    _mark(notice, DunningNoticeStatus.SENT, "")
    return notice


def _mark(notice: DunningNotice, status: str, reason: str) -> None:
    previous = notice.status
    notice.status = status
    notice.failure_reason = reason[:500]
    notice.sent_at = timezone.now() if status == DunningNoticeStatus.SENT else None
    notice.save(update_fields=["status", "failure_reason", "sent_at", "recipient"])
    audit.record(
        actor=None,
        action=f"dunning_notice.{status}",
        obj=notice,
        changes={"status": [previous, status], "recipient": notice.recipient},
        reason=reason,
    )


@transaction.atomic
def resend_dunning_notice(*, actor, notice: DunningNotice) -> DunningNotice:
    """Send a failed notice again (after the client's e-mail was fixed); it goes out on commit."""
    require_role(actor, Role.FINANCE)
    notice = DunningNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status != DunningNoticeStatus.FAILED:
        raise InvalidTransition(
            f"The notice is {notice.get_status_display().lower()}; only a failed one is resent."
        )
    notice.status = DunningNoticeStatus.PENDING
    notice.failure_reason = ""
    notice.save(update_fields=["status", "failure_reason"])
    audit.record(
        actor=actor,
        action="dunning_notice.resent",
        obj=notice,
        changes={"status": [DunningNoticeStatus.FAILED, DunningNoticeStatus.PENDING]},
    )
    transaction.on_commit(partial(send_dunning_notice, notice_id=notice.pk), robust=True)
    return notice
