"""The CRM's browser pages: who sees what, the Win button's inline problems, the duplicate warning."""

from datetime import date

import pytest
from django.test import Client

from core.roles import Role
from crm.models import Account, Contract
from crm.services.handoff import win_opportunity
from crm.services.quotes import create_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_for(make_user):
    def make(*roles, user=None):
        client = Client()
        client.force_login(user or make_user(*roles))
        return client

    return make


def test_every_page_renders_for_the_account_manager(browser_for, pm, mixed_deal, client_account):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    quote_deal = mixed_deal.__class__.objects.create(
        account=client_account, name="Next", currency="USD", expected_close=date(2026, 5, 1), owner=pm
    )
    quote_deal.lines.create(
        service="Fee", billing_model="fixed_fee", amount=1000, start=date(2026, 5, 1), end=date(2026, 5, 31)
    )
    quote = create_quote(actor=pm, opportunity=quote_deal)
    client = browser_for(user=pm)
    for url, text in [
        ("/crm/", "Pipeline"),
        ("/crm/opportunities/", "Northwind EHR rollout"),
        ("/crm/opportunities/?stage=won", "Northwind EHR rollout"),
        (f"/crm/opportunities/{mixed_deal.pk}/", "US-C-00001"),
        ("/crm/opportunities/new/", "New opportunity"),
        ("/crm/forecast/", "Forecast"),
        ("/crm/accounts/", "Northwind Health"),
        ("/crm/accounts/new/", "New client"),
        (f"/crm/accounts/{client_account.pk}/", "Projects and budget burn"),
        ("/crm/contracts/", "US-C-00001"),
        (f"/crm/contracts/{contract.pk}/", "Change order"),
        (f"/crm/quotes/{quote.pk}/", "Quote version 1"),
        ("/crm/activities/", "My open activities"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.FINANCE, 200), (Role.EXECUTIVE, 200), (Role.RESOURCE_MANAGER, 200), (Role.CONSULTANT, 403)],
)
def test_readers_read_and_consultants_are_refused(browser_for, role, status, mixed_deal):
    client = browser_for(role)
    assert client.get("/crm/").status_code == status
    assert client.get(f"/crm/opportunities/{mixed_deal.pk}/").status_code == status


def test_readers_cannot_win(browser_for, mixed_deal):
    response = browser_for(Role.EXECUTIVE).post(f"/crm/opportunities/{mixed_deal.pk}/win/")
    assert response.status_code == 403
    assert not Contract.objects.exists()


def test_the_win_button_shows_every_problem_inline(browser_for, pm, mixed_deal, client_account):
    client_account.tax_code = ""
    client_account.billing_email = ""
    client_account.save()
    response = browser_for(user=pm).post(f"/crm/opportunities/{mixed_deal.pk}/win/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="win-problems"' in page
    assert "Northwind Health has no tax code for its invoices." in page
    assert "Northwind Health has no billing e-mail to send invoices to." in page
    assert not Contract.objects.exists()


def test_the_win_button_goes_to_the_contract(browser_for, pm, mixed_deal):
    response = browser_for(user=pm).post(f"/crm/opportunities/{mixed_deal.pk}/win/", HTTP_HX_REQUEST="true")
    contract = Contract.objects.get()
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/crm/contracts/{contract.pk}/"


def test_moving_a_card_redraws_the_board_and_lost_needs_a_reason(browser_for, pm, mixed_deal):
    client = browser_for(user=pm)
    response = client.post(f"/crm/opportunities/{mixed_deal.pk}/move/", {"stage": "propose"})
    assert response.status_code == 200
    mixed_deal.refresh_from_db()
    assert mixed_deal.stage == "propose"
    response = client.post(f"/crm/opportunities/{mixed_deal.pk}/move/", {"stage": "lost"})
    assert "Say why the deal was lost." in response.content.decode()
    response = client.post(f"/crm/opportunities/{mixed_deal.pk}/move/", {"stage": "lost", "reason": "Price"})
    mixed_deal.refresh_from_db()
    assert (mixed_deal.stage, mixed_deal.lost_reason) == ("lost", "Price")


def test_creating_a_look_alike_client_warns_then_creates_on_confirmation(
    browser_for, pm, client_account, usd_entity
):
    client = browser_for(user=pm)
    form = {
        "name": "NORTHWIND HEALTH LLC",
        "legal_entity": usd_entity.pk,
        "currency": "USD",
        "payment_terms_days": 30,
        "owner": pm.pk,
    }
    response = client.post("/crm/accounts/new/", form)
    page = response.content.decode()
    assert 'data-testid="duplicate-warning"' in page
    assert f'href="/crm/accounts/{client_account.pk}/"' in page
    assert Account.objects.count() == 1
    response = client.post("/crm/accounts/new/", form | {"allow_duplicate": "on"})
    assert response.status_code == 302
    assert Account.objects.count() == 2
