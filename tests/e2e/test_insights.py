"""The insights inbox in real Chromium: the empty state, then cards with their figures; dismissing in place
is refused without a reason (inline error) and done with one, the card moving to the Dismissed tab."""

import re

import pytest
from playwright.sync_api import expect

from core.roles import Role
from insights.models import Insight
from tests.factories import PASSWORD
from tests.insights.inbox import make_insight

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, user) -> None:
    page.set_default_timeout(20000)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_inbox_empty_then_dismiss_with_and_without_a_reason(page, make_user):
    manager = make_user(Role.PROJECT_MANAGER)
    sign_in(page, manager)
    page.get_by_role("link", name="Insights").click()
    expect(page).to_have_url(re.compile(r"/insights/$"))
    expect(page.get_by_test_id("insights-empty")).to_contain_text("Nothing needs a look.")

    insight = make_insight("a")
    make_insight("b", severity="critical", title="Dan Brook: 16.00 h on Fri 27 Mar 2026")
    page.reload()
    cards = page.get_by_test_id("insight-card")
    expect(cards).to_have_count(2)
    # Most severe first.
    expect(cards.first).to_contain_text("Dan Brook: 16.00 h on Fri 27 Mar 2026")
    card = page.locator(f"#insight-{insight.pk}")
    expect(card.get_by_role("table", name="Figures")).to_contain_text("8.77")
    expect(card.get_by_test_id("insight-explanation")).to_have_text(
        "Chloe Novak logged 14.00 h on Thu 26 Mar 2026; her median day is 7.50 h."
    )

    card.get_by_role("button", name="Dismiss").click()
    expect(page.locator(f"#insight-{insight.pk}").get_by_test_id("dismiss-error")).to_have_text(
        "Say why you dismiss it."
    )
    assert Insight.objects.get(pk=insight.pk).status == "open"

    page.locator(f"#insight-{insight.pk}").get_by_label("Reason for dismissing").fill("Month-end catch-up.")
    page.locator(f"#insight-{insight.pk}").get_by_role("button", name="Dismiss").click()
    expect(page.locator(f"#insight-{insight.pk}").get_by_test_id("dismissed-note")).to_contain_text(
        "“Month-end catch-up.”"
    )
    assert Insight.objects.get(pk=insight.pk).status == "dismissed"

    page.get_by_test_id("tab-dismissed").click()
    expect(page.get_by_test_id("insight-card")).to_have_count(1)
    expect(page.get_by_test_id("insight-card")).to_contain_text("Month-end catch-up.")
    page.get_by_test_id("tab-open").click()
    expect(page.get_by_test_id("insight-card")).to_have_count(1)
