"""Tax codes and the tax of a document: rate × the sum of its lines with the code, rounded once per code."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.choices import TaxKind
from billing.models import TaxCode
from core import audit
from core.errors import Conflict, ValidationFailed
from core.money import quantize
from core.roles import Role, require_role
from ledger.choices import AccountType

ZERO = Decimal(0)


@dataclass(frozen=True)
class TaxRow:
    code: str
    name: str
    rate_percent: Decimal
    base: Decimal
    tax: Decimal
    account_id: int | None


def tax_summary(lines, codes: dict[str, TaxCode], currency: str) -> list[TaxRow]:
    """Per tax code: the lines' base and the tax on it (three lines of 20.10 at 7.5% → 60.30 × 7.5% =
    4.5225 → 4.52). Lines without a code are outside the summary."""
    bases: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        if line.tax_code:
            bases[line.tax_code] += line.amount
    rows = []
    for code in sorted(bases):
        tax_code = codes.get(code)
        if tax_code is None:
            raise ValidationFailed(
                f"Tax code '{code}' does not exist for this legal entity.",
                fields={"tax_code": [f"Unknown: {code}."]},
            )
        rate = tax_code.rate_percent if tax_code.kind == TaxKind.STANDARD else ZERO
        rows.append(
            TaxRow(
                code=code,
                name=tax_code.name,
                rate_percent=rate,
                base=bases[code],
                tax=quantize(bases[code] * rate / 100, currency),
                account_id=tax_code.account_id,
            )
        )
    return rows


def tax_codes_of(legal_entity_id: int) -> dict[str, TaxCode]:
    return {code.code: code for code in TaxCode.objects.filter(legal_entity_id=legal_entity_id)}


def _check(legal_entity, kind, rate_percent, account) -> dict:
    problems: dict[str, list[str]] = {}
    if kind not in TaxKind.values:
        problems["kind"] = [f"Choose one of: {', '.join(TaxKind.values)}."]
    if rate_percent is None or not ZERO <= rate_percent <= 100:
        problems["rate_percent"] = ["A rate from 0 to 100 percent."]
    elif kind == TaxKind.STANDARD and rate_percent <= 0:
        problems["rate_percent"] = [
            "A standard-rated code needs a rate above 0; use zero-rated or exempt for 0%."
        ]
    elif kind != TaxKind.STANDARD and rate_percent != 0:
        problems["rate_percent"] = ["Zero-rated and exempt codes charge 0%."]
    if kind == TaxKind.STANDARD and account is None:
        problems["account"] = ["A standard-rated code needs the tax payable account it posts to."]
    if account is not None and (
        account.legal_entity_id != legal_entity.pk or account.type != AccountType.LIABILITY
    ):
        problems["account"] = [f"{account} is not a liability account of {legal_entity}."]
    return problems


@transaction.atomic
def create_tax_code(
    *,
    actor,
    legal_entity,
    code: str,
    name: str,
    rate_percent: Decimal,
    kind: str = TaxKind.STANDARD,
    account=None,
) -> TaxCode:
    require_role(actor, Role.FINANCE)
    code = (code or "").strip().upper()
    problems = _check(legal_entity, kind, rate_percent, account)
    if not code:
        problems["code"] = ["Required."]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    try:
        with transaction.atomic():
            tax_code = TaxCode.objects.create(
                legal_entity=legal_entity,
                code=code,
                name=(name or code).strip(),
                kind=kind,
                rate_percent=rate_percent,
                account=account if kind == TaxKind.STANDARD else None,
            )
    except IntegrityError as exc:
        raise Conflict(f"{legal_entity} already has a tax code {code}.") from exc
    audit.record(
        actor=actor,
        action="tax_code.created",
        obj=tax_code,
        changes={"code": code, "rate_percent": rate_percent},
    )
    return tax_code


@transaction.atomic
def update_tax_code(*, actor, tax_code: TaxCode, name=None, active=None) -> TaxCode:
    """Rename or (de)activate a code. Its rate never changes: issued invoices show it; make a new code."""
    require_role(actor, Role.FINANCE)
    changes = {}
    if name is not None and name.strip() and name.strip() != tax_code.name:
        changes["name"] = [tax_code.name, name.strip()]
        tax_code.name = name.strip()
    if active is not None and active != tax_code.active:
        changes["active"] = [tax_code.active, active]
        tax_code.active = active
    if changes:
        tax_code.save(update_fields=["name", "active"])
        audit.record(actor=actor, action="tax_code.updated", obj=tax_code, changes=changes)
    return tax_code
