"""The month-end close pages: the checklist (live, refreshed in place with htmx), Close refused with the
blockers shown, Close and Reopen with a reason, the FX revaluation button, and the close report."""

# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from core.roles import Role
from crm.models import Account
from ledger.choices import PeriodStatus
from ledger.models import GLAccount, JournalEntry, PeriodCloseReport
from ledger.services.ar import post_receivable
from ledger.services.close import close_period, reopen_period
from ledger.services.posting import LineSpec
from ledger.services.setup import set_exchange_rate
from tests.ledger.close_books import (  # noqa: F401 - fixtures
    MARCH_END,
    client_account,
    entity,
    finance,
    make_contract,
    march,
    people,
    roles,
    vat20,
    worked,
)

D = Decimal
pytestmark = pytest.mark.django_db


def checklist_url(period):
    return reverse("ledger:period-checklist", args=[period.pk])


def test_the_checklist_shows_each_item_and_a_refused_close_lists_the_blockers(client, worked, finance):
    client.force_login(finance)
    html = client.get(checklist_url(worked.period)).content.decode()
    assert html.count('data-status="blocking"') == 2 and html.count('data-status="ok"') == 4
    assert "No completed billing run of the whole entity reaches 2026-03-31." in html
    assert reverse("billing:run-create") in html
    assert "Red items block the close" in html

    response = client.post(reverse("ledger:period-close", args=[worked.period.pk]), {"reason": "Month end"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "The period 2026-03 cannot be closed yet." in html
    assert 'id="close-blockers"' in html
    assert "<strong>Revenue run completed</strong>: No revenue run for 2026-03-31" in html
    worked.period.refresh_from_db()
    assert worked.period.status == PeriodStatus.OPEN
    assert not PeriodCloseReport.objects.exists()


def test_check_again_returns_only_the_items(client, march):
    client.force_login(march.finance)
    response = client.get(checklist_url(march.period) + "?part=items", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="checklist-items"' in html
    assert "<html" not in html and "Close the period" not in html
    assert html.count('data-status="ok"') == 6


def test_close_then_reopen_from_the_page_with_the_report(client, march):
    client.force_login(march.finance)
    response = client.post(reverse("ledger:period-close", args=[march.period.pk]), {"reason": "March final"})
    assert response.status_code == 302
    assert response["Location"] == checklist_url(march.period)
    report = PeriodCloseReport.objects.get()
    html = client.get(checklist_url(march.period)).content.decode()
    assert reverse("ledger:close-report", args=[report.pk]) in html
    assert "Reopen period" in html and "Close period" not in html

    page = client.get(reverse("ledger:close-report", args=[report.pk])).content.decode()
    assert "Close report 2026-03" in page
    assert "$3,300.00" in page  # the trial balance's totals
    assert page.count("$1,500.00") >= 3  # revenue, and net income, of the month and the year
    assert "Debits equal credits" in page

    response = client.post(reverse("ledger:period-reopen", args=[march.period.pk]), {"reason": "Late credit"})
    assert response.status_code == 302
    listing = client.get(f"{reverse('ledger:periods')}?legal_entity={march.entity.pk}").content.decode()
    assert "Late credit" in listing
    assert march.finance.display_name in listing


def test_executives_read_the_checklist_and_reports_without_a_form(client, march, make_user):
    close_period(actor=march.finance, period=march.period, reason="March final")
    client.force_login(make_user(Role.EXECUTIVE))
    html = client.get(checklist_url(march.period)).content.decode()
    assert "Reopen the period" not in html and 'name="reason"' not in html
    assert client.post(checklist_url(march.period), {"reason": "x"}).status_code == 403
    report = PeriodCloseReport.objects.get()
    assert client.get(reverse("ledger:close-report", args=[report.pk])).status_code == 200
    assert client.get(reverse("ledger:period-reopen", args=[march.period.pk])).status_code == 403
    march.period.refresh_from_db()
    assert march.period.status == PeriodStatus.CLOSED


def test_the_revaluation_button_posts_it_and_the_item_turns_green(client, march):
    for day, rate in ((date(2026, 3, 1), "1.1000"), (MARCH_END, "1.1500")):
        set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=day, rate=D(rate))
    client_eu = Account.objects.create(name="Globex EU", legal_entity=march.entity, currency="EUR")
    post_receivable(
        actor=None, legal_entity=march.entity, client=client_eu, kind="invoice", document_type="test.invoice",
        document_id="EU-1", number="EU-1", date=date(2026, 3, 10), due_date=date(2026, 4, 9), currency="EUR",
        amount=D("1000.00"),
        lines=[LineSpec(account=GLAccount.objects.get(legal_entity=march.entity, code="4000"), currency="EUR",
                        credit=D("1000.00"))],
        memo="EU-1", posting_key="EU-1",
    )  # fmt: skip
    client.force_login(march.finance)
    html = client.get(checklist_url(march.period)).content.decode()
    assert "Post the FX revaluation now" in html

    response = client.post(reverse("ledger:period-revalue", args=[march.period.pk]), follow=True)

    entry = JournalEntry.objects.get(posting_key=f"fx-revaluation:{march.entity.pk}:2026-03-31")
    html = response.content.decode()
    assert f"FX revaluation {entry.display_number} posted at 2026-03-31." in html
    assert html.count('data-status="ok"') == 6


def test_the_period_list_links_each_checklist_and_shows_reopenings(client, march):
    close_period(actor=march.finance, period=march.period, reason="March final")
    reopen_period(actor=march.finance, period=march.period, reason="Supplier credit note")
    client.force_login(march.finance)
    html = client.get(f"{reverse('ledger:periods')}?legal_entity={march.entity.pk}").content.decode()
    assert checklist_url(march.period) in html
    assert "Supplier credit note" in html
