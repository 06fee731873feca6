"""Billing browser pages: access per role, empty states, and the flows finance runs through them — preview
and start a run, review drafts (drill down, edit with a reason, take work off, delete, release), send,
void and credit invoices, and keep tax codes."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import mail
from django.urls import reverse

from billing.choices import CreditNoteStatus, InvoiceStatus, RunStatus
from billing.models import (
    BillingRun,
    CreditNote,
    Invoice,
    InvoiceLine,
    LineAdjustment,
    TaxCode,
    TimeEntryBilling,
)
from billing.services.credit_notes import create_credit_note
from billing.services.invoices import delete_draft_invoice, release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.models import AuditEvent
from core.roles import Role
from tests.billing.conftest import approved_expense, approved_time, tm_line

pytestmark = pytest.mark.django_db

D = Decimal
LOGOUT_FORM = 'method="post" action="/accounts/logout/"'
HTMX = {"HTTP_HX_REQUEST": "true"}
PERIOD_END = date(2026, 3, 31)


@pytest.fixture
def login(client, make_user):
    """Sign `client` in as a new user holding `roles` (None: a user with no role) and return the user."""

    def sign_in(*roles, **kwargs):
        user = make_user(*(r for r in roles if r), **kwargs)
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture
def books(finance, entity, vat20, client_account, roles, people, make_contract):
    """Two contracts billed by one run: Globex's draft waits for review, the other is released and has a
    draft credit note."""
    globex, globex_project = make_contract([tm_line(roles.senior, "185.00")], code="GLX")
    entries = [
        approved_time(people.sam, globex_project, date(2026, 3, 2), "8.00", "185.00", notes="Workshop"),
        approved_time(people.sam, globex_project, date(2026, 3, 3), "2.00", "185.00", notes="Follow-up"),
    ]
    other, other_project = make_contract([tm_line(roles.analyst, "120.00")], code="OTH")
    approved_time(people.ana, other_project, date(2026, 3, 4), "10.00", "120.00")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=PERIOD_END)
    run = execute_billing_run(run_id=run.pk)
    draft = Invoice.objects.get(run=run, contract=globex)
    released = release_invoice(
        actor=finance, invoice=Invoice.objects.get(run=run, contract=other), issue_date=date(2026, 4, 1)
    )
    note = create_credit_note(
        actor=finance,
        invoice=released,
        reason="Goodwill",
        lines=[{"invoice_line": released.lines.get().pk, "amount": D("100.00")}],
    )
    return SimpleNamespace(
        entity=entity,
        run=run,
        draft=draft,
        line=draft.lines.get(),
        entries=entries,
        released=released,
        note=note,
        tax_code=vat20,
    )


# Pages finance and executives read: url from `books`.
READ_PAGES = {
    "runs": lambda b: reverse("billing:runs"),
    "run": lambda b: reverse("billing:run-detail", args=[b.run.pk]),
    "run-progress": lambda b: reverse("billing:run-progress", args=[b.run.pk]),
    "drafts": lambda b: reverse("billing:drafts"),
    "run-drafts": lambda b: f"{reverse('billing:drafts')}?run={b.run.pk}",
    "draft": lambda b: reverse("billing:draft-detail", args=[b.draft.pk]),
    "line-sources": lambda b: reverse("billing:line-sources", args=[b.draft.pk, b.line.pk]),
    "invoices": lambda b: reverse("billing:invoices"),
    "invoice": lambda b: reverse("billing:invoice-detail", args=[b.released.pk]),
    "draft-invoice": lambda b: reverse("billing:invoice-detail", args=[b.draft.pk]),
    "credit-notes": lambda b: reverse("billing:credit-notes"),
    "credit-note": lambda b: reverse("billing:credit-note-detail", args=[b.note.pk]),
    "tax-codes": lambda b: reverse("billing:tax-codes"),
    "report-wip": lambda b: reverse("billing:report-wip"),
    "report-forecast": lambda b: reverse("billing:report-forecast"),
    "report-register": lambda b: f"{reverse('billing:report-register')}?start=2026-01-01",
    "report-contracts": lambda b: f"{reverse('billing:report-contracts')}?contract={b.draft.contract_id}",
}
# Pages that exist to change something: finance (and admins) only.
WRITE_PAGES = {
    "run-create": lambda b: reverse("billing:run-create"),
    "run-preview": lambda b: (
        f"{reverse('billing:run-preview')}?legal_entity={b.entity.pk}&period_end=2026-03-31"
    ),
    "line-edit": lambda b: reverse("billing:line-edit", args=[b.draft.pk, b.line.pk]),
    "line-remove": lambda b: reverse("billing:line-remove", args=[b.draft.pk, b.line.pk]),
    "credit-note-create": lambda b: reverse("billing:credit-note-create", args=[b.released.pk]),
}
ALL_PAGES = {**READ_PAGES, **WRITE_PAGES}
# Action buttons and links of the billing pages; an executive's pages show none of them.
EXECUTIVE_NEVER_SEES = (
    "New run</a>",
    "Release<span",
    "Delete draft",
    "Edit<span",
    "Remove<span",
    "Take off ticked",
    "Review and release",
    "Send invoice",
    "Void invoice",
    "Credit note</a>",
    "Release credit note",
    "Deactivate",
    "Create tax code",
    "Resume run",
)
EMPTY_STATES = {
    "billing:runs": "No billing runs yet — start one",
    "billing:drafts": "No drafts waiting for review",
    "billing:invoices": "No invoices yet",
    "billing:credit-notes": "No credit notes yet",
    "billing:tax-codes": "No legal entities yet.",
    "billing:report-wip": "No legal entities yet.",
    "billing:report-forecast": "No legal entities yet.",
    "billing:report-register": "No legal entities yet.",
    "billing:report-contracts": "No legal entities yet.",
}


def _post_forms(html: str) -> int:
    """POST forms on a page other than the sign-out form of the navigation bar."""
    return html.count('method="post"') - html.count(LOGOUT_FORM)


def _posts(b) -> list[tuple[str, dict]]:
    """Every action a billing page can post, with plausible data."""
    return [
        (reverse("billing:run-create"), {"legal_entity": b.entity.pk, "period_end": "2026-03-31"}),
        (reverse("billing:run-resume", args=[b.run.pk]), {}),
        (
            reverse("billing:line-edit", args=[b.draft.pk, b.line.pk]),
            {
                f"line-{b.line.pk}-quantity": "1",
                f"line-{b.line.pk}-unit_price": "1",
                f"line-{b.line.pk}-reason": "x",
            },
        ),
        (reverse("billing:line-remove", args=[b.draft.pk, b.line.pk]), {f"remove-{b.line.pk}-reason": "x"}),
        (
            reverse("billing:entries-remove", args=[b.draft.pk, b.line.pk]),
            {f"entries-{b.line.pk}-time_entries": [b.entries[0].pk], f"entries-{b.line.pk}-reason": "x"},
        ),
        (
            reverse("billing:draft-release", args=[b.draft.pk]),
            {f"release-{b.draft.pk}-issue_date": "2026-04-01"},
        ),
        (reverse("billing:draft-delete", args=[b.draft.pk]), {}),
        (reverse("billing:invoice-send", args=[b.released.pk]), {}),
        (reverse("billing:invoice-void", args=[b.released.pk]), {"void-reason": "Wrong client"}),
        (
            reverse("billing:credit-note-create", args=[b.released.pk]),
            {"reason": "x", "outcome": "rebill", f"amount_{b.released.lines.get().pk}": "10"},
        ),
        (reverse("billing:credit-note-release", args=[b.note.pk]), {"release-issue_date": "2026-04-02"}),
        (
            reverse("billing:tax-codes"),
            {
                "legal_entity": b.entity.pk,
                "code": "ZERO",
                "name": "Zero",
                "kind": "zero_rated",
                "rate_percent": "0",
            },
        ),
        (reverse("billing:tax-code-toggle", args=[b.tax_code.pk]), {"active": "0"}),
    ]


def _snapshot() -> tuple:
    return (
        BillingRun.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status", "total_amount")),
        list(InvoiceLine.objects.order_by("pk").values_list("pk", "quantity", "unit_price")),
        TimeEntryBilling.objects.count(),
        list(CreditNote.objects.order_by("pk").values_list("pk", "status")),
        list(TaxCode.objects.order_by("pk").values_list("pk", "active")),
        len(mail.outbox),
    )


def test_pages_send_anonymous_visitors_to_sign_in(client, books):
    for page, url in ALL_PAGES.items():
        response = client.get(url(books))
        assert response.status_code == 302, page
        assert response["Location"].startswith(f"{reverse('login')}?next="), page


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, None])
def test_every_page_and_action_refuses_roles_without_billing_access(client, login, books, role):
    login(role)
    for page, url in ALL_PAGES.items():
        response = client.get(url(books))
        assert response.status_code == 403, page
        assert "You do not have access to this page" in response.content.decode()
    before = _snapshot()
    for url, data in _posts(books):
        assert client.post(url, data).status_code == 403, url
    assert _snapshot() == before


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
def test_every_page_renders_for_finance_and_admin(client, login, books, role):
    login(role)
    for page, url in ALL_PAGES.items():
        response = client.get(url(books))
        assert response.status_code == 200, page
        assert "Traceback" not in response.content.decode(), page


def test_executive_reads_every_page_without_a_way_to_change_anything(client, login, books):
    login(Role.EXECUTIVE)
    for page, url in READ_PAGES.items():
        response = client.get(url(books))
        assert response.status_code == 200, page
        html = response.content.decode()
        assert _post_forms(html) == 0, page
        for action in EXECUTIVE_NEVER_SEES:
            assert action not in html, (page, action)
    for page, url in WRITE_PAGES.items():
        assert client.get(url(books)).status_code == 403, page


def test_executive_posts_are_refused_and_change_nothing(client, login, books):
    login(Role.EXECUTIVE)
    before = _snapshot()
    for url, data in _posts(books):
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, **HTMX).status_code == 403, url
    assert _snapshot() == before


@pytest.mark.parametrize(("url_name", "empty_text"), EMPTY_STATES.items())
def test_list_pages_explain_an_empty_billing_to_finance(client, login, url_name, empty_text):
    login(Role.FINANCE)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert empty_text in response.content.decode()


def test_finance_and_executives_find_billing_in_the_navigation(client, login):
    login(Role.FINANCE)
    response = client.get(reverse("billing:runs"))
    assert [link.label for link in response.context["nav_links"] if link.active] == ["Billing"]
    html = response.content.decode()
    for label in ("Billing runs", "Drafts", "Invoices", "Credit notes", "Tax codes"):
        assert f">{label}</a>" in html
    # Finance still lands on the ledger.
    assert client.get(reverse("home"))["Location"] == reverse("ledger:workspace")


@pytest.mark.parametrize(("role", "sees"), [(Role.EXECUTIVE, True), (Role.CONSULTANT, False)])
def test_billing_navigation_entry_by_role(client, login, role, sees):
    login(role)
    labels = [link.label for link in client.get(reverse("core:overview")).context["nav_links"]]
    assert ("Billing" in labels) is sees


def test_preview_shows_what_a_run_would_bill_and_writes_nothing(
    client, login, entity, roles, people, make_contract
):
    _, project = make_contract([tm_line(roles.senior, "185.00")], code="GLX")
    approved_time(people.sam, project, date(2026, 3, 2), "8.00", "185.00")
    approved_time(people.sam, project, date(2026, 3, 3), "2.50", "185.00")
    login(Role.FINANCE)
    before = (_snapshot(), AuditEvent.objects.count())

    response = client.get(
        reverse("billing:run-preview"), {"legal_entity": entity.pk, "period_end": "2026-03-31"}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Globex Corp" in html
    assert "Senior: 10.50 h at 185.00" in html
    assert "$1,942.50" in html  # 10.5 h × 185.00, before tax
    assert "nothing is written" in html
    assert (_snapshot(), AuditEvent.objects.count()) == before


def test_preview_without_a_date_says_so(client, login, entity):
    login(Role.FINANCE)
    response = client.get(reverse("billing:run-preview"), {"legal_entity": entity.pk}, **HTMX)
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_new_run_form_offers_the_preview_and_start(client, login, entity):
    login(Role.FINANCE)
    html = client.get(reverse("billing:run-create")).content.decode()
    assert reverse("billing:run-preview") in html
    assert "Start run" in html
    assert 'value="2026-10-31"' in html or "period_end" in html


def test_start_run_through_the_page(
    client, login, entity, roles, people, make_contract, django_capture_on_commit_callbacks
):
    _, project = make_contract([tm_line(roles.senior, "185.00")], code="GLX")
    approved_time(people.sam, project, date(2026, 3, 2), "8.00", "185.00")
    user = login(Role.FINANCE)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("billing:run-create"), {"legal_entity": entity.pk, "period_end": "2026-03-31"}
        )

    run = BillingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:run-detail", args=[run.pk])
    assert (run.status, run.created_by, run.invoices_created) == (RunStatus.COMPLETED, user, 1)
    html = client.get(response["Location"]).content.decode()
    assert "Completed" in html
    assert "Review 1 draft" in html
    assert 'hx-trigger="every 2s"' not in html


def test_start_run_refusal_shows_on_the_form(client, login, entity):
    login(Role.FINANCE)
    response = client.post(
        reverse("billing:run-create"), {"legal_entity": entity.pk, "period_end": "2030-01-01"}
    )
    assert response.status_code == 200
    assert "Bill at most a year ahead." in response.content.decode()
    assert not BillingRun.objects.exists()


def test_progress_polls_while_a_run_is_pending_and_stops_when_it_is_done(client, login, entity, finance):
    login(Role.FINANCE)
    run = BillingRun.objects.create(legal_entity=entity, period_end=PERIOD_END, created_by=finance)
    url = reverse("billing:run-progress", args=[run.pk])
    pending = client.get(reverse("billing:run-detail", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in pending
    assert f'hx-get="{url}?polling=1"' in pending

    execute_billing_run(run_id=run.pk)
    response = client.get(f"{url}?polling=1", **HTMX)

    html = response.content.decode()
    assert 'data-status="completed"' in html
    assert "hx-trigger" not in html
    assert response["HX-Refresh"] == "true"


def test_failed_run_offers_resume_to_finance_only(
    client, login, entity, make_user, django_capture_on_commit_callbacks
):
    run = BillingRun.objects.create(
        legal_entity=entity, period_end=PERIOD_END, status=RunStatus.FAILED, error="OperationalError: gone"
    )
    login(Role.FINANCE)
    html = client.get(reverse("billing:run-detail", args=[run.pk])).content.decode()
    assert "Resume run" in html
    assert "OperationalError: gone" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:run-resume", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    client.force_login(make_user(Role.EXECUTIVE))
    run.status = RunStatus.FAILED
    run.save()
    assert "Resume run" not in client.get(reverse("billing:run-detail", args=[run.pk])).content.decode()


def test_workbench_shows_drafts_with_their_flags(client, login, books):
    books.draft.flags = [{"code": "credit_limit", "message": "Globex Corp would owe $9,999.00."}]
    books.draft.save(update_fields=["flags"])
    login(Role.FINANCE)
    html = client.get(f"{reverse('billing:drafts')}?run={books.run.pk}").content.decode()
    assert "Drafts of billing run #" in html
    assert "Globex Corp" in html
    assert 'data-flag="credit_limit"' in html
    assert "Globex Corp would owe $9,999.00." in html
    assert "$2,220.00" in html  # 10 h × 185.00 + 20% tax
    flagged = client.get(reverse("billing:drafts"), {"flagged": "on"}).content.decode()
    assert f'id="draft-{books.draft.pk}"' in flagged


def test_drill_down_from_a_line_to_its_time_entries(client, login, books):
    login(Role.FINANCE)
    response = client.get(reverse("billing:line-sources", args=[books.draft.pk, books.line.pk]), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="line-{books.line.pk}-panel"')
    assert html.count('data-testid="source-entry"') == 2
    assert "Workshop" in html and "Sam Senior" in html
    assert "Take off ticked entries" in html


def test_drill_down_from_an_expense_line(client, login, finance, entity, roles, people, make_contract):
    _, project = make_contract([tm_line(roles.senior, "185.00")], code="EXP")
    approved_expense(people.sam, project, date(2026, 3, 4), "640.00", markup="10", category="lodging")
    run = execute_billing_run(
        run_id=start_billing_run(actor=finance, legal_entity=entity, period_end=PERIOD_END).pk
    )
    line = InvoiceLine.objects.get(invoice__run=run, source_type="expense")
    login(Role.EXECUTIVE)
    html = client.get(
        reverse("billing:line-sources", args=[line.invoice_id, line.pk]), **HTMX
    ).content.decode()
    assert html.count('data-testid="source-expense"') == 1
    assert "Lodging" in html and "$640.00" in html and "$704.00" in html
    assert 'method="post"' not in html


def test_edit_without_a_reason_shows_the_error_and_changes_nothing(client, login, books):
    login(Role.FINANCE)
    prefix = f"line-{books.line.pk}"
    data = {f"{prefix}-quantity": "9", f"{prefix}-unit_price": "185", f"{prefix}-reason": " "}

    response = client.post(reverse("billing:line-edit", args=[books.draft.pk, books.line.pk]), data, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Say why (it is kept in the audit trail)." in html
    assert 'aria-invalid="true"' in html
    books.line.refresh_from_db()
    assert books.line.quantity == D("10.00")
    assert not LineAdjustment.objects.exists()
    # Without htmx: the draft's own page, with the form open.
    page = client.post(reverse("billing:line-edit", args=[books.draft.pk, books.line.pk]), data)
    assert page.status_code == 200
    assert "Say why (it is kept in the audit trail)." in page.content.decode()


def test_edit_with_a_reason_writes_the_line_down(client, login, books):
    user = login(Role.FINANCE)
    prefix = f"line-{books.line.pk}"
    response = client.post(
        reverse("billing:line-edit", args=[books.draft.pk, books.line.pk]),
        {
            f"{prefix}-quantity": "9",
            f"{prefix}-unit_price": "185",
            f"{prefix}-reason": "One hour was training",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "now bills $1,665.00" in html
    assert "edited, was $1,850.00" in html
    books.line.refresh_from_db()
    assert (books.line.quantity, books.line.amount) == (D("9"), D("1665.00"))
    adjustment = LineAdjustment.objects.get()
    assert (adjustment.reason, adjustment.actor, adjustment.amount_change) == (
        "One hour was training",
        user,
        D("-185.00"),
    )
    books.draft.refresh_from_db()
    assert books.draft.total_amount == D("1998.00")


def test_remove_ticked_time_entries_returns_them_to_unbilled(client, login, books):
    login(Role.FINANCE)
    prefix = f"entries-{books.line.pk}"
    url = reverse("billing:entries-remove", args=[books.draft.pk, books.line.pk])
    refused = client.post(url, {f"{prefix}-time_entries": [books.entries[1].pk]}, **HTMX)
    assert "Say why" in refused.content.decode()
    assert TimeEntryBilling.objects.filter(time_entry=books.entries[1]).exists()

    response = client.post(
        url, {f"{prefix}-time_entries": [books.entries[1].pk], f"{prefix}-reason": "Not in scope"}, **HTMX
    )

    assert "1 time entry taken off" in response.content.decode()
    assert not TimeEntryBilling.objects.filter(time_entry=books.entries[1]).exists()
    books.line.refresh_from_db()
    assert (books.line.quantity, books.line.amount) == (D("8.00"), D("1480.00"))


def test_remove_line_needs_a_reason_and_its_last_line_deletes_the_draft(client, login, books):
    login(Role.FINANCE)
    url = reverse("billing:line-remove", args=[books.draft.pk, books.line.pk])
    assert "Say why" in client.post(url, {}, **HTMX).content.decode()
    response = client.post(url, {f"remove-{books.line.pk}-reason": "Billed elsewhere"}, **HTMX)
    assert "removed; its work is back to unbilled" in response.content.decode()
    assert not Invoice.objects.filter(pk=books.draft.pk).exists()
    assert not TimeEntryBilling.objects.filter(time_entry__in=books.entries).exists()


def test_release_through_the_workbench(client, login, books):
    user = login(Role.FINANCE)
    response = client.post(
        reverse("billing:draft-release", args=[books.draft.pk]),
        {f"release-{books.draft.pk}-issue_date": "2026-04-02"},
        **HTMX,
    )
    assert response.status_code == 200
    books.draft.refresh_from_db()
    assert (books.draft.status, books.draft.issue_date, books.draft.released_by) == (
        InvoiceStatus.RELEASED,
        date(2026, 4, 2),
        user,
    )
    html = response.content.decode()
    assert f"Released as {books.draft.number}" in html
    assert reverse("billing:invoice-detail", args=[books.draft.pk]) in html
    # Releasing again is refused in the card, not with a server error.
    again = client.post(
        reverse("billing:draft-release", args=[books.draft.pk]),
        {f"release-{books.draft.pk}-issue_date": "2026-04-02"},
        **HTMX,
    )
    assert again.status_code == 200
    assert "is already released" in again.content.decode()
    # A stale page asking to edit one of its lines is sent to the invoice.
    stale = client.get(reverse("billing:line-edit", args=[books.draft.pk, books.line.pk]), **HTMX)
    assert stale.status_code == 204
    assert stale["HX-Redirect"] == reverse("billing:invoice-detail", args=[books.draft.pk])


def test_release_without_htmx_goes_to_the_invoice(client, login, books):
    login(Role.FINANCE)
    response = client.post(
        reverse("billing:draft-release", args=[books.draft.pk]),
        {f"release-{books.draft.pk}-issue_date": "2026-04-02"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:invoice-detail", args=[books.draft.pk])
    books.draft.refresh_from_db()
    html = client.get(response["Location"]).content.decode()
    assert f"Released as {books.draft.number}" in html
    assert "Tax summary" in html and "VAT20" in html


def test_delete_draft_returns_its_work_to_unbilled(client, login, books, finance):
    login(Role.FINANCE)
    assert TimeEntryBilling.objects.filter(time_entry__in=books.entries).count() == 2

    response = client.post(
        reverse("billing:draft-delete", args=[books.draft.pk]),
        {f"delete-{books.draft.pk}-reason": "Redo"},
        **HTMX,
    )

    assert "deleted; its work is back to unbilled" in response.content.decode()
    assert not Invoice.objects.filter(pk=books.draft.pk).exists()
    assert not TimeEntryBilling.objects.filter(time_entry__in=books.entries).exists()
    preview = client.get(
        reverse("billing:run-preview"), {"legal_entity": books.entity.pk, "period_end": "2026-03-31"}, **HTMX
    )
    assert "Senior: 10.00 h at 185.00" in preview.content.decode()
    rerun = execute_billing_run(
        run_id=start_billing_run(actor=finance, legal_entity=books.entity, period_end=PERIOD_END).pk
    )
    assert rerun.entries_billed == 2


def test_invoice_list_filters_by_status_and_client(client, login, books):
    login(Role.FINANCE)
    html = client.get(reverse("billing:invoices")).content.decode()
    assert books.released.number in html and f"Draft #{books.draft.pk}" in html
    drafts = client.get(reverse("billing:invoices"), {"status": "draft"}).content.decode()
    assert books.released.number not in drafts and f"Draft #{books.draft.pk}" in drafts
    released = client.get(reverse("billing:invoices"), {"status": "released"}).content.decode()
    assert books.released.number in released and f"Draft #{books.draft.pk}" not in released


def test_invoice_detail_shows_lines_tax_balance_and_history(client, login, books):
    login(Role.FINANCE)
    html = client.get(reverse("billing:invoice-detail", args=[books.released.pk])).content.decode()
    assert f"Invoice {books.released.number}" in html
    assert "Analyst: 10.00 h at 120.00" in html
    assert "$1,200.00" in html and "$240.00" in html and "$1,440.00" in html
    assert "invoice.released" in html
    assert reverse("billing:invoice-pdf", args=[books.released.pk]) in html
    assert "Send invoice" in html and "Void invoice" in html
    line = books.released.lines.get()
    # Without htmx the drill-down opens on the invoice's own page.
    sources = client.get(reverse("billing:line-sources", args=[books.released.pk, line.pk])).content.decode()
    assert "Work billed by “Analyst: 10.00 h at 120.00”" in sources
    assert "Take off ticked entries" not in sources


def test_invoice_pdf_is_served_inline(client, login, books):
    login(Role.EXECUTIVE)
    response = client.get(reverse("billing:invoice-pdf", args=[books.released.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{books.released.number}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_send_to_the_billing_contact_or_another_address(client, login, books):
    login(Role.FINANCE)
    url = reverse("billing:invoice-send", args=[books.released.pk])
    bad = client.post(url, {"send-to": "not an address"})
    assert bad.status_code == 200 and "Enter a valid email address." in bad.content.decode()
    assert client.post(url, {}).status_code == 302
    assert mail.outbox[-1].to == ["ap@globex.example"]
    client.post(url, {"send-to": "cfo@globex.example"})
    assert mail.outbox[-1].to == ["cfo@globex.example"]
    books.released.refresh_from_db()
    assert books.released.status == InvoiceStatus.SENT


def test_void_needs_a_reason_and_refusals_show_as_errors(client, login, books, finance):
    login(Role.FINANCE)
    url = reverse("billing:invoice-void", args=[books.released.pk])
    response = client.post(url, {"void-reason": ""})
    assert response.status_code == 200
    assert "Say why (it is kept in the audit trail)." in response.content.decode()
    # Its draft credit note is still pending: voiding is refused until it is released or deleted, shown.
    response = client.post(url, {"void-reason": "Billed the wrong client"})
    assert response.status_code == 200
    assert "is pending on invoice" in response.content.decode()
    books.released.refresh_from_db()
    assert books.released.status == InvoiceStatus.RELEASED

    other = release_invoice(actor=finance, invoice=books.draft, issue_date=date(2026, 4, 1))
    url = reverse("billing:invoice-void", args=[other.pk])
    response = client.post(url, {"void-reason": "Billed the wrong client"})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == InvoiceStatus.VOID
    again = client.post(url, {"void-reason": "Twice"}, follow=True)
    assert "only a released or sent invoice can be voided" in again.content.decode()


def test_credit_note_from_the_form_then_released(client, login, books):
    login(Role.FINANCE)
    line = books.released.lines.get()
    url = reverse("billing:credit-note-create", args=[books.released.pk])
    assert (
        "Enter an amount for a line or tick time entries"
        in client.post(url, {"reason": "x", "outcome": "rebill"}).content.decode()
    )
    too_much = client.post(url, {"reason": "x", "outcome": "rebill", f"amount_{line.pk}": "5000"})
    assert "left to credit" in too_much.content.decode()

    response = client.post(
        url, {"reason": "Rate error", "outcome": "write_off", f"amount_{line.pk}": "60.00"}
    )

    note = CreditNote.objects.exclude(pk=books.note.pk).get()
    assert response["Location"] == reverse("billing:credit-note-detail", args=[note.pk])
    assert (note.status, note.rebill, note.total_amount) == (CreditNoteStatus.DRAFT, False, D("72.00"))
    release = client.post(
        reverse("billing:credit-note-release", args=[note.pk]), {"release-issue_date": "2026-04-05"}
    )
    assert release.status_code == 302
    note.refresh_from_db()
    assert note.status == CreditNoteStatus.RELEASED
    html = client.get(release["Location"]).content.decode()
    assert f"Credit note {note.number}" in html
    early = client.post(
        reverse("billing:credit-note-release", args=[books.note.pk]), {"release-issue_date": "2026-03-01"}
    )
    assert "cannot be dated before its invoice" in early.content.decode()


def test_tax_codes_create_and_deactivate(client, login, books):
    login(Role.FINANCE)
    url = reverse("billing:tax-codes")
    html = client.get(url).content.decode()
    assert "VAT20" in html and "Deactivate" in html
    refused = client.post(
        url,
        {
            "legal_entity": books.entity.pk,
            "code": "STD",
            "name": "Std",
            "kind": "standard",
            "rate_percent": "5",
        },
    )
    assert "needs the tax payable account" in refused.content.decode()
    response = client.post(
        url,
        {
            "legal_entity": books.entity.pk,
            "code": "ex",
            "name": "Exempt",
            "kind": "exempt",
            "rate_percent": "0",
        },
    )
    assert response.status_code == 302
    assert TaxCode.objects.filter(legal_entity=books.entity, code="EX", kind="exempt").exists()
    client.post(reverse("billing:tax-code-toggle", args=[books.tax_code.pk]), {"active": "0"})
    books.tax_code.refresh_from_db()
    assert books.tax_code.active is False


def test_reports_show_unbilled_work_the_register_and_a_contracts_status(client, login, books):
    login(Role.EXECUTIVE)
    wip = client.get(reverse("billing:report-wip"), {"as_of": "2026-03-31"}).content.decode()
    assert "every approved billable hour and expense is on an invoice" in wip
    register = client.get(
        reverse("billing:report-register"), {"start": "2026-04-01", "end": "2026-04-30"}
    ).content.decode()
    assert books.released.number in register and "$1,440.00" in register
    csv = client.get(
        reverse("billing:report-register"), {"start": "2026-04-01", "end": "2026-04-30", "format": "csv"}
    )
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert books.released.number in csv.content.decode()
    status = client.get(
        reverse("billing:report-contracts"), {"contract": books.draft.contract_id}
    ).content.decode()
    assert "Senior time" in status and "$1,850.00" in status  # the draft already holds its share
    forecast = client.get(reverse("billing:report-forecast"), {"start": "2026-04-01"}).content.decode()
    assert "Billing forecast" in forecast


def test_unbilled_wip_shows_work_a_deleted_draft_returned(client, login, books, finance):
    delete_draft_invoice(actor=finance, invoice=books.draft, reason="Redo")
    login(Role.FINANCE)
    html = client.get(reverse("billing:report-wip"), {"as_of": "2026-03-31"}).content.decode()
    assert "Globex Corp" in html and "$1,850.00" in html
    forecast = client.get(reverse("billing:report-forecast"), {"start": "2026-04-01"}).content.decode()
    assert "April 2026" in forecast and "$1,850.00" in forecast
