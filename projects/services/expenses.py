"""Expenses: recording them with their receipt, converting them to the project's currency at the day's
rate, and submit → approve | reject by the project's manager. Approval posts the expense's cost."""

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.events import emit
from core.money import quantize
from ledger.choices import AccountRole
from ledger.errors import PeriodClosed
from ledger.models import GLAccount, LegalEntity
from ledger.selectors import exchange_rate
from ledger.services.posting import EntrySpec, LineSpec, post_entries
from projects.access import may_approve, require_write_for
from projects.choices import (
    DEFAULT_MARKUP_PERCENT,
    EDITABLE_STATUSES,
    EntryStatus,
    ExpenseCategory,
    ProjectStatus,
)
from projects.errors import Locked
from projects.models import Assignment, Expense, Person, Project
from projects.receipts import sniff_receipt, stored_name
from projects.services.common import (
    check_currency,
    closed_period_label,
    closed_periods,
    record_many,
    refuse_closed_periods,
)

EXPENSE_FIELDS = (
    "project",
    "date",
    "category",
    "amount",
    "currency",
    "billable",
    "markup_percent",
    "notes",
    "receipt",
)
MAX_MARKUP = Decimal(1000)
EXPENSE_SOURCE = "projects.expense"
COST_ROLES = (AccountRole.COST_OF_SERVICES, AccountRole.EMPLOYEE_REIMBURSEMENTS)


def _state(expense: Expense) -> dict:
    return {
        "project": expense.project_id,
        "date": expense.date,
        "category": expense.category,
        "amount": expense.amount,
        "currency": expense.currency,
        "billable": expense.billable,
        "markup_percent": expense.markup_percent,
        "exchange_rate": expense.exchange_rate,
        "converted_amount": expense.converted_amount,
        "receipt": expense.receipt_name,
        "status": expense.status,
    }


def _check(
    *, person: Person, project: Project, day: date, category: str, amount, currency: str, markup, today: date
) -> None:
    errors: dict[str, list[str]] = {}
    if category not in ExpenseCategory.values:
        errors["category"] = [f"Choose one of: {', '.join(ExpenseCategory.values)}."]
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors["amount"] = ["The amount must be more than 0."]
    elif quantize(amount, currency) != amount:
        errors["amount"] = [f"{currency} amounts have at most as many decimals as its minor unit."]
    if not Decimal(0) <= markup <= MAX_MARKUP:
        errors["markup_percent"] = ["The markup is 0 to 1000 percent."]
    if day > today:
        errors["date"] = ["Expenses are recorded once spent: the date cannot be in the future."]
    if project.status != ProjectStatus.ACTIVE:
        errors["project"] = [
            f"{project.code} is {project.get_status_display().lower()}; expenses go on active projects."
        ]
    elif not project.runs_on(day):
        errors.setdefault("date", []).append(
            f"{project.code} runs from {project.start.isoformat()} to {project.end.isoformat()}; "
            f"{day.isoformat()} is outside it."
        )
    assigned = Assignment.objects.filter(
        person=person, project=project, start__lte=day, end__gte=day
    ).exists()
    if not project.allow_any_person and not assigned:
        errors.setdefault("project", []).append(
            f"{person.name} is not assigned to {project.code} on {day.isoformat()}."
        )
    label = closed_period_label(
        closed_periods([project.legal_entity_id], day, day), project.legal_entity_id, day
    )
    if label:
        entity = LegalEntity.objects.get(pk=project.legal_entity_id)
        errors.setdefault("date", []).append(
            f"The period {label} of {entity.name} is closed; "
            f"an expense dated {day.isoformat()} cannot be recorded."
        )
    if errors:
        first = next(iter(errors.values()))[0]
        # A closed month is its own code (`period_closed`), as the ledger refuses postings into it.
        raise (PeriodClosed if label else ValidationFailed)(first, fields=errors)


def _convert(expense: Expense) -> None:
    """Snapshot the conversion to the project's currency at the rate of the expense's date."""
    project_currency = expense.project.currency
    rate = exchange_rate(expense.currency, project_currency, expense.date)
    expense.project_currency = project_currency
    expense.exchange_rate = rate
    expense.converted_amount = quantize(expense.amount * rate, project_currency)


def _attach(expense: Expense, upload) -> None:
    receipt = sniff_receipt(upload)
    expense.receipt.save(stored_name(receipt), File(upload), save=False)
    expense.receipt_name = receipt.original_name
    expense.receipt_content_type = receipt.content_type
    expense.receipt_size = receipt.size


@transaction.atomic
def create_expense(
    *,
    actor,
    person: Person,
    project: Project,
    date: date,
    category: str,
    amount: Decimal,
    currency: str,
    billable: bool = True,
    markup_percent: Decimal | None = None,
    notes: str = "",
    receipt=None,
    today: date | None = None,
) -> Expense:
    """Record a draft expense; the markup defaults from the category, the amount is converted to the
    project's currency at the date's exchange rate, and the receipt (PDF/JPEG/PNG ≤ 10 MB) is stored."""
    require_write_for(actor, person)
    check_currency(currency)
    markup = DEFAULT_MARKUP_PERCENT.get(category, Decimal(0)) if markup_percent is None else markup_percent
    _check(
        person=person,
        project=project,
        day=date,
        category=category,
        amount=amount,
        currency=currency,
        markup=markup,
        today=today or timezone.localdate(),
    )
    expense = Expense(
        person=person,
        project=project,
        date=date,
        category=category,
        amount=amount,
        currency=currency,
        billable=billable,
        markup_percent=markup,
        notes=(notes or "").strip()[:500],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _convert(expense)
    if receipt is not None:
        _attach(expense, receipt)
    expense.save()
    audit.record(actor=actor, action="expense.created", obj=expense, changes=_state(expense))
    return expense


def _locked(expense: Expense) -> Expense:
    return (
        Expense.objects.select_for_update(of=("self",))
        .select_related("person", "project__manager")
        .get(pk=expense.pk)
    )


def _editable(expense: Expense) -> None:
    if expense.status not in EDITABLE_STATUSES:
        raise Locked(
            f"This expense is {expense.get_status_display().lower()}; only draft or rejected expenses change."
        )


@transaction.atomic
def update_expense(*, actor, expense: Expense, today: date | None = None, **changes) -> Expense:
    """Change a draft (or rejected) expense; it is checked and converted again. A `receipt` replaces the
    file."""
    unknown = sorted(set(changes) - set(EXPENSE_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    expense = _locked(expense)
    require_write_for(actor, expense.person)
    _editable(expense)
    refuse_closed_periods([(expense.project.legal_entity_id, expense.date)], "an expense")
    before = _state(expense)
    upload = changes.pop("receipt", None)
    if "currency" in changes:
        check_currency(changes["currency"])
    if "category" in changes and "markup_percent" not in changes:
        changes["markup_percent"] = DEFAULT_MARKUP_PERCENT.get(changes["category"], Decimal(0))
    for key, value in changes.items():
        setattr(expense, key, value.strip()[:500] if key == "notes" else value)
    _check(
        person=expense.person,
        project=expense.project,
        day=expense.date,
        category=expense.category,
        amount=expense.amount,
        currency=expense.currency,
        markup=expense.markup_percent,
        today=today or timezone.localdate(),
    )
    _convert(expense)
    if upload is not None:
        _attach(expense, upload)
    expense.save()
    diff = audit.diff(before, _state(expense))
    if diff:
        audit.record(actor=actor, action="expense.changed", obj=expense, changes=diff)
    return expense


@transaction.atomic
def delete_expense(*, actor, expense: Expense) -> None:
    """Remove a draft (or rejected) expense and its receipt."""
    expense = _locked(expense)
    require_write_for(actor, expense.person)
    _editable(expense)
    refuse_closed_periods([(expense.project.legal_entity_id, expense.date)], "an expense")
    audit.record(actor=actor, action="expense.deleted", obj=expense, changes=_state(expense))
    receipt = expense.receipt.name
    storage = expense.receipt.storage
    expense.delete()
    if receipt:
        transaction.on_commit(lambda: storage.delete(receipt), robust=True)


def _transition(expense: Expense, allowed: tuple, target: str, verb: str) -> str:
    if expense.status not in allowed:
        raise InvalidTransition(
            f"This expense is {expense.get_status_display().lower()}; it cannot be {verb}."
        )
    before = expense.status
    expense.status = target
    return before


@transaction.atomic
def submit_expense(*, actor, expense: Expense) -> Expense:
    """Send a draft (or rejected) expense to the project's manager for approval."""
    expense = _locked(expense)
    require_write_for(actor, expense.person)
    before = _transition(expense, EDITABLE_STATUSES, EntryStatus.SUBMITTED, "submitted")
    refuse_closed_periods([(expense.project.legal_entity_id, expense.date)], "an expense")
    expense.submitted_at = timezone.now()
    expense.rejection_reason = ""
    expense.save(update_fields=["status", "submitted_at", "rejection_reason", "updated_at"])
    audit.record(
        actor=actor, action="expense.submitted", obj=expense, changes={"status": [before, expense.status]}
    )
    emit(
        "expense.submitted",
        expense,
        {"project": expense.project_id, "person": expense.person_id},
        actor=actor,
    )
    return expense


def _check_approver(actor, expense: Expense, doing: str) -> None:
    if not may_approve(actor, expense.project):
        raise PermissionDenied(f"Only the manager of {expense.project.code} may {doing} its expenses.")
    if actor is not None and expense.person.user_id == actor.pk:
        raise PermissionDenied("You cannot approve or reject your own expenses.")


def _lock_many(expenses: Iterable[Expense]) -> list[Expense]:
    # Primary-key order, so two approvers locking overlapping sets cannot deadlock.
    ids = sorted({expense.pk for expense in expenses})
    return list(
        Expense.objects.select_for_update(of=("self",))
        .select_related("person", "project__manager")
        .filter(pk__in=ids)
        .order_by("pk")
    )


def _cost_entries(expenses: Sequence[Expense]) -> list[EntrySpec]:
    """The cost postings of approved expenses: Dr cost of services (project, person) / Cr employee
    reimbursements payable (person), in the expense's own currency; the ledger converts to the entity's
    functional currency at the rate of the entry's date.

    An entry is dated on the expense's date: approval refuses expenses dated in a closed month (the close
    checklist blocks while any wait for approval, so only a reopened month lets one through).
    """
    entity_ids = {expense.project.legal_entity_id for expense in expenses}
    entities = LegalEntity.objects.in_bulk(entity_ids)
    accounts = {
        (account.legal_entity_id, account.role): account
        for account in GLAccount.objects.filter(legal_entity_id__in=entity_ids, role__in=COST_ROLES)
    }
    for entity_id in sorted(entity_ids):
        missing = [AccountRole(role).label for role in COST_ROLES if (entity_id, role) not in accounts]
        if missing:
            raise ValidationFailed(
                f"{entities[entity_id].name} has no {' or '.join(missing)} account to post expenses to; "
                "finance must add it to the chart first."
            )
    specs = []
    for expense in expenses:
        entity_id = expense.project.legal_entity_id
        amount = quantize(expense.amount, expense.currency)
        memo = (
            f"Expense {expense.pk}: {expense.get_category_display()} of {expense.person.name} "
            f"on {expense.project.code}, {expense.date.isoformat()}"
        )
        specs.append(
            EntrySpec(
                legal_entity=entities[entity_id],
                date=expense.date,
                memo=memo,
                lines=[
                    LineSpec(
                        account=accounts[(entity_id, AccountRole.COST_OF_SERVICES)],
                        currency=expense.currency,
                        debit=amount,
                        project_id=expense.project_id,
                        person_id=expense.person_id,
                        memo=memo,
                    ),
                    LineSpec(
                        account=accounts[(entity_id, AccountRole.EMPLOYEE_REIMBURSEMENTS)],
                        currency=expense.currency,
                        credit=amount,
                        person_id=expense.person_id,
                        memo=f"Owed to {expense.person.name} for expense {expense.pk}",
                    ),
                ],
                source_type=EXPENSE_SOURCE,
                source_id=str(expense.pk),
                posting_key=f"{EXPENSE_SOURCE}:{expense.pk}:cost",
            )
        )
    return specs


@transaction.atomic
def approve_expenses(*, actor, expenses: Iterable[Expense]) -> list[Expense]:
    """Approve submitted expenses (all or none) and post their cost to the ledger in one posting.

    Each needs the approver to manage its project and not to be its author. Approved expenses are locked
    and billing may rebill them; each posts once (its posting key), whoever approves it and however often.
    """
    locked = _lock_many(expenses)
    if not locked:
        return []
    for expense in locked:
        _check_approver(actor, expense, "approve")
        if expense.status != EntryStatus.SUBMITTED:
            raise InvalidTransition(
                f"This expense is {expense.get_status_display().lower()}; it cannot be approved."
            )
    refuse_closed_periods([(e.project.legal_entity_id, e.date) for e in locked], "an expense")
    now = timezone.now()
    approver = actor if getattr(actor, "is_authenticated", False) else None
    Expense.objects.filter(pk__in=[e.pk for e in locked]).update(
        status=EntryStatus.APPROVED, approved_at=now, approved_by=approver, updated_at=now
    )
    post_entries(actor=actor, entries=_cost_entries(locked))
    record_many(
        actor=actor,
        action="expense.approved",
        objects=locked,
        changes={"status": [EntryStatus.SUBMITTED, EntryStatus.APPROVED]},
    )
    for expense in locked:
        expense.status, expense.approved_at, expense.approved_by = EntryStatus.APPROVED, now, approver
        emit(
            "expense.approved",
            expense,
            {
                "project": expense.project_id,
                "person": expense.person_id,
                "billable": expense.billable,
                "amount": expense.converted_amount,
                "currency": expense.project_currency,
            },
            actor=actor,
        )
    return locked


@transaction.atomic
def approve_expense(*, actor, expense: Expense) -> Expense:
    """Approve a submitted expense; it is locked, billing may rebill it, and its cost is posted."""
    return approve_expenses(actor=actor, expenses=[expense])[0]


@transaction.atomic
def reject_expense(*, actor, expense: Expense, reason: str) -> Expense:
    """Send a submitted expense back to its author with a reason (required)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why the expense is rejected.", fields={"reason": ["A reason is required."]}
        )
    expense = _locked(expense)
    _check_approver(actor, expense, "reject")
    refuse_closed_periods([(expense.project.legal_entity_id, expense.date)], "an expense")
    before = _transition(expense, (EntryStatus.SUBMITTED,), EntryStatus.REJECTED, "rejected")
    expense.rejected_at = timezone.now()
    expense.rejected_by = actor if getattr(actor, "is_authenticated", False) else None
    expense.rejection_reason = reason[:500]
    expense.save(update_fields=["status", "rejected_at", "rejected_by", "rejection_reason", "updated_at"])
    audit.record(
        actor=actor,
        action="expense.rejected",
        obj=expense,
        changes={"status": [before, expense.status]},
        reason=reason,
    )
    emit(
        "expense.rejected", expense, {"project": expense.project_id, "person": expense.person_id}, actor=actor
    )
    return expense
