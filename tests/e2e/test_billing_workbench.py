"""Finance starts a billing run for last month's approved time, watches its progress bar reach completed,
reviews the draft on the workbench (sees its flag, edits a line with a reason) and releases it."""

import os
import re
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.choices import InvoiceStatus, RunStatus
from billing.models import BillingRun, Invoice, LineAdjustment
from billing.services.runs import execute_billing_run
from billing.services.tax import create_tax_code
from core.roles import Role as UserRole
from crm.models import Account
from crm.services.contracts import create_contract
from crm.services.terms import normalise_line
from ledger.choices import AccountRole
from ledger.selectors import account_by_role
from ledger.services.setup import create_legal_entity
from projects.models import Person, Role
from projects.services.projects import create_project
from tests.billing.conftest import approved_time, tm_line
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal
# Set BILLING_SCREENSHOTS=/some/dir to keep screenshots of each step for a look.
SHOTS = os.environ.get("BILLING_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def last_month_with_approved_time(finance):
    """A client over its credit limit with 10.5 approved hours last month on a time-and-materials contract."""
    today = timezone.localdate()
    period_end = today.replace(day=1) - timedelta(days=1)
    entity = create_legal_entity(
        actor=None, name="Acme Consulting Inc.", functional_currency="USD", invoice_prefix="US-", today=today
    )
    create_tax_code(
        actor=finance,
        legal_entity=entity,
        code="VAT20",
        name="VAT 20%",
        rate_percent=D("20"),
        account=account_by_role(entity, AccountRole.TAX_PAYABLE),
    )
    client = Account.objects.create(
        name="Globex Corp",
        legal_entity=entity,
        currency="USD",
        tax_code="VAT20",
        billing_email="ap@globex.example",
        credit_limit=D("1000"),
    )
    senior = Role.objects.create(name="Senior")
    sam = Person.objects.create(
        name="Sam Senior", role=senior, legal_entity=entity, capacity_hours_per_week=D(40)
    )
    start = period_end.replace(day=1)
    line = tm_line(senior, "185.00", start=start, end=start + timedelta(days=365))
    contract = create_contract(
        actor=finance, account=client, currency="USD", lines=[normalise_line(line, "USD")]
    )
    project = create_project(
        actor=None,
        account=client,
        legal_entity=entity,
        code="GLX",
        name="Globex rollout",
        currency="USD",
        start=contract.start,
        end=contract.end,
        contract=contract,
        tasks=[{"name": "Delivery", "billable": True}],
    )
    approved_time(sam, project, start + timedelta(days=1), "8.00", "185.00", notes="Workshop")
    approved_time(sam, project, start + timedelta(days=2), "2.50", "185.00", notes="Follow-up")
    return entity, period_end


def test_run_review_and_release(page, make_user, monkeypatch):
    finance = make_user(UserRole.FINANCE, first_name="Farah", last_name="Finch")
    entity, period_end = last_month_with_approved_time(finance)
    # The run is queued rather than run inside the request, so the page shows it pending and polls; the
    # test then works it while the browser's clock is paused (no request shares the database meanwhile).
    from billing.tasks import run_billing

    monkeypatch.setattr(run_billing, "delay", lambda run_id: None)
    page.clock.install()

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(finance.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing runs", level=1)).to_be_visible()
    expect(page.get_by_text("No billing runs yet — start one")).to_be_visible()
    shot(page, "01-runs-empty")

    page.get_by_role("link", name="New run").click()
    expect(page.get_by_label("Bill work up to")).to_have_value(period_end.isoformat())
    page.get_by_role("button", name="Preview").click()
    summary = page.get_by_test_id("preview-summary")
    expect(summary).to_contain_text("$1,942.50")
    expect(page.get_by_role("cell", name="Senior: 10.50 h at 185.00")).to_be_visible()
    shot(page, "02-preview")
    assert not BillingRun.objects.exists()

    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"/billing/runs/\d+/$"))
    progress = page.get_by_test_id("run-progress")
    expect(progress).to_have_attribute("data-status", "pending")
    expect(progress).to_have_attribute("hx-trigger", "every 2s")
    shot(page, "03-run-pending")

    page.clock.pause_at(page.evaluate("Date.now()") + 10)
    time.sleep(0.5)  # a poll already on its way finishes before the test touches the database
    run = BillingRun.objects.get()
    assert page.url.endswith(f"/billing/runs/{run.pk}/")
    execute_billing_run(run_id=run.pk)
    # htmx settles swapped content on timers too, so the clock runs freely from here on.
    page.clock.resume()

    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-status", "completed")
    bar = page.get_by_role("progressbar", name="Contracts done")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_test_id("run-status")).to_have_text("Completed")
    expect(page.get_by_test_id("run-invoices")).to_have_text("1")
    shot(page, "04-run-completed")
    assert BillingRun.objects.get().status == RunStatus.COMPLETED

    page.get_by_role("link", name="Review 1 draft").click()
    card = page.get_by_test_id("draft-card")
    expect(card).to_contain_text("Globex Corp")
    expect(card.get_by_test_id("draft-flags")).to_contain_text("Credit limit")
    expect(card.get_by_test_id("draft-total")).to_have_text("$2,331.00")

    card.get_by_role("link", name="2 source rows of Senior: 10.50 h at 185.00").click()
    panel = card.get_by_test_id("line-panel")
    expect(panel.get_by_test_id("source-entry")).to_have_count(2)
    expect(panel).to_contain_text("Workshop")
    shot(page, "05-drill-down")

    card.get_by_role("link", name="Edit Senior: 10.50 h at 185.00").click()
    expect(card.get_by_role("heading", name="Edit “Senior: 10.50 h at 185.00”")).to_be_visible()
    card.get_by_role("textbox", name="Quantity", exact=True).fill("10")
    card.get_by_role("button", name="Save line").click()
    expect(card.get_by_text("Say why (it is kept in the audit trail).")).to_be_visible()
    shot(page, "06-edit-needs-reason")
    card.get_by_role("textbox", name="Reason", exact=True).fill("Half an hour was internal")
    card.get_by_role("button", name="Save line").click()
    expect(card.get_by_role("status")).to_contain_text("now bills $1,850.00")
    expect(card.get_by_test_id("draft-total")).to_have_text("$2,220.00")
    expect(card).to_contain_text("edited, was $1,942.50")
    assert LineAdjustment.objects.get().reason == "Half an hour was internal"
    shot(page, "07-edited")

    expect(card.get_by_label("Issue date")).to_have_value(timezone.localdate().isoformat())
    card.get_by_role("button", name=re.compile(r"^Release")).click()
    expect(card.get_by_role("status")).to_contain_text("Released as US-")
    invoice = Invoice.objects.get()
    expect(card.get_by_test_id("released-number")).to_have_text(invoice.number)
    expect(card.get_by_role("status")).to_contain_text(f"Released as {invoice.number}")
    shot(page, "08-released")
    assert (invoice.status, invoice.total_amount) == (InvoiceStatus.RELEASED, D("2220.00"))

    card.get_by_test_id("released-number").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    expect(page.get_by_test_id("invoice-balance")).to_have_text("$2,220.00")
    shot(page, "09-invoice")
