"""Finance opens March's close checklist, sees billing and revenue block it, is refused the close with
the blockers listed, checks again once the runs are done, closes, and reads the close report."""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

import re

import pytest
from playwright.sync_api import expect

from ledger.choices import PeriodStatus
from ledger.models import PeriodCloseReport
from tests.factories import PASSWORD
from tests.ledger.close_books import (  # noqa: F401 - fixtures
    bill,
    client_account,
    entity,
    finance,
    make_contract,
    people,
    recognise,
    roles,
    vat20,
    worked,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_finance_sees_the_blockers_fixes_them_and_closes(page, worked, finance):
    finance.first_name, finance.last_name = "Fiona", "Field"
    finance.save(update_fields=["first_name", "last_name"])
    # The live server's first page (and its static files) can be slow on a busy machine.
    page.goto("/accounts/login/", timeout=30000)
    page.get_by_label("Username").fill(finance.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ledger/$"))

    page.goto(f"/ledger/periods/?legal_entity={worked.entity.pk}")
    page.get_by_role("link", name="Checklist 2026-03").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Month-end close 2026-03")
    billing = page.locator("section[aria-labelledby='item-billing']")
    expect(billing).to_have_attribute("data-status", "blocking")
    expect(billing).to_contain_text("No completed billing run of the whole entity reaches 2026-03-31")
    expect(billing.get_by_role("row").filter(has_text=worked.project.code)).to_contain_text("10.00")
    expect(billing.get_by_role("link", name="Start a billing run")).to_have_attribute(
        "href", "/billing/runs/new/"
    )
    expect(page.locator("section[aria-labelledby='item-approvals']")).to_have_attribute("data-status", "ok")

    page.get_by_label("Reason").fill("March books are final")
    page.get_by_role("button", name="Close period").click()
    blockers = page.locator("#close-blockers")
    expect(blockers).to_contain_text("Billing run completed")
    expect(blockers).to_contain_text("Revenue run completed")
    worked.period.refresh_from_db()
    assert worked.period.status == PeriodStatus.OPEN

    # Billing and revenue do their month end; the checklist is read again in place.
    bill(finance, worked.entity)
    recognise(finance, worked.entity)
    page.get_by_role("button", name="Check again").click()
    expect(page.locator("section[aria-labelledby='item-billing']")).to_have_attribute("data-status", "ok")
    expect(page.locator("section[aria-labelledby='item-revenue']")).to_have_attribute("data-status", "ok")
    expect(page.locator("[data-status='blocking']")).to_have_count(0)

    page.get_by_label("Reason").fill("March books are final")
    page.get_by_role("button", name="Close period").click()
    expect(page.get_by_role("status")).to_contain_text(f"Period 2026-03 of {worked.entity.name} is closed.")
    expect(page.get_by_text(re.compile(r"^Closed by Fiona Field at"))).to_be_visible()
    expect(page.get_by_role("button", name="Reopen period")).to_be_visible()

    page.get_by_role("link", name="The checklist, trial balance and P&L at the close").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Close report 2026-03")
    trial_balance = page.locator("section[aria-labelledby='tb-heading']")
    expect(trial_balance.locator("tfoot")).to_contain_text("$3,300.00")
    expect(page.locator("section[aria-labelledby='pl-month']")).to_contain_text("$1,500.00")
    assert PeriodCloseReport.objects.get().reason == "March books are final"
