"""A user signs in with the keyboard, creates an API key, sees it once, and revokes it."""

import re

import pytest
from playwright.sync_api import expect

from core.models import ApiKey
from core.models.api_keys import hash_api_key_secret
from core.roles import Role
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_create_key_see_it_once_and_revoke(page, make_user):
    user = make_user(Role.INTEGRATOR, first_name="Cleo", last_name="Park")

    page.goto("/accounts/login/")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/overview/$"))
    expect(page.get_by_test_id("current-user")).to_contain_text("Cleo Park")
    expect(page.get_by_text("No API keys yet — create one to call the API.")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    page.get_by_role("link", name="New API key").click()

    page.get_by_label("Name").fill("Nightly CRM sync")
    page.get_by_label("crm:read").check()
    page.get_by_label("billing:write").check()
    page.get_by_role("button", name="Create key").click()

    panel = page.get_by_test_id("new-key")
    expect(panel).to_contain_text("it will not be shown again")
    key = page.get_by_label("New API key").input_value()
    api_key = ApiKey.objects.get(user=user)
    assert api_key.key_hash == hash_api_key_secret(key)
    assert api_key.scopes == ["billing:write", "crm:read"]
    assert key not in page.url

    page.reload()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert key not in page.content()

    row = page.get_by_role("row").filter(has_text="Nightly CRM sync")
    expect(row).to_contain_text("Active")
    row.get_by_role("link", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke “Nightly CRM sync”?")).to_be_visible()
    page.get_by_role("button", name="Revoke key").click()

    expect(page.get_by_role("status")).to_contain_text("is revoked")
    expect(page.get_by_role("row").filter(has_text="Nightly CRM sync")).to_contain_text("Revoked")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_failed_sign_in_shows_the_error(page, make_user):
    user = make_user(Role.CONSULTANT)

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Username")).to_have_value(user.username)
