"""Finance posts a manual entry with the line editor, finds it in the journal, closes its period with a
reason, and sees the next posting into that period refused."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.roles import Role
from ledger.choices import PeriodStatus
from ledger.models import FiscalPeriod, JournalEntry
from ledger.services.setup import create_legal_entity
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fill_entry(page, memo: str, amount: str) -> None:
    page.get_by_role("textbox", name="Memo", exact=True).fill(memo)
    page.get_by_label("Account, line 1").select_option(label="6100 Rent and office")
    page.get_by_label("Debit, line 1").fill(amount)
    page.get_by_label("Account, line 2").select_option(label="2000 Accounts payable")
    page.get_by_label("Credit, line 2").fill(amount)


def test_post_entry_find_it_close_the_period_and_be_refused(page, make_user):
    today = timezone.localdate()
    entity = create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=today,
    )
    user = make_user(Role.FINANCE, first_name="Farah", last_name="Finch")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ledger/$"))
    expect(page.get_by_test_id("entity-card")).to_contain_text("Ledgerline Consulting Inc.")

    page.get_by_role("link", name="New journal entry").click()
    expect(page.get_by_role("heading", name="New journal entry", level=1)).to_be_visible()
    fill_entry(page, "Accrue November rent", "1250.00")
    page.get_by_label("Credit, line 2").fill("1200.00")
    expect(page.get_by_test_id("balance-status")).to_have_text("Not balanced")
    expect(page.get_by_test_id("entry-balance")).to_contain_text("Off by $50.00")
    page.get_by_label("Credit, line 2").fill("1250.00")
    expect(page.get_by_test_id("balance-status")).to_have_text("Balanced")
    page.get_by_role("button", name="Post entry").click()

    entry = JournalEntry.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"{entry.display_number} posted.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(entry.display_number)
    expect(page.get_by_role("row").filter(has_text="6100 Rent and office")).to_contain_text("$1,250.00")

    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Journal").click()
    row = page.get_by_role("row").filter(has_text="Accrue November rent")
    expect(row).to_contain_text(entry.display_number)
    expect(row).to_contain_text("$1,250.00")

    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Periods").click()
    month = f"{today:%Y-%m}"
    page.get_by_role("link", name=f"Close period {month}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Month-end close {month}")
    page.get_by_label("Reason").fill("November books are final")
    page.get_by_role("button", name="Close period").click()
    expect(page.get_by_role("status")).to_contain_text(f"Period {month} of {entity.name} is closed.")
    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Periods").click()
    current = page.get_by_role("row").filter(has_text=f"{month} P")
    expect(current).to_contain_text("Closed")
    expect(current).to_contain_text("Farah Finch")
    assert FiscalPeriod.objects.get(legal_entity=entity, start__lte=today, end__gte=today).status == (
        PeriodStatus.CLOSED
    )

    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="New entry").click()
    fill_entry(page, "Late rent correction", "10.00")
    expect(page.get_by_test_id("balance-status")).to_have_text("Balanced")
    page.get_by_role("button", name="Post entry").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"The period {month} is closed")
    expect(page.get_by_role("textbox", name="Memo", exact=True)).to_have_value("Late rent correction")
    expect(page.get_by_label("Debit, line 1")).to_have_value("10.00")
    assert JournalEntry.objects.count() == 1
