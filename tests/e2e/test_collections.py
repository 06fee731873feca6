"""Finance opens the collections workbench, sees the clients ranked with the reason, records a promise to pay
and disputes an invoice from the client's page."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.roles import Role
from crm.models import Account, Activity
from ledger.models import CollectionHold
from ledger.services.setup import create_legal_entity
from tests.factories import PASSWORD
from tests.ledger.test_dunning import post_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# Set to a folder to keep screenshots of the pages for a look.
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def patient(page):
    """The workbench computes a year of trends; on a busy shared machine a page may take over 5 seconds."""
    page.set_default_timeout(30000)
    expect.set_options(timeout=30000)
    yield page
    expect.set_options(timeout=5000)


def test_workbench_promise_and_dispute(patient, make_user):
    page = patient
    today = timezone.localdate()
    entity = create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=today,
    )
    manager = make_user(Role.PROJECT_MANAGER, first_name="Abe", last_name="Manager")
    globex = Account.objects.create(
        name="Globex", legal_entity=entity, currency="USD", billing_email="ap@globex.example", owner=manager
    )
    initech = Account.objects.create(name="Initech", legal_entity=entity, currency="USD")
    for number, client, amount, overdue in (
        (1, globex, "4000.00", 45),
        (2, globex, "600.00", 12),
        (3, initech, "900.00", 20),
    ):
        due = today - timedelta(days=overdue)
        post_invoice(entity, client, number, amount, on=due - timedelta(days=30), due=due)
    user = make_user(Role.FINANCE, first_name="Farah", last_name="Finch")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ledger/$"))
    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Collections").click()

    expect(page.get_by_role("heading", name="Collections", level=1)).to_be_visible()
    expect(page.get_by_test_id("total-overdue")).to_have_text("$5,500.00")
    rows = page.get_by_role("table", name="Overdue clients").locator("tbody tr")
    expect(rows).to_have_count(2)
    # Globex: 4,000 × 45 + 600 × 12 = 187,200; Initech: 900 × 20 = 18,000.
    expect(rows.nth(0)).to_contain_text("Globex")
    expect(rows.nth(0)).to_contain_text("187,200")
    expect(rows.nth(0)).to_contain_text("$4,600.00 overdue for 41 days on average")
    expect(rows.nth(1)).to_contain_text("Initech")
    shot(page, "collections-workbench")

    page.get_by_role("link", name="Globex").click()
    expect(page.get_by_role("heading", name="Globex", level=1)).to_be_visible()
    page.get_by_role("button", name="Record a promise to pay").click()
    promise_day = today + timedelta(days=7)
    page.get_by_label("Pay by").fill(promise_day.isoformat())
    page.get_by_label("Promised amount").fill("4000")
    page.get_by_label(re.compile("US-2026-000001")).check()
    page.get_by_label("Note", exact=True).fill("CFO on the phone")
    page.get_by_role("button", name="Record promise").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Promise to pay $4,000.00 by {promise_day.isoformat()}"
    )
    expect(page.get_by_role("row").filter(has_text="US-2026-000001")).to_contain_text(
        f"Promised by {promise_day.isoformat()}"
    )

    page.get_by_role("button", name="Open a dispute").click()
    page.get_by_role("combobox", name=re.compile(r"^Invoice")).select_option(
        label=f"US-2026-000002 · due {(today - timedelta(days=12)).isoformat()} · $600.00 open"
    )
    page.get_by_role("textbox", name=re.compile(r"^Reason")).fill("Hours billed twice")
    page.get_by_role("button", name="Mark disputed").click()
    expect(page.get_by_role("status")).to_contain_text("Invoice US-2026-000002 is disputed")
    expect(page.get_by_role("row").filter(has_text="US-2026-000002")).to_contain_text("Disputed")
    shot(page, "collections-client")

    assert list(CollectionHold.objects.order_by("id").values_list("kind", "status")) == [
        ("promise", "open"),
        ("dispute", "open"),
    ]
    assert Activity.objects.get().owner == manager

    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Collections").click()
    globex_row = (
        page.get_by_role("table", name="Overdue clients").locator("tbody tr").filter(has_text="Globex")
    )
    expect(globex_row).to_contain_text("Disputed US-2026-000002")
    expect(globex_row).to_contain_text("$600.00 disputed, not counted")
