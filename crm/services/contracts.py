"""Contracts: numbering per legal entity, creating one from sold lines, amendments and closing."""

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing.services.plans import sync_billing_plans
from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.events import emit
from crm.access import require_owner
from crm.choices import ContractStatus
from crm.models import Account, Contract, ContractLine, ContractSequence, ContractVersion
from crm.services.terms import billing_schedule, line_problems, line_values, normalise_line, terms_of
from revrec.services.obligations import sync_obligations

ZERO = Decimal(0)


def next_contract_number(legal_entity) -> str:
    """The legal entity's next contract number, gapless: an upsert takes the number and holds the row lock
    until commit, so concurrent contracts number in commit order ("US-C-00042")."""
    table = ContractSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (legal_entity_id, next_number) VALUES (%s, 2)
            ON CONFLICT (legal_entity_id) DO UPDATE SET next_number = {table}.next_number + 1
            RETURNING next_number
            """,  # noqa: S608 - the table name is ours; the value is a parameter
            [legal_entity.pk],
        )
        number = cursor.fetchone()[0] - 1
    return f"{legal_entity.invoice_prefix}C-{number:05d}"


def _write_lines(contract: Contract, version: ContractVersion, lines: list[dict]) -> list[ContractLine]:
    rows = []
    for line in lines:
        row = ContractLine(
            contract=contract,
            contract_version=version,
            origin_id=line.get("origin"),
            description=(line.get("description") or line.get("service") or "").strip(),
            rate_card_id=line.get("rate_card_id"),
            **line_values(line),
        )
        row.schedule = billing_schedule(row, contract.currency)
        rows.append(row)
    return ContractLine.objects.bulk_create(rows)


def _check_lines(lines: list[dict], currency: str) -> dict:
    problems = {}
    if not lines:
        problems["lines"] = ["A contract needs at least one line."]
    for index, line in enumerate(lines):
        if not (line.get("description") or line.get("service") or "").strip():
            problems[f"lines.{index}.description"] = ["Describe the line."]
        problems |= line_problems(line, currency, f"lines.{index}")
    return problems


def create_contract(
    *, actor, account: Account, currency: str, lines: list[dict], opportunity=None, quote=None
) -> Contract:
    """Number and create an active contract (version 1) with its lines; runs inside the caller's
    transaction (the handoff's). Lines must be normalised and valid; dates and total come from them."""
    contract = Contract.objects.create(
        account=account,
        legal_entity=account.legal_entity,
        opportunity=opportunity,
        quote=quote,
        number=next_contract_number(account.legal_entity),
        status=ContractStatus.ACTIVE,
        currency=currency,
        start=min(line["start"] for line in lines),
        end=max(line["end"] for line in lines),
        total_amount=sum((line["amount"] for line in lines), ZERO),
        payment_terms_days=account.payment_terms_days,
        tax_code=account.tax_code,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    version = ContractVersion.objects.create(
        contract=contract,
        number=1,
        reason="Signed",
        start=contract.start,
        end=contract.end,
        total_amount=contract.total_amount,
        created_by=contract.created_by,
    )
    _write_lines(contract, version, lines)
    sync_billing_plans(contract=contract)
    sync_obligations(contract=contract, actor=actor)
    audit.record(
        actor=actor,
        action="contract.created",
        obj=contract,
        changes={
            "number": contract.number,
            "total": contract.total_amount,
            "lines": len(lines),
            "opportunity": getattr(opportunity, "pk", None),
            "quote": getattr(quote, "pk", None),
        },
    )
    emit(
        "contract.created",
        contract,
        {
            "number": contract.number,
            "account": account.pk,
            "total_amount": contract.total_amount,
            "currency": currency,
            "opportunity": getattr(opportunity, "pk", None),
        },
        actor=actor,
    )
    return contract


def current_lines(contract: Contract):
    return contract.all_lines.filter(contract_version__number=contract.version).select_related("role")


@transaction.atomic
def amend_contract(
    *,
    actor,
    contract: Contract,
    reason: str,
    lines: list[dict] = (),
    remove: list[int] = (),
    revenue_treatment: str = "catch_up",
) -> Contract:
    """A change order: the next version of the contract with lines changed (`lines` items with the `id`
    of a current line and the fields to change), added (items without `id`) or ended (`remove`).

    The previous version and its lines stay as they were; each continued line points at its origin so
    billing and revenue plans follow. Who, when and why are on the version and in the audit trail.
    `revenue_treatment` records how revenue recognition re-allocates: "catch_up" or "prospective".
    """
    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("account", "opportunity")
        .get(pk=contract.pk)
    )
    owner_id = contract.opportunity.owner_id if contract.opportunity else contract.account.owner_id
    require_owner(actor, owner_id, "contract")
    if contract.status != ContractStatus.ACTIVE:
        raise InvalidTransition(f"Contract {contract.number} is {contract.status}; it cannot be amended.")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the contract changes.", fields={"reason": ["Required."]})
    current = {line.pk: line for line in current_lines(contract)}
    changes = {spec["id"]: spec for spec in lines if spec.get("id")}
    additions = [spec for spec in lines if not spec.get("id")]
    unknown = sorted((set(changes) | set(remove)) - set(current))
    if unknown:
        raise ValidationFailed(
            "Amend the lines of the current version only.",
            fields={"lines": [f"Line {pk} is not a line of version {contract.version}." for pk in unknown]},
        )
    if not changes and not additions and not remove:
        raise ValidationFailed(
            "An amendment changes, adds or removes at least one line.", fields={"lines": ["Nothing changes."]}
        )
    specs = []
    for pk, line in current.items():
        if pk in remove:
            continue
        spec = terms_of(line) | {
            "description": line.description,
            "origin": pk,
            "rate_card_id": line.rate_card_id,
        }
        spec |= {name: value for name, value in changes.get(pk, {}).items() if name != "id"}
        specs.append(spec)
    specs += additions
    normalised = [
        normalise_line(spec, contract.currency)
        | {"origin": spec.get("origin"), "rate_card_id": spec.get("rate_card_id")}
        for spec in specs
    ]
    problems = _check_lines(normalised, contract.currency)
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    previous_total = contract.total_amount
    contract.version += 1
    contract.start = min(line["start"] for line in normalised)
    contract.end = max(line["end"] for line in normalised)
    contract.total_amount = sum((line["amount"] for line in normalised), ZERO)
    contract.save(update_fields=["version", "start", "end", "total_amount"])
    version = ContractVersion.objects.create(
        contract=contract,
        number=contract.version,
        reason=reason.strip(),
        start=contract.start,
        end=contract.end,
        total_amount=contract.total_amount,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _write_lines(contract, version, normalised)
    sync_billing_plans(contract=contract)
    sync_obligations(contract=contract, actor=actor, treatment=revenue_treatment, reason=reason.strip())
    audit.record(
        actor=actor,
        action="contract.amended",
        obj=contract,
        changes={
            "version": [contract.version - 1, contract.version],
            "total_amount": [previous_total, contract.total_amount],
            "changed": sorted(changes),
            "added": len(additions),
            "removed": sorted(remove),
        },
        reason=reason.strip(),
    )
    # Billing and revenue recognition rebuild their plans for the new version from this event.
    emit(
        "contract.amended",
        contract,
        {
            "number": contract.number,
            "version": contract.version,
            "total_amount": contract.total_amount,
            "previous_total_amount": previous_total,
            "reason": reason.strip(),
        },
        actor=actor,
    )
    return contract


@transaction.atomic
def close_contract(*, actor, contract: Contract, reason: str) -> Contract:
    """Close an active contract (delivered or terminated); it can no longer be amended."""
    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("account", "opportunity")
        .get(pk=contract.pk)
    )
    owner_id = contract.opportunity.owner_id if contract.opportunity else contract.account.owner_id
    require_owner(actor, owner_id, "contract")
    if contract.status != ContractStatus.ACTIVE:
        raise InvalidTransition(f"Contract {contract.number} is {contract.status}, not active.")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the contract is closed.", fields={"reason": ["Required."]})
    contract.status = ContractStatus.CLOSED
    contract.closed_at = timezone.now()
    contract.save(update_fields=["status", "closed_at"])
    audit.record(
        actor=actor,
        action="contract.closed",
        obj=contract,
        changes={"status": [ContractStatus.ACTIVE, ContractStatus.CLOSED]},
        reason=reason,
    )
    emit("contract.closed", contract, {"number": contract.number, "reason": reason}, actor=actor)
    return contract
