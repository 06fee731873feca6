"""Ledger browser pages: access per role, empty states, and the flows finance runs through them (closing
periods, manual entries, reversals, payments and allocations, exchange rates, CSV downloads)."""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from core.roles import Role
from crm.models import Account
from ledger.choices import PeriodStatus
from ledger.models import Allocation, ExchangeRate, FiscalPeriod, GLAccount, JournalEntry, Payment
from ledger.selectors import period_for
from ledger.services.ar import post_receivable, record_payment
from ledger.services.entries import post_manual_entry
from ledger.services.posting import LineSpec
from ledger.services.setup import (
    close_period,
    create_legal_entity,
    ensure_fiscal_year,
    fiscal_year_of,
    set_exchange_rate,
)

pytestmark = pytest.mark.django_db

D = Decimal
LOGOUT_FORM = 'method="post" action="/accounts/logout/"'


@pytest.fixture
def login(client, make_user):
    """Sign `client` in as a new user holding `roles` (None: a user with no role) and return the user."""

    def sign_in(*roles, **kwargs):
        user = make_user(*(r for r in roles if r), **kwargs)
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture
def books(make_user):
    """A USD entity with an invoice, a part-allocated payment, a manual entry and a EUR rate, all recent."""
    today = timezone.localdate()
    entity = create_legal_entity(
        actor=None,
        name="Acme Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="AC-",
        today=today,
    )
    # Last fiscal year too, so dates a few weeks back have a period whatever today is.
    ensure_fiscal_year(legal_entity=entity, fiscal_year=fiscal_year_of(entity, today) - 1)
    set_exchange_rate(
        actor=None, from_currency="EUR", to_currency="USD", on=today - timedelta(days=90), rate=D("1.1000")
    )
    accounts = {a.code: a for a in GLAccount.objects.filter(legal_entity=entity)}
    globex = Account.objects.create(name="Globex Corp", legal_entity=entity, currency="USD")
    invoice = post_receivable(
        actor=None,
        legal_entity=entity,
        client=globex,
        kind="invoice",
        document_type="billing.invoice",
        document_id="INV-1",
        number="AC-2026-000001",
        date=today - timedelta(days=45),
        due_date=today - timedelta(days=15),
        currency="USD",
        amount=D("1200.00"),
        lines=[LineSpec(account=accounts["4000"], currency="USD", credit=D("1200.00"))],
        memo="Invoice AC-2026-000001",
        posting_key="test:INV-1",
    )
    fiona = make_user(Role.FINANCE, username="fiona", first_name="Fiona", last_name="Chen")
    manual = post_manual_entry(
        actor=fiona,
        legal_entity=entity,
        date=today,
        memo="Accrue office rent",
        lines=[
            LineSpec(account=accounts["6100"], currency="USD", debit=D("500.00")),
            LineSpec(account=accounts["2000"], currency="USD", credit=D("500.00")),
        ],
    )
    payment = record_payment(
        actor=fiona,
        legal_entity=entity,
        client=globex,
        date=today - timedelta(days=5),
        amount=D("700.00"),
        currency="USD",
        reference="WIRE-1",
        allocations=None,
    )
    return SimpleNamespace(
        today=today,
        entity=entity,
        accounts=accounts,
        client=globex,
        invoice=invoice,
        manual=manual,
        payment=payment,
        allocation=Allocation.objects.get(credit_item=payment.ar_item),
        period=period_for(entity, today),
        fiona=fiona,
    )


# Pages everyone with a ledger role reads: url name and arguments from `books`.
READ_PAGES = {
    "workspace": lambda b: reverse("ledger:workspace"),
    "periods": lambda b: reverse("ledger:periods"),
    "journal": lambda b: reverse("ledger:journal"),
    "entry": lambda b: reverse("ledger:entry-detail", args=[b.manual.pk]),
    "trial-balance": lambda b: reverse("ledger:trial-balance"),
    "general-ledger": lambda b: reverse("ledger:general-ledger", args=[b.accounts["1000"].pk]),
    "profit-and-loss": lambda b: reverse("ledger:profit-and-loss"),
    "balance-sheet": lambda b: reverse("ledger:balance-sheet"),
    "ar-aging": lambda b: reverse("ledger:ar-aging"),
    "statement": lambda b: f"{reverse('ledger:statement')}?client={b.client.pk}",
    "payments": lambda b: reverse("ledger:payments"),
    "payment": lambda b: reverse("ledger:payment-detail", args=[b.payment.pk]),
    "entities": lambda b: reverse("ledger:entities"),
    "entity": lambda b: reverse("ledger:entity-detail", args=[b.entity.pk]),
    "exchange-rates": lambda b: reverse("ledger:exchange-rates"),
}
# Pages that exist to change something: finance (and admins) only.
WRITE_PAGES = {
    "entry-create": lambda b: reverse("ledger:entry-create"),
    "payment-create": lambda b: reverse("ledger:payment-create"),
    "payment-allocate": lambda b: reverse("ledger:payment-allocate", args=[b.payment.pk]),
    "allocation-reverse": lambda b: reverse("ledger:allocation-reverse", args=[b.allocation.pk]),
    "period-close": lambda b: reverse("ledger:period-close", args=[b.period.pk]),
}
ALL_PAGES = {**READ_PAGES, **WRITE_PAGES}
# Index pages that must make sense before anything exists, and what they say then.
EMPTY_STATES = {
    "ledger:workspace": "No legal entities yet.",
    "ledger:periods": "No legal entities yet.",
    "ledger:journal": "No legal entities yet.",
    "ledger:entry-create": "No legal entities yet.",
    "ledger:trial-balance": "No legal entities yet.",
    "ledger:profit-and-loss": "No legal entities yet.",
    "ledger:balance-sheet": "No legal entities yet.",
    "ledger:ar-aging": "No legal entities yet.",
    "ledger:statement": "No legal entities yet.",
    "ledger:payments": "No payments recorded yet",
    "ledger:payment-create": "No legal entities yet.",
    "ledger:entities": "No legal entities yet.",
    "ledger:exchange-rates": "No exchange rates yet",
}


def _post_forms(html: str) -> int:
    """POST forms on a page other than the sign-out form of the navigation bar."""
    return html.count('method="post"') - html.count(LOGOUT_FORM)


@pytest.mark.parametrize("page", ALL_PAGES)
def test_pages_send_anonymous_visitors_to_sign_in(client, books, page):
    url = ALL_PAGES[page](books)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, Role.INTEGRATOR, None])
def test_pages_refuse_roles_without_ledger_access(client, login, books, page, role):
    login(role)
    response = client.get(ALL_PAGES[page](books))
    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
def test_pages_render_with_data_for_finance_and_admin(client, login, books, page, role):
    login(role)
    response = client.get(ALL_PAGES[page](books))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Traceback" not in html


@pytest.mark.parametrize("page", READ_PAGES)
def test_executive_reads_every_page_without_a_way_to_change_anything(client, login, books, page):
    login(Role.EXECUTIVE)
    response = client.get(READ_PAGES[page](books))
    assert response.status_code == 200
    html = response.content.decode()
    assert _post_forms(html) == 0
    for write_link in ("New journal entry", "Record payment", "Un-allocate", "Reverse entry", "Save rate"):
        assert write_link not in html
    assert reverse("ledger:entry-create") not in html
    assert reverse("ledger:period-close", args=[books.period.pk]) not in html


@pytest.mark.parametrize("page", WRITE_PAGES)
def test_executive_cannot_open_write_pages(client, login, books, page):
    login(Role.EXECUTIVE)
    assert client.get(WRITE_PAGES[page](books)).status_code == 403


def test_executive_posts_are_refused_and_change_nothing(client, login, books):
    login(Role.EXECUTIVE)
    entries, allocations = JournalEntry.objects.count(), Allocation.objects.count()
    posts = [
        (reverse("ledger:period-close", args=[books.period.pk]), {"reason": "Month end"}),
        (reverse("ledger:entry-reverse", args=[books.manual.pk]), {"date": books.today.isoformat()}),
        (reverse("ledger:entry-create"), {"legal_entity": books.entity.pk}),
        (reverse("ledger:payment-create"), {"legal_entity": books.entity.pk}),
        (reverse("ledger:payment-allocate", args=[books.payment.pk]), {"on": books.today.isoformat()}),
        (reverse("ledger:allocation-reverse", args=[books.allocation.pk]), {"reason": "Wrong invoice"}),
        (
            reverse("ledger:exchange-rates"),
            {"from_currency": "EUR", "to_currency": "USD", "date": books.today.isoformat(), "rate": "2"},
        ),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.OPEN
    assert JournalEntry.objects.count() == entries
    assert Allocation.objects.count() == allocations
    assert not ExchangeRate.objects.filter(rate=2).exists()


@pytest.mark.parametrize(("url_name", "empty_text"), EMPTY_STATES.items())
def test_index_pages_explain_an_empty_ledger_to_finance(client, login, url_name, empty_text):
    login(Role.FINANCE)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert empty_text in response.content.decode()


def test_an_entity_without_activity_shows_empty_reports(client, login):
    login(Role.FINANCE)
    create_legal_entity(
        actor=None,
        name="Quiet Ltd",
        functional_currency="USD",
        invoice_prefix="Q-",
        today=timezone.localdate(),
    )
    assert "Nothing posted yet" in client.get(reverse("ledger:workspace")).content.decode()
    assert "every account is at zero" in client.get(reverse("ledger:trial-balance")).content.decode()
    assert "No open receivables" in client.get(reverse("ledger:ar-aging")).content.decode()
    assert "No entries posted yet" in client.get(reverse("ledger:journal")).content.decode()
    assert "has no clients yet" in client.get(reverse("ledger:payment-create")).content.decode()


def test_finance_lands_on_the_ledger_and_sees_it_in_the_navigation(client, login):
    login(Role.FINANCE)
    assert client.get(reverse("home"))["Location"] == reverse("ledger:workspace")
    response = client.get(reverse("ledger:workspace"))
    active = [link.label for link in response.context["nav_links"] if link.active]
    assert active == ["Ledger"]


@pytest.mark.parametrize(("role", "sees"), [(Role.EXECUTIVE, True), (Role.CONSULTANT, False)])
def test_ledger_navigation_entry_by_role(client, login, role, sees):
    login(role)
    labels = [link.label for link in client.get(reverse("core:overview")).context["nav_links"]]
    assert ("Ledger" in labels) is sees


def test_workspace_summarises_each_entity(client, login, books):
    login(Role.FINANCE)
    html = client.get(reverse("ledger:workspace")).content.decode()
    assert "Acme Consulting Inc." in html
    # The invoice's 1,200.00 less the 700.00 applied; it is 15 days past due.
    assert html.count("$500.00") >= 2
    assert books.manual.display_number in html
    assert "every payment applied" in html


def test_periods_are_grouped_by_fiscal_year_with_who_closed_them(client, login, books):
    user = login(Role.FINANCE, first_name="Farah", last_name="Finch")
    earlier = FiscalPeriod.objects.filter(legal_entity=books.entity, end__lt=books.period.start).last()
    close_period(actor=user, period=earlier, reason="Books final")
    html = client.get(f"{reverse('ledger:periods')}?legal_entity={books.entity.pk}").content.decode()
    assert f"Fiscal year {books.period.fiscal_year}" in html
    assert "Farah Finch" in html
    assert reverse("ledger:period-reopen", args=[earlier.pk]) in html
    assert reverse("ledger:period-close", args=[books.period.pk]) in html


def test_close_period_with_a_reason(client, login, books):
    user = login(Role.FINANCE)
    response = client.post(reverse("ledger:period-close", args=[books.period.pk]), {"reason": "Month end"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ledger:period-checklist", args=[books.period.pk])
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.CLOSED
    assert books.period.closed_by == user
    audit = AuditEvent.objects.get(action="period.closed", object_id=str(books.period.pk))
    assert audit.reason == "Month end"
    assert audit.actor == user


def test_close_period_without_a_reason_shows_the_error_and_changes_nothing(client, login, books):
    login(Role.FINANCE)
    response = client.post(reverse("ledger:period-close", args=[books.period.pk]), {"reason": "  "})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert 'aria-invalid="true"' in html
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.OPEN
    assert not AuditEvent.objects.filter(action="period.closed").exists()


def test_reopen_period_needs_a_reason_and_is_audited(client, login, books):
    user = login(Role.FINANCE)
    close_period(actor=user, period=books.period, reason="Month end")
    url = reverse("ledger:period-reopen", args=[books.period.pk])
    assert "This field is required." in client.post(url, {"reason": ""}).content.decode()
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.CLOSED

    response = client.post(url, {"reason": "Late supplier invoice"})
    assert response.status_code == 302
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.OPEN
    assert AuditEvent.objects.get(action="period.reopened").reason == "Late supplier invoice"


def test_closing_a_closed_period_again_shows_the_service_refusal(client, login, books):
    user = login(Role.FINANCE)
    close_period(actor=user, period=books.period, reason="Month end")
    response = client.post(reverse("ledger:period-close", args=[books.period.pk]), {"reason": "Again"})
    assert response.status_code == 200
    assert "is already closed" in response.content.decode()


def test_period_close_is_never_done_on_get(client, login, books):
    login(Role.FINANCE)
    response = client.get(reverse("ledger:period-close", args=[books.period.pk]) + "?reason=Month+end")
    assert response.status_code == 200
    books.period.refresh_from_db()
    assert books.period.status == PeriodStatus.OPEN


def _entry_data(books, lines, *, memo="Reclass rent", day=None, **extra):
    data = {
        "legal_entity": books.entity.pk,
        "date": (day or books.today).isoformat(),
        "memo": memo,
        "lines-TOTAL_FORMS": len(lines),
        "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 200,
        **extra,
    }
    for index, line in enumerate(lines):
        code, debit, credit, *rest = line
        data.update(
            {
                f"lines-{index}-account": books.accounts[code].pk if code else "",
                f"lines-{index}-debit": debit,
                f"lines-{index}-credit": credit,
                f"lines-{index}-currency": rest[0] if rest else "USD",
                f"lines-{index}-client": "",
                f"lines-{index}-memo": rest[1] if len(rest) > 1 else "",
            }
        )
    return data


def test_new_entry_form_offers_the_entitys_active_accounts(client, login, books):
    login(Role.FINANCE)
    GLAccount.objects.filter(pk=books.accounts["1500"].pk).update(active=False)
    html = client.get(reverse("ledger:entry-create")).content.decode()
    assert "6100 Rent and office" in html
    assert "1500 Equipment" not in html
    assert 'name="lines-TOTAL_FORMS" value="2"' in html
    assert 'id="line-template"' in html
    assert "js/ledger-entry.js" in html


def test_balanced_entry_is_posted_and_opens_its_page(client, login, books):
    login(Role.FINANCE)
    before = JournalEntry.objects.count()
    data = _entry_data(books, [("6100", "250.00", "", "USD", "Rent"), ("1000", "", "250.00"), ("", "", "")])
    data["lines-1-client"] = books.client.pk
    data["lines-TOTAL_FORMS"] = 3
    response = client.post(reverse("ledger:entry-create"), data)
    assert response.status_code == 302
    entry = JournalEntry.objects.latest("id")
    assert response["Location"] == reverse("ledger:entry-detail", args=[entry.pk])
    assert JournalEntry.objects.count() == before + 1
    assert entry.memo == "Reclass rent"
    lines = list(
        entry.lines.order_by("id").values_list("account__code", "debit", "credit", "client_id", "memo")
    )
    assert lines == [
        ("6100", D("250.00"), D("0"), None, "Rent"),
        ("1000", D("0"), D("250.00"), books.client.pk, ""),
    ]
    page = client.get(response["Location"]).content.decode()
    assert f"{entry.display_number} posted." in page
    assert "Reverse entry" in page


def test_unbalanced_entry_shows_the_service_error_keeps_the_rows_and_writes_nothing(client, login, books):
    login(Role.FINANCE)
    before = JournalEntry.objects.count()
    data = _entry_data(books, [("6100", "250.00", ""), ("1000", "", "240.00")])
    response = client.post(reverse("ledger:entry-create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "differ by 10.00" in html
    assert 'value="250.00"' in html and 'value="240.00"' in html
    assert f'<option value="{books.accounts["6100"].pk}" selected>' in html
    assert "Off by $10.00" in html
    assert JournalEntry.objects.count() == before


def test_posting_into_a_closed_period_is_refused_inline(client, login, books):
    user = login(Role.FINANCE)
    close_period(actor=user, period=books.period, reason="Month end")
    before = JournalEntry.objects.count()
    response = client.post(
        reverse("ledger:entry-create"), _entry_data(books, [("6100", "80.00", ""), ("1000", "", "80.00")])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "is closed; post into an open period or reopen it" in html
    assert f"{books.period.start:%Y-%m} is closed." in html
    assert JournalEntry.objects.count() == before


def test_entry_in_a_currency_without_a_rate_yet_names_the_missing_rate(client, login, books):
    login(Role.FINANCE)
    before_first_rate = books.today - timedelta(days=100)
    response = client.post(
        reverse("ledger:entry-create"),
        _entry_data(
            books, [("6100", "80.00", "", "EUR"), ("1000", "", "80.00", "EUR")], day=before_first_rate
        ),
    )
    html = response.content.decode()
    assert f"No exchange rate EUR→USD on or before {before_first_rate.isoformat()}" in html
    assert "No EUR→USD rate on or before this date." in html


def test_entry_on_an_inactive_account_shows_the_service_message_on_its_row(client, login, books):
    login(Role.FINANCE)
    GLAccount.objects.filter(pk=books.accounts["1500"].pk).update(active=False)
    response = client.post(
        reverse("ledger:entry-create"), _entry_data(books, [("6100", "80.00", ""), ("1500", "", "80.00")])
    )
    html = response.content.decode()
    assert "Line 2: account 1500 Equipment is inactive." in html
    assert "1500 Equipment (inactive)" in html
    assert html.count("is inactive") == 2


def test_line_shape_errors_are_shown_on_the_line(client, login, books):
    login(Role.FINANCE)
    before = JournalEntry.objects.count()
    response = client.post(
        reverse("ledger:entry-create"),
        _entry_data(books, [("6100", "80.00", "80.00"), ("", "", "80.00")], memo=""),
    )
    html = response.content.decode()
    assert "A line debits or credits, not both" in html
    assert "Choose the account this line posts to." in html
    assert "This field is required." in html
    assert JournalEntry.objects.count() == before


def test_add_line_without_javascript_shows_one_more_row_and_posts_nothing(client, login, books):
    login(Role.FINANCE)
    before = JournalEntry.objects.count()
    data = _entry_data(books, [("6100", "80.00", ""), ("1000", "", "70.00")], add_line="1")
    response = client.post(reverse("ledger:entry-create"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-TOTAL_FORMS" value="3"' in html
    assert 'value="80.00"' in html and 'value="70.00"' in html
    assert "is-invalid" not in html
    assert JournalEntry.objects.count() == before


def test_entry_detail_shows_lines_totals_source_and_history(client, login, books):
    login(Role.FINANCE)
    html = client.get(reverse("ledger:entry-detail", args=[books.manual.pk])).content.decode()
    assert books.manual.display_number in html
    assert "6100 Rent and office" in html
    assert "Manual entry" in html
    assert "journal_entry.posted" in html
    assert html.count("$500.00") >= 4


def test_payment_entry_links_to_its_payment_and_cannot_be_reversed_here(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:entry-detail", args=[books.payment.journal_entry_id])
    html = client.get(url).content.decode()
    assert reverse("ledger:payment-detail", args=[books.payment.pk]) in html
    assert "Reverse entry" not in html
    response = client.post(
        reverse("ledger:entry-reverse", args=[books.payment.journal_entry_id]),
        {"date": books.today.isoformat()},
    )
    assert response.status_code == 200
    assert "undo it there" in response.content.decode()
    assert not JournalEntry.objects.filter(reversal_of_id=books.payment.journal_entry_id).exists()


def test_reverse_a_manual_entry(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:entry-reverse", args=[books.manual.pk])
    response = client.post(url, {"date": books.today.isoformat(), "memo": ""})
    assert response.status_code == 302
    reversal = JournalEntry.objects.get(reversal_of=books.manual)
    assert response["Location"] == reverse("ledger:entry-detail", args=[reversal.pk])
    assert reversal.memo.startswith(f"Reversal of {books.manual.display_number}")
    html = client.get(reverse("ledger:entry-detail", args=[books.manual.pk])).content.decode()
    assert "Already reversed by" in html
    assert reversal.display_number in html

    again = client.post(url, {"date": books.today.isoformat()})
    assert again.status_code == 200
    assert "is already reversed" in again.content.decode()
    assert JournalEntry.objects.filter(reversal_of=books.manual).count() == 1


def test_reverse_needs_post(client, login, books):
    login(Role.FINANCE)
    assert client.get(reverse("ledger:entry-reverse", args=[books.manual.pk])).status_code == 405


def test_journal_filters_by_account_source_and_entity(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:journal")
    html = client.get(url).content.decode()
    assert books.manual.display_number in html
    assert books.payment.journal_entry.display_number in html

    only_rent = client.get(url, {"account": books.accounts["6100"].pk}).content.decode()
    assert books.manual.display_number in only_rent
    assert books.payment.journal_entry.display_number not in only_rent

    payments = client.get(url, {"source_type": "ledger.payment"}).content.decode()
    assert books.manual.display_number not in payments
    assert books.payment.journal_entry.display_number in payments

    nothing = client.get(url, {"date_before": (books.today - timedelta(days=400)).isoformat()})
    assert "No entries match these filters" in nothing.content.decode()


def test_journal_pages_without_a_query_per_entry(client, login, books, django_assert_max_num_queries):
    user = login(Role.FINANCE)
    for index in range(30):
        post_manual_entry(
            actor=user,
            legal_entity=books.entity,
            date=books.today,
            memo=f"Adjustment {index}",
            lines=[
                LineSpec(account=books.accounts["6200"], currency="USD", debit=D("10.00")),
                LineSpec(account=books.accounts["1000"], currency="USD", credit=D("10.00")),
            ],
        )
    with django_assert_max_num_queries(20):
        response = client.get(reverse("ledger:journal"))
    assert "Adjustment 29" in response.content.decode()


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("page", "header"),
    [
        ("trial-balance", ["account_code", "account_name", "type", "debit", "credit", "balance", "currency"]),
        (
            "general-ledger",
            [
                "date",
                "entry",
                "memo",
                "line_memo",
                "client",
                "transaction_currency",
                "transaction_amount",
                "debit",
                "credit",
                "balance",
                "currency",
            ],
        ),
        ("profit-and-loss", ["section", "account_code", "account_name", "amount", "currency"]),
        ("balance-sheet", ["section", "account_code", "account_name", "amount", "currency"]),
        (
            "ar-aging",
            ["client", "currency", "current", "1_30", "31_60", "61_90", "over_90", "unapplied", "total"],
        ),
        (
            "statement",
            [
                "date",
                "type",
                "reference",
                "description",
                "due_date",
                "amount",
                "applied",
                "balance",
                "currency",
            ],
        ),
    ],
)
def test_reports_download_as_csv(client, login, books, page, header):
    login(Role.EXECUTIVE)
    url = READ_PAGES[page](books)
    html = client.get(url).content.decode()
    assert "Download CSV" in html
    rows = _csv(client.get(f"{url}{'&' if '?' in url else '?'}format=csv"))
    assert rows[0] == header
    assert len(rows) > 1


def test_trial_balance_csv_holds_what_the_page_shows(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:trial-balance")
    page = client.get(url, {"legal_entity": books.entity.pk, "as_of": books.today.isoformat()})
    rows = _csv(
        client.get(url, {"legal_entity": books.entity.pk, "as_of": books.today.isoformat(), "format": "csv"})
    )
    data = page.context["data"]
    assert [row[0] for row in rows[1:-1]] == [row["code"] for row in data["rows"]]
    assert rows[-1] == [
        "",
        "Total",
        "",
        str(data["totals"]["debit"]),
        str(data["totals"]["credit"]),
        "",
        "USD",
    ]
    assert data["totals"]["debit"] == data["totals"]["credit"]
    assert reverse("ledger:general-ledger", args=[books.accounts["1000"].pk]) in page.content.decode()


def test_csv_cells_that_look_like_formulas_are_defused(client, login, books):
    user = login(Role.FINANCE)
    post_manual_entry(
        actor=user,
        legal_entity=books.entity,
        date=books.today,
        memo='=HYPERLINK("http://evil")',
        lines=[
            LineSpec(account=books.accounts["6200"], currency="USD", debit=D("10.00")),
            LineSpec(account=books.accounts["1000"], currency="USD", credit=D("10.00")),
        ],
    )
    url = reverse("ledger:general-ledger", args=[books.accounts["6200"].pk])
    rows = _csv(client.get(url, {"format": "csv"}))
    assert any(row[2] == '\'=HYPERLINK("http://evil")' for row in rows)


def test_balance_sheet_shows_the_equation_holds(client, login, books):
    login(Role.FINANCE)
    response = client.get(reverse("ledger:balance-sheet"))
    assert response.context["data"]["difference"] == 0
    assert "Assets = liabilities + equity" in response.content.decode()


def test_aging_toggles_between_transaction_and_functional_basis(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:ar-aging")
    transaction = client.get(url)
    assert transaction.context["data"]["basis"] == "transaction"
    functional = client.get(url, {"basis": "functional"})
    assert functional.context["data"]["basis"] == "functional"
    html = functional.content.decode()
    assert "Globex Corp" in html
    assert "$500.00" in html
    assert f"?client={books.client.pk}" in html


def test_statement_asks_for_a_client_before_showing_anything(client, login, books):
    login(Role.FINANCE)
    html = client.get(reverse("ledger:statement")).content.decode()
    assert "Choose a client and the dates" in html
    assert "This field is required." not in html
    shown = client.get(reverse("ledger:statement"), {"client": books.client.pk}).content.decode()
    assert "AC-2026-000001" in shown
    assert "WIRE-1" in shown


def test_general_ledger_shows_a_running_balance(client, login, books):
    login(Role.FINANCE)
    response = client.get(
        reverse("ledger:general-ledger", args=[books.accounts["1100"].pk]),
        {"start": (books.today - timedelta(days=60)).isoformat(), "end": books.today.isoformat()},
    )
    data = response.context["data"]
    assert [line["balance"] for line in data["lines"]] == [D("1200.00"), D("500.00")]
    assert data["closing_balance"] == D("500.00")


def test_record_payment_then_allocate_it(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("ledger:payment-create"),
        {
            "legal_entity": books.entity.pk,
            "client": books.client.pk,
            "date": books.today.isoformat(),
            "amount": "300.00",
            "currency": "USD",
            "bank_account": books.accounts["1000"].pk,
            "reference": "ACH-77",
        },
    )
    payment = Payment.objects.get(reference="ACH-77")
    assert payment.unallocated_amount == D("300.00")
    assert response["Location"] == reverse("ledger:payment-allocate", args=[payment.pk])

    page = client.get(response["Location"]).content.decode()
    assert "AC-2026-000001" in page
    assert "Fill oldest first" in page
    assert "js/ledger-allocate.js" in page

    done = client.post(
        response["Location"], {"on": books.today.isoformat(), f"item_{books.invoice.pk}": "200.00"}
    )
    assert done["Location"] == reverse("ledger:payment-detail", args=[payment.pk])
    payment.ar_item.refresh_from_db()
    books.invoice.refresh_from_db()
    assert payment.unallocated_amount == D("100.00")
    assert books.invoice.open_amount == D("300.00")
    detail = client.get(done["Location"]).content.decode()
    assert "Applied $200.00 to 1 invoice; $100.00 left unallocated." in detail
    assert "Un-allocate" in detail


def test_allocating_more_than_is_open_is_refused_inline(client, login, books):
    login(Role.FINANCE)
    payment = record_payment(
        actor=books.fiona,
        legal_entity=books.entity,
        client=books.client,
        date=books.today,
        amount=D("900.00"),
        currency="USD",
        allocations=[],
    )
    url = reverse("ledger:payment-allocate", args=[payment.pk])
    response = client.post(url, {"on": books.today.isoformat(), f"item_{books.invoice.pk}": "800.00"})
    assert response.status_code == 200
    assert "At most the open amount, $500.00." in response.content.decode()
    nothing = client.post(url, {"on": books.today.isoformat(), f"item_{books.invoice.pk}": ""})
    assert "Enter an amount for at least one invoice." in nothing.content.decode()
    assert not Allocation.objects.filter(credit_item=payment.ar_item).exists()


def test_allocation_service_refusal_shows_on_the_form(client, login, books):
    login(Role.FINANCE)
    payment = record_payment(
        actor=books.fiona,
        legal_entity=books.entity,
        client=books.client,
        date=books.today,
        amount=D("100.00"),
        currency="USD",
        allocations=[],
    )
    response = client.post(
        reverse("ledger:payment-allocate", args=[payment.pk]),
        {"on": books.today.isoformat(), f"item_{books.invoice.pk}": "150.00"},
    )
    assert "left to apply" in response.content.decode()
    assert not Allocation.objects.filter(credit_item=payment.ar_item).exists()


def test_payment_without_open_invoices_goes_to_its_page(client, login, books):
    login(Role.FINANCE)
    other = Account.objects.create(name="Initech", legal_entity=books.entity, currency="USD")
    response = client.post(
        reverse("ledger:payment-create"),
        {
            "legal_entity": books.entity.pk,
            "client": other.pk,
            "date": books.today.isoformat(),
            "amount": "50.00",
            "currency": "USD",
            "bank_account": books.accounts["1000"].pk,
        },
    )
    payment = Payment.objects.get(client=other)
    assert response["Location"] == reverse("ledger:payment-detail", args=[payment.pk])


def test_payment_form_shows_service_errors_inline(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("ledger:payment-create"),
        {
            "legal_entity": books.entity.pk,
            "client": books.client.pk,
            "date": books.today.isoformat(),
            "amount": "-5",
            "currency": "USD",
            "bank_account": books.accounts["1000"].pk,
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Must be positive." in html
    assert not Payment.objects.filter(amount=D("-5")).exists()


def test_unallocate_needs_a_reason_then_reverses_the_allocation(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:allocation-reverse", args=[books.allocation.pk])
    refused = client.post(url, {"reason": ""})
    assert "This field is required." in refused.content.decode()
    assert not Allocation.objects.filter(reversal_of=books.allocation).exists()

    response = client.post(url, {"reason": "Applied to the wrong invoice"})
    assert response["Location"] == reverse("ledger:payment-detail", args=[books.payment.pk])
    assert Allocation.objects.get(reversal_of=books.allocation).amount == D("-700.00")
    books.invoice.refresh_from_db()
    assert books.invoice.open_amount == D("1200.00")
    html = client.get(response["Location"]).content.decode()
    assert "Reversed" in html
    assert AuditEvent.objects.get(action="ar.allocation_reversed").reason == "Applied to the wrong invoice"


def test_exchange_rates_filter_add_and_correct(client, login, books):
    login(Role.FINANCE)
    url = reverse("ledger:exchange-rates")
    day = books.today.isoformat()
    response = client.post(url, {"from_currency": "GBP", "to_currency": "USD", "date": day, "rate": "1.2700"})
    assert response.status_code == 302
    assert ExchangeRate.objects.get(from_currency="GBP").rate == D("1.27")
    listed = client.get(response["Location"]).content.decode()
    assert "Rate recorded: 1 GBP = 1.27 USD" in listed
    assert "EUR/USD" not in listed

    rate = ExchangeRate.objects.get(from_currency="GBP")
    prefilled = client.get(url, {"correct": rate.pk}).content.decode()
    assert 'value="1.27"' in prefilled

    client.post(url, {"from_currency": "GBP", "to_currency": "USD", "date": day, "rate": "1.2800"})
    rate.refresh_from_db()
    assert rate.rate == D("1.28")
    assert AuditEvent.objects.filter(action="exchange_rate.changed", object_id=str(rate.pk)).exists()


def test_exchange_rate_service_refusal_is_inline(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("ledger:exchange-rates"),
        {"from_currency": "USD", "to_currency": "USD", "date": books.today.isoformat(), "rate": "1"},
    )
    assert response.status_code == 200
    assert "A rate needs two different currencies." in response.content.decode()


def test_legal_entity_detail_lists_the_chart(client, login, books):
    login(Role.EXECUTIVE)
    html = client.get(reverse("ledger:entity-detail", args=[books.entity.pk])).content.decode()
    assert "1100" in html and "Accounts receivable" in html
    assert "Cash / bank" in html
    assert f"{reverse('ledger:periods')}?legal_entity={books.entity.pk}" in html
