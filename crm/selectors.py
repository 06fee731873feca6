"""CRM reads: prices and costs from projects, consumption, forecast, account 360.

Other apps' tables are read through `apps.get_model` and only when they exist, so the CRM keeps working
while projects, billing and revenue recognition land one after another.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.apps import apps
from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from core.errors import DomainError
from core.models import Event
from core.money import quantize
from crm.choices import StageOutcome
from crm.models import Account, Activity, Contract, Opportunity, PipelineStage

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def other_model(label: str):
    """`app_label.Model` if that app defines it yet, else None."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _field_names(model) -> set[str]:
    return {f.name for f in model._meta.get_fields()}


def role_names(role_ids) -> dict[int, str]:
    Role = other_model("projects.Role")
    return dict(Role.objects.filter(pk__in=role_ids).values_list("pk", "name")) if role_ids else {}


def stages(*, open_only: bool = False):
    query = PipelineStage.objects.filter(active=True)
    return query.filter(outcome=StageOutcome.OPEN) if open_only else query


def standard_rates(*, role_ids, currency: str, on: date) -> dict[int, Decimal]:
    """The firm's standard rate per role (a rate card for no client or contract, in `currency`, valid on
    `on`), from the projects app's rate cards."""
    RateCard = other_model("projects.RateCard")
    if RateCard is None or not role_ids:
        return {}
    link = next(
        (
            rel
            for rel in RateCard._meta.related_objects
            if {"role", "rate"} <= _field_names(rel.related_model)
        ),
        None,
    )
    card_fields = _field_names(RateCard)
    if link is None or not {"account", "contract", "currency"} <= card_fields:
        return {}
    Rate = link.related_model
    rate_fields = _field_names(Rate)
    card = link.field.name
    rows = Rate.objects.filter(
        **{
            f"{card}__account__isnull": True,
            f"{card}__contract__isnull": True,
            f"{card}__currency": currency,
            "role_id__in": role_ids,
        }
    )
    if "active" in card_fields:
        rows = rows.filter(**{f"{card}__active": True})
    if {"valid_from", "valid_to"} <= rate_fields:
        rows = rows.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on)).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=on)
        )
    return {role_id: rate for role_id, rate in rows.order_by("pk").values_list("role_id", "rate")}


def average_cost_rates(*, role_ids, currency: str, on: date) -> dict[int, Decimal]:
    """The average current cost rate of the active people in each role, in `currency` (a cost rate in
    another currency is converted with the ledger's rate of `on`); roles without priced people are absent."""
    CostRate = other_model("projects.CostRate")
    if CostRate is None or not role_ids:
        return {}
    rows = (
        CostRate.objects.filter(person__role_id__in=role_ids, person__active=True, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .values_list("person__role_id", "rate", "currency")
    )
    from ledger.selectors import exchange_rate

    rates: dict[int, list[Decimal]] = defaultdict(list)
    for role_id, cost, source in rows:
        if source != currency:
            try:
                cost = cost * exchange_rate(source, currency, on)
            except DomainError:  # no rate on file for that day: that person cannot be priced
                continue
        rates[role_id].append(cost)
    return {
        role_id: (sum(values, ZERO) / len(values)).quantize(Decimal("0.0001"))
        for role_id, values in rates.items()
    }


def contract_consumption(contract: Contract) -> dict:
    """How much of the contract is used: {"consumed", "base", "percent"}.

    Base: the current lines' caps where set, else their amounts. Consumed: the larger of the approved
    time's value on the contract's projects (hours × bill rate) and what was invoiced against it, from
    what projects and billing record (zero while they do not exist). Percent is None without a base.
    """
    lines = contract.all_lines.filter(contract_version__number=contract.version)
    base = sum(((line.cap_amount if line.cap_amount is not None else line.amount) for line in lines), ZERO)
    consumed_time = ZERO
    TimeEntry = other_model("projects.TimeEntry")
    if TimeEntry is not None and {"project", "hours", "bill_rate", "status"} <= _field_names(TimeEntry):
        entries = TimeEntry.objects.filter(
            project__contract=contract, status__in=["approved", "billed"], bill_rate__isnull=False
        ).values_list("hours", "bill_rate")
        consumed_time = sum((hours * rate for hours, rate in entries), ZERO)
    billed = ZERO
    Invoice = other_model("billing.Invoice")
    if Invoice is not None and {"contract", "subtotal_amount", "status"} <= _field_names(Invoice):
        billed = (
            Invoice.objects.filter(contract=contract)
            .exclude(status__in=["draft", "void"])
            .aggregate(total=Sum("subtotal_amount"))["total"]
            or ZERO
        )
    consumed = quantize(max(consumed_time, billed), contract.currency)
    percent = (consumed * HUNDRED / base).quantize(Decimal("0.01")) if base > 0 else None
    return {"consumed": consumed, "base": quantize(base, contract.currency), "percent": percent}


def weighted(amount: Decimal, probability: int, currency: str) -> Decimal:
    return quantize(amount * probability / HUNDRED, currency)


def open_opportunities():
    return Opportunity.objects.filter(stage__in=stages(open_only=True).values("code"))


def forecast(*, owner=None) -> dict:
    """The weighted open pipeline by expected-close month and by owner, per currency (never added across
    currencies): {"by_month": [...], "by_owner": [...], "totals": [...]}."""
    query = open_opportunities().select_related("owner")
    if owner is not None:
        query = query.filter(owner=owner)
    rows = query.annotate(month=TruncMonth("expected_close")).values(
        "month",
        "currency",
        "amount",
        "probability",
        "owner_id",
        "owner__first_name",
        "owner__last_name",
        "owner__username",
    )
    by_month: dict = {}
    by_owner: dict = {}
    totals: dict = {}
    for row in rows:
        value = weighted(row["amount"], row["probability"], row["currency"])
        month = row["month"].date() if hasattr(row["month"], "date") else row["month"]
        name = " ".join(filter(None, [row["owner__first_name"], row["owner__last_name"]])) or (
            row["owner__username"] or "Unassigned"
        )
        for bucket, key, extra in (
            (by_month, (month, row["currency"]), {"month": month}),
            (by_owner, (name, row["currency"]), {"owner": name, "owner_id": row["owner_id"]}),
            (totals, (row["currency"],), {}),
        ):
            entry = bucket.setdefault(
                key, {**extra, "currency": row["currency"], "count": 0, "amount": ZERO, "weighted": ZERO}
            )
            entry["count"] += 1
            entry["amount"] += row["amount"]
            entry["weighted"] += value
    return {
        "by_month": [by_month[key] for key in sorted(by_month)],
        "by_owner": sorted(by_owner.values(), key=lambda e: (-e["weighted"], e["owner"])),
        "totals": [totals[key] for key in sorted(totals)],
    }


def my_open_activities(user):
    return (
        Activity.objects.filter(owner=user, done=False)
        .select_related("account", "opportunity", "contract")
        .order_by("due", "id")
    )


def _projects_of(contract_ids) -> list[dict]:
    Project = other_model("projects.Project")
    if Project is None or not contract_ids or "contract" not in _field_names(Project):
        return []
    shown = ("id", "code", "name", "status", "currency", "budget_hours", "budget_amount", "start", "end")
    fields = [name for name in shown if name in _field_names(Project)]
    projects = Project.objects.filter(contract_id__in=contract_ids)
    return list(projects.values(*fields, "contract_id").order_by("id"))


def project_burn(project: dict) -> dict:
    """Approved time on the project against its budget: {"hours", "amount", "percent"} (None: unknown)."""
    TimeEntry = other_model("projects.TimeEntry")
    result = {"hours": None, "amount": None, "percent": None}
    if TimeEntry is None or not {"project", "hours", "status"} <= _field_names(TimeEntry):
        return result
    entries = TimeEntry.objects.filter(project_id=project["id"], status__in=["approved", "billed"])
    hours = entries.aggregate(total=Sum("hours"))["total"] or ZERO
    result["hours"] = hours
    if "bill_rate" in _field_names(TimeEntry):
        amount = sum((h * (r or ZERO) for h, r in entries.values_list("hours", "bill_rate")), ZERO)
        result["amount"] = quantize(amount, project.get("currency") or "USD")
    budget_amount, budget_hours = project.get("budget_amount"), project.get("budget_hours")
    if budget_amount and result["amount"] is not None:
        result["percent"] = (result["amount"] * HUNDRED / budget_amount).quantize(Decimal("0.1"))
    elif budget_hours:
        result["percent"] = (hours * HUNDRED / budget_hours).quantize(Decimal("0.1"))
    return result


def account_360(account: Account) -> dict:
    """Everything about a client on one page: subsidiaries, opportunities, contracts, projects with budget
    burn, open receivables and AR balance per currency, activities, and recent events."""
    from ledger.models import ArItem

    opportunities = list(
        account.opportunities.select_related("owner").order_by("-expected_close", "-id")[:50]
    )
    contracts = list(account.contracts.order_by("-start", "-id"))
    projects = _projects_of([c.pk for c in contracts])
    for project in projects:
        project["burn"] = project_burn(project)
    open_items = list(ArItem.objects.filter(client=account).exclude(open_amount=0).order_by("due_date", "id"))
    balances = defaultdict(lambda: ZERO)
    for item in open_items:
        balances[item.currency] += item.open_amount
    subjects = Q(subject_type="crm.account", subject_id=str(account.pk))
    subjects |= Q(subject_type="crm.opportunity", subject_id__in=[str(o.pk) for o in opportunities])
    subjects |= Q(subject_type="crm.contract", subject_id__in=[str(c.pk) for c in contracts])
    events = list(Event.objects.filter(subjects).order_by("-id")[:20])
    today = timezone.localdate()
    return {
        "account": account,
        "subsidiaries": list(account.subsidiaries.order_by("name")),
        "contacts": list(account.contacts.all()),
        "opportunities": opportunities,
        "open_pipeline": [o for o in opportunities if o.is_open],
        "contracts": contracts,
        "projects": projects,
        "open_items": open_items,
        "ar_balances": sorted(balances.items()),
        "overdue": [item for item in open_items if item.amount > 0 and item.due_date < today],
        "activities": list(account.activities.select_related("owner").order_by("done", "due", "id")[:30]),
        "events": events,
    }
