"""The consultant's week in a real browser: a consultant fills five days with the keyboard, sees the totals
and submits; the project manager rejects last week's Monday with a reason and approves this week in the
inbox; the consultant then finds this week locked and last week's rejected cell with its reason."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.roles import Role as UserRole
from crm.models import Account
from ledger.services.setup import create_legal_entity, ensure_fiscal_year, fiscal_year_of
from projects.choices import EntryStatus, TimesheetStatus
from projects.models import Role, TimeEntry, Timesheet
from projects.services.people import create_assignment, create_person
from projects.services.projects import create_project
from projects.services.rates import create_rate_card
from projects.services.time import record_time, submit_timesheet
from projects.weeks import week_start
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal


def sign_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def firm(make_user):
    today = timezone.localdate()
    monday = week_start(today)
    entity = create_legal_entity(
        actor=None, name="Acme Consulting Inc.", functional_currency="USD", invoice_prefix="AC-", today=today
    )
    ensure_fiscal_year(legal_entity=entity, fiscal_year=fiscal_year_of(entity, today) - 1)
    client = Account.objects.create(name="Globex Corp", legal_entity=entity, currency="USD")
    consultant_role = Role.objects.create(name="Consultant")
    pm_user = make_user(UserRole.PROJECT_MANAGER, first_name="Priya", last_name="Mendes")
    chloe_user = make_user(UserRole.CONSULTANT, first_name="Chloe", last_name="Novak")
    pm = create_person(
        actor=None, name="Priya Mendes", role=consultant_role, legal_entity=entity, user=pm_user
    )
    chloe = create_person(
        actor=None, name="Chloe Novak", role=consultant_role, legal_entity=entity, user=chloe_user
    )
    project = create_project(
        actor=None,
        account=client,
        legal_entity=entity,
        code="GLX-1",
        name="Globex ERP rollout",
        currency="USD",
        start=monday - timedelta(days=60),
        end=monday + timedelta(days=90),
        manager=pm,
        tasks=[{"name": "Discovery", "children": [{"name": "Workshops"}]}],
    )
    create_assignment(
        actor=None, person=chloe, project=project, start=project.start, end=project.end, hours=D(600)
    )
    create_rate_card(
        actor=None,
        name="Standard USD",
        currency="USD",
        rates=[{"role": consultant_role, "rate": D(150), "valid_from": project.start}],
    )
    workshops = project.tasks.get(name="Workshops")
    last_monday = monday - timedelta(days=7)
    earlier = record_time(
        actor=chloe_user,
        person=chloe,
        project=project,
        task=workshops,
        date=last_monday,
        hours=D(6),
        today=today,
    )
    submit_timesheet(actor=chloe_user, timesheet=earlier.timesheet)
    return {"pm": pm_user, "chloe": chloe_user, "monday": monday, "last_monday": last_monday, "person": chloe}


def test_consultant_fills_and_submits_the_week_the_manager_decides(page, browser, live_server, firm):
    monday = firm["monday"]
    sign_in(page, firm["chloe"])
    expect(page).to_have_url(re.compile(r"/projects/time/$"))
    expect(page.get_by_role("heading", name="My week", level=1)).to_be_visible()

    page.get_by_label("Task to add").select_option(label="Discovery › Workshops")
    page.get_by_role("button", name="Add row").click()
    first = page.get_by_label(f"Hours, Workshops, {monday:%A} {monday.day} {monday:%B}")
    expect(first).to_be_focused()
    for hours in ("8", "8", "7.5", "8", "8.5"):
        page.keyboard.type(hours)
        page.keyboard.press("Tab")
    expect(page.get_by_test_id("week-total")).to_have_text("40.00")
    expect(page.locator("#day-total-2")).to_have_text("7.50")
    expect(page.locator("#day-total-4")).to_have_text("8.50")
    expect(page.locator(".cell-box.cell-saved")).to_have_count(5)
    expect(page.get_by_text("40.00 of 40 h capacity")).to_be_visible()
    assert TimeEntry.objects.filter(date__gte=monday).count() == 5

    page.get_by_role("button", name="Submit week").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "submitted: 5 entries went to your project managers"
    )
    expect(page.get_by_test_id("week-status")).to_have_text("Submitted")

    manager = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=live_server.url
    ).new_page()
    sign_in(manager, firm["pm"])
    expect(manager).to_have_url(re.compile(r"/projects/approvals/$"))
    groups = manager.get_by_test_id("approval-group")
    expect(groups).to_have_count(2)
    last_week = groups.filter(has_text=f"week of {firm['last_monday']:%a} {firm['last_monday'].day}")
    last_week.get_by_role("checkbox", name=re.compile(r"^Select .*Workshops, 6\.00 hours")).check()
    manager.get_by_label("Reason for rejecting").fill("Client cancelled that workshop")
    manager.get_by_role("button", name="Reject selected").click()
    expect(manager.get_by_role("status").first).to_contain_text(
        "Rejected 1 entry: Client cancelled that workshop"
    )
    this_week = manager.get_by_test_id("approval-group").filter(has_text=f"week of {monday:%a} {monday.day}")
    this_week.get_by_role("button", name=re.compile("^Approve week")).click()
    expect(manager.get_by_role("status").first).to_contain_text("Approved 5 entries of Chloe Novak")
    assert Timesheet.objects.get(week_start=monday).status == TimesheetStatus.APPROVED
    manager.context.close()

    page.reload()
    expect(page.get_by_test_id("week-status")).to_have_text("Approved")
    expect(page.get_by_test_id("week-locked")).to_contain_text("approved and locked")
    expect(page.locator("input.cell-input")).to_have_count(0)
    expect(page.get_by_role("button", name="Submit week")).to_have_count(0)

    page.get_by_role("link", name="Previous week").click()
    expect(page.get_by_test_id("week-status")).to_have_text("Rejected")
    reason = page.get_by_test_id("rejection-reason")
    expect(reason).to_have_text("Client cancelled that workshop")
    rejected = page.get_by_label(
        f"Hours, Workshops, {firm['last_monday']:%A} {firm['last_monday'].day} {firm['last_monday']:%B}"
    )
    expect(rejected).to_have_value("6")
    expect(rejected).to_be_editable()
    assert TimeEntry.objects.get(date=firm["last_monday"]).status == EntryStatus.REJECTED
