"""Finance starts a dunning run from the dunning page, reads its notice and the client skipped on a dispute,
and watches a pending run's progress bar poll until the run completes."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.roles import Role
from crm.models import Account
from ledger.models import DunningRun
from ledger.services.collections import open_dispute
from ledger.services.setup import create_legal_entity
from tests.factories import PASSWORD
from tests.ledger.test_dunning import level, make_policy, post_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_start_a_run_read_it_and_watch_a_pending_one_finish(page, make_user):
    page.set_default_timeout(30000)
    today = timezone.localdate()
    entity = create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=today,
    )
    user = make_user(Role.FINANCE, first_name="Farah", last_name="Finch")
    make_policy(user, entity, [level(1, 30, fee="25.00", percent="8")])
    initech = Account.objects.create(name="Initech", legal_entity=entity, currency="USD")
    due = today - timedelta(days=45)
    post_invoice(entity, initech, 1, "2500.00", on=due - timedelta(days=30), due=due)
    disputed = post_invoice(entity, initech, 2, "300.00", on=due - timedelta(days=30), due=due)
    open_dispute(actor=user, ar_item=disputed, reason="Milestone not accepted")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ledger/$"))
    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Dunning runs").click()
    expect(page.get_by_text("No dunning runs for Ledgerline Consulting Inc. yet.")).to_be_visible()

    page.get_by_role("button", name="Run dunning now").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Dunning run \d+$"), level=1)).to_be_visible()
    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-status", "completed")
    notices = page.get_by_role("table", name="Notices").locator("tbody tr")
    expect(notices).to_have_count(1)
    # 2,500.00 × 8% × 45 ÷ 365 = 24.66 interest, plus the 25.00 fee.
    expect(notices.first).to_contain_text("$2,549.66")
    expect(page.get_by_test_id("run-skipped")).to_contain_text("Disputed (invoice US-2026-000002)")
    shot(page, "dunning-run")

    pending = DunningRun.objects.create(legal_entity=entity, as_of=today - timedelta(days=1), progress=30)
    page.goto(f"/ledger/dunning/runs/{pending.pk}/")
    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-status", "pending")
    DunningRun.objects.filter(pk=pending.pk).update(
        status="completed", progress=100, finished_at=timezone.now()
    )
    # The next poll (every 2 s) sees the run done and reloads the page.
    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-status", "completed", timeout=10000)
    expect(page.get_by_text("This run created no notice")).to_be_visible()

    page.get_by_role("navigation", name="Ledger").get_by_role("link", name="Dunning runs").click()
    expect(page.get_by_role("table", name="Dunning runs").locator("tbody tr")).to_have_count(2)
    shot(page, "dunning-runs")


def test_edit_a_policy_level_and_see_a_refusal_on_its_row(page, make_user):
    page.set_default_timeout(30000)
    today = timezone.localdate()
    entity = create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=today,
    )
    user = make_user(Role.FINANCE)
    make_policy(user, entity, [level(1, 30, fee="25.00", percent="8")])

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/ledger/dunning/policies/")
    page.get_by_role("link", name="Standard").click()
    page.get_by_role("link", name="Edit policy").click()

    new_level = page.get_by_test_id("level-form").nth(1)
    new_level.get_by_label("Days overdue").fill("20")
    new_level.get_by_label("Subject").fill("Second reminder")
    new_level.get_by_label("Body").fill("Please pay {{ total_due }}.")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("The dunning policy is invalid: level 2")).to_be_visible()
    shot(page, "dunning-policy-edit")

    page.get_by_test_id("level-form").nth(1).get_by_label("Days overdue").fill("60")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Dunning policy Standard saved.")).to_be_visible()
    expect(page.get_by_test_id("level-row")).to_have_count(2)
