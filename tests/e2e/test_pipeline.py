"""The account manager's pipeline in real Chromium: drag a card to another stage, win a deal from the
board, and find the contract and its new project."""

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from core.roles import Role
from crm.models import Account, Opportunity
from crm.services.pipeline import create_opportunity
from ledger.services.setup import create_legal_entity
from projects.models import Project
from projects.models import Role as DeliveryRole
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_move_a_card_win_a_deal_and_see_its_project(page, make_user):
    entity = create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=date(2026, 1, 15),
    )
    pm = make_user(Role.PROJECT_MANAGER, first_name="Priya", last_name="Mendes")
    client = Account.objects.create(
        name="Northwind Health",
        legal_entity=entity,
        currency="USD",
        payment_terms_days=30,
        tax_code="US",
        billing_email="ap@northwind.example.com",
        owner=pm,
    )
    senior = DeliveryRole.objects.create(name="Senior consultant")
    rollout = create_opportunity(
        actor=pm,
        account=client,
        name="EHR rollout",
        expected_close=date(2026, 3, 1),
        stage="negotiate",
        lines=[
            {
                "service": "Implementation",
                "billing_model": "time_and_materials",
                "role": senior.pk,
                "hours": Decimal("100"),
                "rate": Decimal("180.00"),
                "start": date(2026, 3, 2),
                "end": date(2026, 5, 29),
            }
        ],
    )
    audit = create_opportunity(
        actor=pm, account=client, name="Security audit", expected_close=date(2026, 4, 1)
    )

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(pm.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Sales").click()
    expect(page.get_by_role("heading", name="Pipeline", level=1)).to_be_visible()

    card = page.get_by_test_id(f"card-{audit.pk}")
    expect(page.get_by_test_id("stage-qualify")).to_contain_text("Security audit")
    card.drag_to(page.get_by_test_id("stage-propose"))
    expect(page.get_by_test_id("stage-propose")).to_contain_text("Security audit")
    expect(page.get_by_test_id("stage-qualify")).not_to_contain_text("Security audit")
    assert Opportunity.objects.get(pk=audit.pk).stage == "propose"

    page.get_by_test_id(f"card-{audit.pk}").drag_to(page.get_by_test_id("drop-lost"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Why was Security audit lost?")
    dialog.get_by_label("Reason").fill("Chose a competitor")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(page.get_by_test_id("stage-propose")).not_to_contain_text("Security audit")
    assert Opportunity.objects.get(pk=audit.pk).lost_reason == "Chose a competitor"

    page.get_by_test_id(f"card-{rollout.pk}").drag_to(page.get_by_test_id("drop-won"))
    expect(page).to_have_url(re.compile(r"/crm/contracts/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contract US-C-00001")
    project = Project.objects.get(contract__opportunity=rollout)
    expect(page.get_by_test_id("delivery-projects")).to_contain_text(f"{project.code} EHR rollout")
    expect(page.get_by_role("row").filter(has_text="Implementation")).to_contain_text("$18,000.00")
