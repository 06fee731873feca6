"""Approved billable expenses: each at cost plus markup, rounded per expense, one line per category."""

from datetime import date

from django.db.models import Exists, OuterRef

from billing.choices import ExceptionKind, SourceType
from billing.models import ExpenseBilling
from billing.services.drafts.types import ZERO, DraftLine
from core.money import quantize
from projects.choices import EntryStatus, ExpenseCategory
from projects.models import Expense


def unbilled_expenses(contract_ids, period_end: date):
    return Expense.objects.filter(
        project__contract_id__in=contract_ids,
        status=EntryStatus.APPROVED,
        billable=True,
        date__lte=period_end,
    ).filter(~Exists(ExpenseBilling.objects.filter(expense_id=OuterRef("pk"))))


def rebill_amount(converted_amount, markup_percent, currency: str):
    """An expense's rebilled value: cost × (1 + markup), rounded to the currency on its own."""
    return quantize(converted_amount * (100 + markup_percent) / 100, currency)


def draft_expenses(drafts: dict, plans, period_end: date) -> None:
    rows = (
        unbilled_expenses(list(drafts), period_end)
        .values_list(
            "id",
            "project_id",
            "project__contract_id",
            "category",
            "converted_amount",
            "markup_percent",
            "project_currency",
            "date",
        )
        .order_by("project__contract_id", "project_id", "category", "date", "id")
    )
    lines: dict[tuple, DraftLine] = {}
    for pk, project_id, contract_id, category, converted, markup, currency, day in rows:
        draft = drafts[contract_id]
        plan = plans.first_of(contract_id)
        if plan is None or currency != draft.contract.currency:
            draft.add_exception(
                ExceptionKind.NO_PLAN if plan is None else ExceptionKind.CURRENCY,
                f"Expense {pk} ({converted} {currency}) cannot be billed on contract "
                f"{draft.contract.number}: "
                + ("it has no billing plan." if plan is None else f"it bills in {draft.contract.currency}."),
                project=project_id,
                expense=pk,
            )
            continue
        key = (contract_id, project_id, category)
        line = lines.get(key)
        if line is None:
            line = lines[key] = DraftLine(
                description="",
                source_type=SourceType.EXPENSE,
                quantity=1,
                unit_price=ZERO,
                amount=ZERO,
                plan_id=plan.pk,
                project_id=project_id,
                category=category,
                first_date=day,
            )
            draft.lines.append(line)
        amount = rebill_amount(converted, markup, currency)
        line.amount += amount
        line.unit_price = line.amount
        line.last_date = day
        line.expense_links.append((pk, amount))
    for line in lines.values():
        count = len(line.expense_links)
        label = (
            ExpenseCategory(line.category).label if line.category in ExpenseCategory.values else line.category
        )
        line.description = f"Expenses: {label} ({count} item{'s' if count != 1 else ''})"
