"""Accounts (clients), contacts and activities."""

import re
import unicodedata

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import Conflict, ValidationFailed
from core.events import emit
from crm.access import require_activity_writer, require_owner, require_writer
from crm.choices import ActivityKind
from crm.models import Account, Activity, Contact

# Legal-form words that do not tell two companies apart ("Contoso Ltd" is "Contoso Limited").
LEGAL_SUFFIXES = {
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "srl",
    "bv",
    "nv",
    "pty",
    "kg",
    "oy",
    "ab",
    "as",
    "spa",
    "lp",
    "llp",
}
ACCOUNT_FIELDS = (
    "name",
    "parent",
    "legal_entity",
    "currency",
    "payment_terms_days",
    "tax_code",
    "billing_email",
    "status",
    "owner",
    "industry",
    "domain",
    "billing_contact",
    "dunning_policy",
)


class PossibleDuplicate(Conflict):
    """Another account looks like the same client; `fields["candidates"]` names them."""

    code = "possible_duplicate"


def normalize_name(name: str) -> str:
    """ "Contoso, Ltd." → "contoso": folded accents, lower case, no punctuation or legal-form words."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    kept = [word for word in words if word not in LEGAL_SUFFIXES]
    return " ".join(kept or words)


def normalize_domain(value: str) -> str:
    """ "https://www.Contoso.com/about" → "contoso.com"; an e-mail address gives its domain."""
    text = (value or "").strip().lower()
    text = text.rsplit("@", 1)[-1]
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.")


def duplicate_candidates(*, name: str, domain: str = "", exclude_id: int | None = None) -> list[dict]:
    """Accounts with the same normalized name or domain: [{"id", "name", "reason"}]."""
    key, site = normalize_name(name), normalize_domain(domain)
    found = {}
    for account in Account.objects.filter(normalized_name=key).exclude(pk=exclude_id).order_by("id"):
        found[account.pk] = {"id": account.pk, "name": account.name, "reason": "same name"}
    if site:
        for account in Account.objects.filter(domain=site).exclude(pk=exclude_id).order_by("id"):
            found.setdefault(account.pk, {"id": account.pk, "name": account.name, "reason": "same domain"})
    return list(found.values())


def _check_account(values: dict, *, exclude_id: int | None = None) -> None:
    from ledger.models import Currency

    problems = {}
    if not (values.get("name") or "").strip():
        problems["name"] = ["The client needs a name."]
    currency = values.get("currency") or ""
    if not Currency.objects.filter(code=currency, active=True).exists():
        problems["currency"] = [f"'{currency}' is not an active ISO 4217 currency."]
    terms = values.get("payment_terms_days")
    if terms is not None and not 0 <= terms <= 365:
        problems["payment_terms_days"] = ["Payment terms are 0 to 365 days."]
    if values.get("status") not in (None, *Account.Status.values):
        problems["status"] = [f"Choose one of: {', '.join(Account.Status.values)}."]
    parent = values.get("parent")
    if parent is not None and exclude_id is not None:
        seen = set()
        node = parent
        while node is not None and node.pk not in seen:
            if node.pk == exclude_id:
                problems["parent"] = ["A client cannot be its own parent or a parent of its parent."]
                break
            seen.add(node.pk)
            node = node.parent
    billing_contact = values.get("billing_contact")
    if billing_contact is not None and billing_contact.account_id != exclude_id:
        problems["billing_contact"] = ["The billing contact must be one of this client's contacts."]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)


@transaction.atomic
def create_account(*, actor, allow_duplicate: bool = False, **values) -> Account:
    """Create a client. A client with the same normalized name or domain is refused (409
    `possible_duplicate`, naming the candidates) unless `allow_duplicate` confirms it is another firm."""
    require_writer(actor)
    unknown = set(values) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown account fields: {sorted(unknown)}")
    values["name"] = (values.get("name") or "").strip()
    values["domain"] = normalize_domain(values.get("domain") or "")
    values.setdefault("owner", actor if getattr(actor, "is_authenticated", False) else None)
    _check_account(values)
    candidates = duplicate_candidates(name=values["name"], domain=values["domain"])
    if candidates and not allow_duplicate:
        first = candidates[0]
        raise PossibleDuplicate(
            f"“{first['name']}” looks like the same client ({first['reason']}). Open it, or confirm that "
            "this is another client.",
            fields={"name": [f"Possible duplicate of {c['name']} ({c['reason']})." for c in candidates]}
            | {"candidates": candidates},
        )
    account = Account.objects.create(normalized_name=normalize_name(values["name"]), **values)
    audit.record(
        actor=actor,
        action="account.created",
        obj=account,
        changes={name: getattr(account, f"{name}_id", None) or getattr(account, name) for name in values},
    )
    emit("account.created", account, {"name": account.name, "duplicates": candidates}, actor=actor)
    return account


@transaction.atomic
def update_account(*, actor, account: Account, **changes) -> Account:
    """Change a client's master data (owner's account manager, integrators, admins)."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_owner(actor, account.owner_id, "client")
    unknown = set(changes) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown account fields: {sorted(unknown)}")
    if "domain" in changes:
        changes["domain"] = normalize_domain(changes["domain"] or "")
    before = {name: getattr(account, name) for name in changes}
    values = {name: getattr(account, name) for name in ACCOUNT_FIELDS} | changes
    _check_account(values, exclude_id=account.pk)
    for name, value in changes.items():
        setattr(account, name, value)
    account.normalized_name = normalize_name(account.name)
    account.save()
    audit.record(actor=actor, action="account.updated", obj=account, changes=audit.diff(before, changes))
    return account


@transaction.atomic
def create_contact(*, actor, account: Account, name: str, email: str = "", phone: str = "", role: str = ""):
    require_owner(actor, account.owner_id, "client")
    if not name.strip():
        raise ValidationFailed("The contact needs a name.", fields={"name": ["Required."]})
    contact = Contact.objects.create(account=account, name=name.strip(), email=email, phone=phone, role=role)
    audit.record(actor=actor, action="contact.created", obj=contact, changes={"account": account.pk})
    return contact


@transaction.atomic
def update_contact(*, actor, contact: Contact, **changes) -> Contact:
    contact = Contact.objects.select_for_update(of=("self",)).select_related("account").get(pk=contact.pk)
    require_owner(actor, contact.account.owner_id, "client")
    unknown = set(changes) - {"name", "email", "phone", "role"}
    if unknown:
        raise TypeError(f"Unknown contact fields: {sorted(unknown)}")
    before = {name: getattr(contact, name) for name in changes}
    for name, value in changes.items():
        setattr(contact, name, value)
    if not contact.name.strip():
        raise ValidationFailed("The contact needs a name.", fields={"name": ["Required."]})
    contact.save()
    audit.record(actor=actor, action="contact.updated", obj=contact, changes=audit.diff(before, changes))
    return contact


@transaction.atomic
def create_activity(
    *,
    actor,
    account: Account,
    kind: str,
    subject: str,
    due,
    owner=None,
    opportunity=None,
    contract=None,
    contact=None,
    notes: str = "",
) -> Activity:
    """Log or plan a call, meeting, e-mail or task; it is the owner's (default: the actor) until done."""
    require_activity_writer(actor)
    problems = {}
    if kind not in ActivityKind.values:
        problems["kind"] = [f"Choose one of: {', '.join(ActivityKind.values)}."]
    if not subject.strip():
        problems["subject"] = ["Say what the activity is about."]
    for name, obj in (("opportunity", opportunity), ("contract", contract), ("contact", contact)):
        if obj is not None and obj.account_id != account.pk:
            problems[name] = [f"That {name} belongs to another client."]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)
    if owner is None and getattr(actor, "is_authenticated", False):
        owner = actor
    activity = Activity.objects.create(
        account=account,
        kind=kind,
        subject=subject.strip(),
        due=due,
        owner=owner,
        opportunity=opportunity,
        contract=contract,
        contact=contact,
        notes=notes,
    )
    audit.record(
        actor=actor,
        action="activity.created",
        obj=activity,
        changes={"kind": kind, "due": due, "owner": getattr(owner, "pk", None)},
    )
    return activity


@transaction.atomic
def complete_activity(*, actor, activity: Activity) -> Activity:
    """Mark an activity done (its owner, or anyone who may change the client's records)."""
    activity = Activity.objects.select_for_update(of=("self",)).select_related("account").get(pk=activity.pk)
    if activity.owner_id != getattr(actor, "pk", None):
        require_owner(actor, activity.account.owner_id, "client")
    if activity.done:
        return activity
    activity.done = True
    activity.done_at = timezone.now()
    activity.save(update_fields=["done", "done_at"])
    audit.record(actor=actor, action="activity.completed", obj=activity)
    return activity


@transaction.atomic
def set_credit_limit(*, actor, account: Account, credit_limit, reason: str) -> Account:
    """Finance sets (or with None removes) the open AR above which a client's new invoices are flagged."""
    from core.roles import Role, require_role

    require_role(actor, Role.FINANCE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the credit limit changes.", fields={"reason": ["Required."]})
    if credit_limit is not None and credit_limit < 0:
        raise ValidationFailed("A credit limit is zero or more.", fields={"credit_limit": ["Negative."]})
    account = Account.objects.select_for_update().get(pk=account.pk)
    before = account.credit_limit
    account.credit_limit = credit_limit
    account.save(update_fields=["credit_limit"])
    audit.record(
        actor=actor,
        action="account.credit_limit_set",
        obj=account,
        changes={"credit_limit": [before, credit_limit]},
        reason=reason,
    )
    return account
