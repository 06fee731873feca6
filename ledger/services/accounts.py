"""Edits of master data after setup: a GL account's name and active flag, a legal entity's details."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from core import audit
from core.errors import ValidationFailed
from core.roles import Role, require_role
from ledger.models import AccountBalance, GLAccount, LegalEntity

ZERO = Decimal(0)
LEGAL_ENTITY_EDITABLE = ("name", "address", "tax_id", "invoice_prefix", "write_off_approval_threshold")


@transaction.atomic
def update_gl_account(
    *, actor, account: GLAccount, name: str | None = None, active: bool | None = None
) -> GLAccount:
    """Rename or (de)activate an account. Finance only; the change is audited.

    An account services post to by role (AR, cash, revenue, ...) stays active, and so does an account
    with a balance: nothing could post to it any more to clear that balance.
    """
    require_role(actor, Role.FINANCE)
    account = GLAccount.objects.select_for_update().get(pk=account.pk)
    before = {"name": account.name, "active": account.active}
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationFailed(
                "Give the account a name.", fields={"name": ["This field may not be blank."]}
            )
        account.name = name
    if active is False and account.active:
        if account.role:
            raise ValidationFailed(
                f"{account} is the {account.get_role_display()} account that postings use; it stays active.",
                fields={"active": ["A role account cannot be deactivated."]},
            )
        sums = AccountBalance.objects.filter(account=account).aggregate(
            debit=Sum("functional_debit"), credit=Sum("functional_credit")
        )
        balance = (sums["debit"] or ZERO) - (sums["credit"] or ZERO)
        if balance != ZERO:
            raise ValidationFailed(
                f"{account} has a balance of {abs(balance)}; clear it before deactivating the account.",
                fields={"active": ["The account has a balance."]},
            )
    if active is not None:
        account.active = active
    changes = audit.diff(before, {"name": account.name, "active": account.active})
    if changes:
        account.save(update_fields=["name", "active"])
        audit.record(actor=actor, action="gl_account.changed", obj=account, changes=changes)
    return account


@transaction.atomic
def update_legal_entity(*, actor, legal_entity: LegalEntity, **changes) -> LegalEntity:
    """Change a legal entity's name, address, tax id, invoice prefix or write-off approval threshold.

    Finance only; audited. The functional currency and fiscal year start are fixed once the entity
    exists, because every posted amount and period depends on them.
    """
    require_role(actor, Role.FINANCE)
    unknown = sorted(set(changes) - set(LEGAL_ENTITY_EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["Cannot be changed."] for name in unknown},
        )
    entity = LegalEntity.objects.select_for_update().get(pk=legal_entity.pk)
    before = {name: getattr(entity, name) for name in LEGAL_ENTITY_EDITABLE}
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise ValidationFailed(
                "Give the entity a name.", fields={"name": ["This field may not be blank."]}
            )
        if LegalEntity.objects.filter(name__iexact=changes["name"]).exclude(pk=entity.pk).exists():
            raise ValidationFailed(
                f"A legal entity named '{changes['name']}' exists.", fields={"name": ["Taken."]}
            )
    if "invoice_prefix" in changes and not changes["invoice_prefix"].strip():
        raise ValidationFailed(
            "Invoice numbers need a prefix.", fields={"invoice_prefix": ["This field may not be blank."]}
        )
    threshold = changes.get("write_off_approval_threshold")
    if threshold is not None and threshold < 0:
        raise ValidationFailed(
            "The write-off approval threshold cannot be negative.",
            fields={"write_off_approval_threshold": ["Must be zero or more."]},
        )
    for name, value in changes.items():
        setattr(entity, name, value)
    diff = audit.diff(before, {name: getattr(entity, name) for name in LEGAL_ENTITY_EDITABLE})
    if diff:
        entity.save(update_fields=list(diff))
        audit.record(actor=actor, action="legal_entity.changed", obj=entity, changes=diff)
    return entity
