"""Approving an expense posts its cost: Dr cost of services (project, person) / Cr employee reimbursements
payable (person), in the expense's currency, once per expense, dated the expense's day; an expense dated in
a closed month is neither approved nor rejected until the month reopens."""

from datetime import date
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps

from core.errors import InvalidTransition
from ledger.choices import AccountRole
from ledger.errors import PeriodClosed
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.selectors import period_for
from ledger.services.setup import set_exchange_rate
from projects.choices import EntryStatus
from projects.models import Expense
from projects.services import expenses as expense_services
from projects.services.expenses import (
    approve_expense,
    approve_expenses,
    create_expense,
    reject_expense,
    submit_expense,
)
from tests.ledger.close_books import mark_closed

from .conftest import TODAY

D = Decimal
pytestmark = pytest.mark.django_db
COST, OWED = AccountRole.COST_OF_SERVICES, AccountRole.EMPLOYEE_REIMBURSEMENTS


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def submitted(firm):
    """submitted("120.00", currency=..., date=...) → a submitted expense of Chloe on GLX-1."""

    def make(amount, *, currency="USD", day=date(2026, 3, 16), category="travel"):
        expense = create_expense(
            actor=firm.chloe.user,
            person=firm.chloe,
            project=firm.project,
            date=day,
            category=category,
            amount=D(amount),
            currency=currency,
            today=TODAY,
        )
        return submit_expense(actor=firm.chloe.user, expense=expense)

    return make


def posted(expense: Expense) -> list[tuple]:
    lines = JournalLine.objects.filter(
        entry__source_type="projects.expense", entry__source_id=str(expense.pk)
    )
    return [
        (
            line.account.role,
            line.currency,
            line.debit,
            line.credit,
            line.functional_debit,
            line.functional_credit,
            line.project_id,
            line.person_id,
        )
        for line in lines.select_related("account").order_by("id")
    ]


def test_approval_posts_the_cost_on_the_expense_date(firm, submitted):
    expense = submitted("120.00")

    approve_expense(actor=firm.pm.user, expense=expense)

    entry = JournalEntry.objects.get(posting_key=f"projects.expense:{expense.pk}:cost")
    assert (entry.date, entry.source_type, entry.source_id) == (
        date(2026, 3, 16),
        "projects.expense",
        str(expense.pk),
    )
    project, chloe = firm.project.pk, firm.chloe.pk
    assert posted(expense) == [
        (COST, "USD", D("120.00"), D("0"), D("120.00"), D("0"), project, chloe),
        (OWED, "USD", D("0"), D("120.00"), D("0"), D("120.00"), None, chloe),
    ]
    expense.refresh_from_db()
    assert expense.status == EntryStatus.APPROVED


def test_a_foreign_currency_expense_posts_in_its_currency_at_the_dated_rate(firm, submitted):
    set_exchange_rate(
        actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 3, 10), rate=D("1.0853")
    )
    expense = submitted("99.99", currency="EUR", day=date(2026, 3, 12), category="lodging")

    approve_expense(actor=firm.pm.user, expense=expense)

    # 99.99 EUR × 1.0853 = 108.519147 → 108.52 USD on both sides.
    project, chloe = firm.project.pk, firm.chloe.pk
    assert posted(expense) == [
        (COST, "EUR", D("99.99"), D("0"), D("108.52"), D("0"), project, chloe),
        (OWED, "EUR", D("0"), D("99.99"), D("0"), D("108.52"), None, chloe),
    ]
    assert JournalEntry.objects.get(source_id=str(expense.pk)).date == date(2026, 3, 12)


def test_an_expense_whose_period_closed_meanwhile_is_neither_approved_nor_rejected(
    firm, submitted, make_user
):
    expense = submitted("45.50", day=date(2026, 2, 26), category="meals")
    # A period closed before its checklist refused unapproved expenses (close_period blocks on them now).
    mark_closed(period_for(firm.entity, date(2026, 2, 1)), make_user("finance"))

    with pytest.raises(PeriodClosed) as refused:
        approve_expense(actor=firm.pm.user, expense=expense)
    assert refused.value.code == "period_closed"
    with pytest.raises(PeriodClosed):
        reject_expense(actor=firm.pm.user, expense=expense, reason="Wrong project")

    expense.refresh_from_db()
    assert expense.status == EntryStatus.SUBMITTED
    assert not JournalEntry.objects.filter(source_id=str(expense.pk)).exists()


def test_bulk_approval_posts_every_expense_in_one_posting(firm, submitted, monkeypatch):
    expenses = [
        submitted("120.00"),
        submitted("35.25", category="meals"),
        submitted("1000.10", day=date(2026, 3, 2)),
    ]
    calls = []
    real = expense_services.post_entries

    def spy(*, actor, entries):
        calls.append(len(entries))
        return real(actor=actor, entries=entries)

    monkeypatch.setattr(expense_services, "post_entries", spy)

    approved = approve_expenses(actor=firm.pm.user, expenses=expenses)

    assert calls == [3]
    assert {e.status for e in approved} == {EntryStatus.APPROVED}
    cost = JournalLine.objects.filter(
        account__role=AccountRole.COST_OF_SERVICES, entry__source_type="projects.expense"
    )
    owed = JournalLine.objects.filter(
        account__role=AccountRole.EMPLOYEE_REIMBURSEMENTS, entry__source_type="projects.expense"
    )
    # 120.00 + 35.25 + 1,000.10 = 1,155.35
    assert sum(line.debit for line in cost) == D("1155.35")
    assert sum(line.credit for line in owed) == D("1155.35")
    assert JournalEntry.objects.filter(source_type="projects.expense").count() == 3


def test_approving_twice_never_posts_twice(firm, submitted):
    expense = submitted("120.00")
    approve_expense(actor=firm.pm.user, expense=expense)

    with pytest.raises(InvalidTransition):
        approve_expense(actor=firm.pm.user, expense=expense)
    # Even if the expense were put back in the inbox and approved again, its posting key holds.
    Expense.objects.filter(pk=expense.pk).update(status=EntryStatus.SUBMITTED)
    approve_expense(actor=firm.pm.user, expense=expense)

    assert JournalEntry.objects.filter(source_type="projects.expense").count() == 1
    assert len(posted(expense)) == 2


def test_a_refused_bulk_approval_changes_and_posts_nothing(firm, submitted):
    ready = submitted("120.00")
    draft = create_expense(
        actor=firm.chloe.user,
        person=firm.chloe,
        project=firm.project,
        date=date(2026, 3, 16),
        category="travel",
        amount=D("80.00"),
        currency="USD",
        today=TODAY,
    )

    with pytest.raises(InvalidTransition):
        approve_expenses(actor=firm.pm.user, expenses=[ready, draft])

    assert not JournalEntry.objects.filter(source_type="projects.expense").exists()
    assert set(Expense.objects.values_list("status", flat=True)) == {EntryStatus.SUBMITTED, EntryStatus.DRAFT}


def test_the_migration_gives_entities_without_it_the_reimbursements_account(firm):
    migration = import_module("ledger.migrations.0008_employee_reimbursements_account")
    GLAccount.objects.filter(legal_entity=firm.entity, role=AccountRole.EMPLOYEE_REIMBURSEMENTS).delete()
    # Someone already numbered an account 2050: the new one takes the next free code.
    GLAccount.objects.create(
        legal_entity=firm.entity,
        code="2050",
        name="Credit cards payable",
        type="liability",
        normal_balance="credit",
    )

    migration.add_reimbursement_accounts(apps, None)
    migration.add_reimbursement_accounts(apps, None)

    account = GLAccount.objects.get(legal_entity=firm.entity, role=AccountRole.EMPLOYEE_REIMBURSEMENTS)
    assert (account.code, account.name, account.type, account.normal_balance) == (
        "2051",
        "Employee reimbursements payable",
        "liability",
        "credit",
    )
