"""The billing API: runs (create, poll, preview, resume, exceptions), invoices (review, release, send, void,
PDF), what the projects API shows for billed work, roles, API key scopes and query counts."""

import importlib.util
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.choices import RunStatus
from billing.models import BillingRun, CreditNote, Invoice, InvoiceLine, LineAdjustment, TimeEntryBilling
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.models import AuditEvent
from core.roles import Role
from projects.services.projects import create_project
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db

HAVE_PDF = importlib.util.find_spec("billing.pdf") is not None
needs_pdf = pytest.mark.skipif(not HAVE_PDF, reason="billing/pdf.py (render_invoice_pdf) has not landed yet")


def run_billing(finance, entity, period_end=date(2026, 3, 31), **scope) -> BillingRun:
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=period_end, **scope)
    return execute_billing_run(run_id=run.pk)


@pytest.fixture
def api(client_for):
    """A finance user's API client."""
    return client_for(Role.FINANCE)


@pytest.fixture
def billed(finance, entity, roles, people, make_contract):
    """A run's draft: Senior 2 × 8 h at 185.00 = 2,960.00 and a 100.00 lodging expense; 20% VAT →
    3,060.00 + 612.00 = 3,672.00."""
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    entries = [approved_time(people.sam, project, date(2026, 3, day), "8", "185.00") for day in (2, 3)]
    expense = approved_expense(people.sam, project, date(2026, 3, 4), "100.00")
    run = run_billing(finance, entity)
    invoice = Invoice.objects.get(run=run)
    time_line, expense_line = invoice.lines.order_by("position", "id")
    return SimpleNamespace(
        contract=contract,
        project=project,
        entries=entries,
        expense=expense,
        run=run,
        invoice=invoice,
        time_line=time_line,
        expense_line=expense_line,
    )


def url(invoice, action=""):
    return f"/api/v1/invoices/{invoice.pk}/" + (f"{action}/" if action else "")


# Runs


def test_a_run_started_through_the_api_drafts_the_invoice(
    api, entity, roles, people, make_contract, django_capture_on_commit_callbacks
):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    entry = approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/billing-runs/",
            {"legal_entity": entity.pk, "period_end": "2026-03-31", "scope": {"contracts": [contract.pk]}},
        )

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["scope"] == {"accounts": [], "contracts": [contract.pk]}
    assert created["status"] == RunStatus.PENDING
    run = api.get(f"/api/v1/billing-runs/{created['id']}/").json()
    assert {
        key: run[key] for key in ("status", "progress", "invoices_created", "entries_billed", "totals")
    } == {
        "status": "completed",
        "progress": 100,
        "invoices_created": 1,
        "entries_billed": 1,
        "totals": {"USD": "1776.00"},
    }
    assert run["started_at"] and run["finished_at"]
    [invoice] = api.get(f"/api/v1/invoices/?run={created['id']}").json()["results"]
    assert {
        key: invoice[key] for key in ("status", "number", "account", "contract", "project", "currency")
    } == {
        "status": "draft",
        "number": "",
        "account": contract.account_id,
        "contract": contract.pk,
        "project": project.pk,
        "currency": "USD",
    }
    assert (invoice["subtotal_amount"], invoice["tax_amount"], invoice["total_amount"]) == (
        "1480.00",
        "296.00",
        "1776.00",
    )
    assert invoice["balance_amount"] == "1776.00"
    [line] = invoice["lines"]
    assert {key: line[key] for key in ("quantity", "unit_price", "amount", "tax_code", "source_type")} == {
        "quantity": "8",
        "unit_price": "185.00",
        "amount": "1480.00",
        "tax_code": "VAT20",
        "source_type": "time",
    }
    assert line["source_ids"] == [entry.pk]


def test_a_run_takes_top_level_scope_lists_and_refuses_another_entitys_contract(
    api, entity, make_contract, roles
):
    contract, _ = make_contract([tm_line(roles.senior, "185.00")])
    response = api.post(
        "/api/v1/billing-runs/",
        {"legal_entity": entity.pk, "period_end": "2026-03-31", "contracts": [contract.pk + 1000]},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "contracts" in response.json()["fields"]
    missing = api.post("/api/v1/billing-runs/", {"legal_entity": entity.pk})
    assert missing.status_code == 400
    assert set(missing.json()["fields"]) == {"period_end"}
    bad_scope = api.post(
        "/api/v1/billing-runs/",
        {"legal_entity": entity.pk, "period_end": "2026-03-31", "scope": {"accounts": ["x"]}},
    )
    assert bad_scope.status_code == 400
    assert "scope" in bad_scope.json()["fields"]
    assert not BillingRun.objects.exists()


def test_an_idempotency_key_starts_one_run(api, entity, django_capture_on_commit_callbacks):
    body = {"legal_entity": entity.pk, "period_end": "2026-03-31"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/billing-runs/", body, HTTP_IDEMPOTENCY_KEY="month-end-march")
        again = api.post("/api/v1/billing-runs/", body, HTTP_IDEMPOTENCY_KEY="month-end-march")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert BillingRun.objects.count() == 1


def test_preview_shows_what_a_run_would_bill_and_writes_nothing(api, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    approved_time(people.sam, project, date(2026, 3, 3), "0.5", "185.00")
    approved_expense(people.sam, project, date(2026, 3, 4), "99.99")
    counts = lambda: (  # noqa: E731
        BillingRun.objects.count(),
        Invoice.objects.count(),
        TimeEntryBilling.objects.count(),
        AuditEvent.objects.count(),
    )
    before = counts()

    response = api.post(
        "/api/v1/billing-runs/preview/", {"legal_entity": entity.pk, "period_end": "2026-03-31"}
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert counts() == before
    assert (body["period_end"], body["totals"], body["exceptions"], body["truncated"]) == (
        "2026-03-31",
        {"USD": "1672.49"},
        0,
        False,
    )
    [row] = body["contracts"]
    assert (row["contract"], row["number"], row["currency"], row["subtotal_amount"]) == (
        contract.pk,
        contract.number,
        "USD",
        "1672.49",
    )
    assert (row["entries"], row["expenses"], row["items"]) == (2, 1, 0)
    assert [
        (line["source_type"], line["quantity"], line["unit_price"], line["amount"]) for line in row["lines"]
    ] == [
        ("time", "8.5", "185.00", "1572.50"),
        ("expense", "1", "99.99", "99.99"),
    ]


def test_run_exceptions_are_listed_per_run(api, finance, entity, client_account, people):
    orphan = create_project(
        actor=None,
        account=client_account,
        legal_entity=entity,
        code="ORPHAN",
        name="Work without a contract",
        currency="USD",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        tasks=[{"name": "Delivery", "billable": True}],
    )
    approved_time(people.sam, orphan, date(2026, 3, 2), "4", "150.00")
    run = run_billing(finance, entity)

    response = api.get(f"/api/v1/billing-runs/{run.pk}/exceptions/")

    assert response.status_code == 200
    [exception] = response.json()["results"]
    assert (exception["run"], exception["kind"], exception["project"]) == (run.pk, "no_plan", orphan.pk)
    assert api.get(f"/api/v1/billing-runs/{run.pk}/").json()["exceptions_count"] == 1
    assert api.get(f"/api/v1/billing-runs/{run.pk + 1}/exceptions/").status_code == 404


def test_resume_continues_a_failed_run_and_refuses_a_completed_one(
    api, finance, entity, roles, people, make_contract, django_capture_on_commit_callbacks
):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    BillingRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="OperationalError: gone")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/billing-runs/{run.pk}/resume/")

    assert response.status_code == 200
    run.refresh_from_db()
    assert (run.status, run.invoices_created, run.error) == (RunStatus.COMPLETED, 1, "")
    again = api.post(f"/api/v1/billing-runs/{run.pk}/resume/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


# Invoices: reading


def test_invoice_lines_name_their_sources_and_filters_apply(api, billed, entity):
    body = api.get(url(billed.invoice)).json()
    assert body["status"] == "draft"
    assert (body["subtotal_amount"], body["tax_amount"], body["total_amount"], body["balance_amount"]) == (
        "3060.00",
        "612.00",
        "3672.00",
        "3672.00",
    )
    assert [(line["source_type"], line["source_ids"]) for line in body["lines"]] == [
        ("time", sorted(entry.pk for entry in billed.entries)),
        ("expense", [billed.expense.pk]),
    ]
    assert [line["id"] for line in body["lines"]] == [billed.time_line.pk, billed.expense_line.pk]

    def ids(query):
        response = api.get(f"/api/v1/invoices/?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("status=draft") == [billed.invoice.pk]
    assert ids("status=released") == []
    assert ids(f"account={billed.contract.account_id}&contract={billed.contract.pk}") == [billed.invoice.pk]
    assert ids(f"legal_entity={entity.pk}&run={billed.run.pk}") == [billed.invoice.pk]
    release_invoice(actor=billed.run.created_by, invoice=billed.invoice, issue_date=date(2026, 4, 1))
    assert ids("issue_date_after=2026-04-01&issue_date_before=2026-04-30") == [billed.invoice.pk]
    assert ids("issue_date_after=2026-04-02") == []
    bad = api.get("/api/v1/invoices/?status=lost&issue_date_after=soon")
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"status", "issue_date"}


def test_the_invoice_list_does_not_query_per_invoice_or_line(
    api, finance, entity, client_account, roles, people, make_contract
):
    def add_contract(n):
        contract, project = make_contract([tm_line(roles.senior, "185.00")], code=f"P{n}")
        for day in (2, 3):
            approved_time(people.sam, project, date(2026, 3, day), "8", "185.00")
        approved_expense(people.sam, project, date(2026, 3, 4), "10.00")

    def queries():
        api.get("/api/v1/invoices/")  # the user's roles are read once, then cached on the user
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/v1/invoices/")
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    add_contract(1)
    run_billing(finance, entity)
    few = queries()
    for n in range(2, 5):
        add_contract(n)
    run_billing(finance, entity)
    many = queries()
    assert (few[1], many[1]) == (1, 4)
    assert many[0] == few[0] <= 6


# Invoices: review and life


def test_release_send_void_and_wrong_status_is_409(api, billed):
    invoice = billed.invoice
    for action, body in (("send", {}), ("void", {"reason": "Wrong client"})):
        refused = api.post(url(invoice, action), body)
        assert refused.status_code == 409, action
        assert refused.json()["code"] == "invalid_transition"

    released = api.post(url(invoice, "release"), {"issue_date": "2026-04-01"})

    assert released.status_code == 200, released.json()
    body = released.json()
    assert (body["status"], body["number"], body["issue_date"], body["due_date"]) == (
        "released",
        "US-2026-000001",
        "2026-04-01",
        "2026-05-01",
    )
    assert body["balance_amount"] == "3672.00"
    again = api.post(url(invoice, "release"))
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    no_reason = api.post(url(invoice, "void"), {})
    assert no_reason.status_code == 400
    assert set(no_reason.json()["fields"]) == {"reason"}
    assert Invoice.objects.get(pk=invoice.pk).status == "released"

    voided = api.post(url(invoice, "void"), {"reason": "Billed to the wrong client"})

    assert voided.status_code == 200, voided.json()
    assert (voided.json()["status"], voided.json()["balance_amount"]) == ("void", "0.00")
    assert voided.json()["void_reason"] == "Billed to the wrong client"
    note = CreditNote.objects.get(invoice=invoice)
    assert (note.status, note.total_amount) == ("released", D("3672.00"))
    assert not TimeEntryBilling.objects.filter(time_entry__in=billed.entries).exists()
    assert api.post(url(invoice, "void"), {"reason": "Twice"}).status_code == 409


@needs_pdf
def test_send_mails_the_pdf_and_may_send_again(api, billed):
    api.post(url(billed.invoice, "release"), {"issue_date": "2026-04-01"})

    sent = api.post(url(billed.invoice, "send"))

    assert sent.status_code == 200, sent.json()
    assert (sent.json()["status"], sent.json()["sent_to"]) == ("sent", "ap@globex.example")
    [message] = mail.outbox
    assert message.to == ["ap@globex.example"]
    assert message.attachments[0][0] == "US-2026-000001.pdf"
    again = api.post(url(billed.invoice, "send"), {"to": "cfo@globex.example"})
    assert (again.status_code, again.json()["sent_to"]) == (200, "cfo@globex.example")
    assert api.post(url(billed.invoice, "send"), {"to": "not an address"}).status_code == 400


@needs_pdf
def test_the_pdf(api, billed):
    response = api.get(url(billed.invoice, "pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="draft-{billed.invoice.pk}.pdf"'
    assert response.content.startswith(b"%PDF-")
    detailed = api.get(url(billed.invoice, "pdf") + "?time_detail=true", HTTP_ACCEPT="application/pdf")
    assert detailed.status_code == 200
    assert detailed.content.startswith(b"%PDF-")
    missing = api.get(f"/api/v1/invoices/{billed.invoice.pk + 1}/pdf/", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_edit_line_needs_a_reason_and_a_zero_invoice_cannot_be_released(
    api, finance, entity, roles, people, make_contract
):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    invoice = Invoice.objects.get(run=run_billing(finance, entity))
    line = invoice.lines.get()

    no_reason = api.post(url(invoice, "edit-line"), {"line": line.pk, "unit_price": "0"})
    assert no_reason.status_code == 400
    assert set(no_reason.json()["fields"]) == {"reason"}
    nothing = api.post(url(invoice, "edit-line"), {"line": line.pk, "reason": "Goodwill"})
    assert nothing.status_code == 400
    other = api.post(url(invoice, "edit-line"), {"line": line.pk + 99, "unit_price": "1", "reason": "x"})
    assert (other.status_code, list(other.json()["fields"])) == (400, ["line"])
    assert not LineAdjustment.objects.exists()

    edited = api.post(url(invoice, "edit-line"), {"line": line.pk, "unit_price": "0", "reason": "Goodwill"})

    assert edited.status_code == 200, edited.json()
    assert (edited.json()["total_amount"], edited.json()["lines"][0]["amount"]) == ("0.00", "0.00")
    assert edited.json()["lines"][0]["original_amount"] == "1480.00"
    refused = api.post(url(invoice, "release"))
    assert refused.status_code == 400
    assert refused.json()["code"] == "non_positive_total"
    assert refused.json()["fields"] == {"total_amount": ["Must be more than zero."]}
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("draft", "")


def test_remove_entries_lines_and_delete_a_draft(api, billed):
    first, second = billed.entries
    no_reason = api.post(url(billed.invoice, "remove-entries"), {"time_entries": [first.pk]})
    assert no_reason.status_code == 400

    shrunk = api.post(
        url(billed.invoice, "remove-entries"), {"time_entries": [first.pk], "reason": "Not done"}
    )

    assert shrunk.status_code == 200, shrunk.json()
    time_line = shrunk.json()["lines"][0]
    assert (time_line["quantity"], time_line["amount"], time_line["source_ids"]) == (
        "8",
        "1480.00",
        [second.pk],
    )
    assert not TimeEntryBilling.objects.filter(time_entry=first).exists()

    removed = api.post(
        url(billed.invoice, "remove-line"), {"line": billed.expense_line.pk, "reason": "Own cost"}
    )

    assert removed.status_code == 200, removed.json()
    assert [line["source_type"] for line in removed.json()["lines"]] == ["time"]
    assert removed.json()["total_amount"] == "1776.00"

    deleted = api.delete(url(billed.invoice) + "?reason=Rebill+in+April")

    assert deleted.status_code == 204
    assert not Invoice.objects.filter(pk=billed.invoice.pk).exists()
    assert not TimeEntryBilling.objects.exists()
    assert api.get(url(billed.invoice)).status_code == 404


def test_removing_the_last_line_deletes_the_draft(api, finance, entity, roles, people, make_contract):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    entry = approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    invoice = Invoice.objects.get(run=run_billing(finance, entity))

    response = api.post(
        url(invoice, "remove-entries"), {"time_entries": [entry.pk], "reason": "Not billable"}
    )

    assert response.status_code == 204
    assert not Invoice.objects.filter(pk=invoice.pk).exists()


def test_a_released_invoice_cannot_be_deleted_or_edited(api, billed):
    api.post(url(billed.invoice, "release"), {"issue_date": "2026-04-01"})
    assert api.delete(url(billed.invoice)).status_code == 409
    edit = api.post(
        url(billed.invoice, "edit-line"), {"line": billed.time_line.pk, "quantity": "1", "reason": "x"}
    )
    assert edit.status_code == 409
    assert InvoiceLine.objects.get(pk=billed.time_line.pk).quantity == D("16")


# Billed work in the projects API


def test_billed_time_and_expenses_show_their_invoice_line_and_read_billed(
    api, finance, billed, people, make_contract
):
    entry = billed.entries[0]
    body = api.get(f"/api/v1/time-entries/{entry.pk}/").json()
    assert (body["status"], body["invoice_line"]) == ("billed", billed.time_line.pk)
    expense = api.get(f"/api/v1/expenses/{billed.expense.pk}/").json()
    assert (expense["status"], expense["invoice_line"]) == ("billed", billed.expense_line.pk)
    listed = {
        row["id"]: (row["status"], row["invoice_line"])
        for row in api.get("/api/v1/time-entries/").json()["results"]
    }
    assert listed == {pk: ("billed", billed.time_line.pk) for pk in (e.pk for e in billed.entries)}
    sheet = api.get(f"/api/v1/timesheets/{entry.timesheet_id}/").json()
    assert {row["status"] for row in sheet["entries"]} == {"billed"}

    # Removed from the draft: approved again and unbilled, as stored.
    api.post(url(billed.invoice, "remove-entries"), {"time_entries": [entry.pk], "reason": "Next month"})
    body = api.get(f"/api/v1/time-entries/{entry.pk}/").json()
    assert (body["status"], body["invoice_line"]) == ("approved", None)


def test_listing_time_entries_reads_billing_links_in_the_same_query(
    api, finance, entity, roles, people, make_contract
):
    contract, project = make_contract([tm_line(roles.senior, "185.00")])

    def queries():
        api.get("/api/v1/time-entries/")  # the user's roles are read once, then cached on the user
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/v1/time-entries/")
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00")
    run_billing(finance, entity)
    few = queries()
    for day in range(3, 8):
        approved_time(people.sam, project, date(2026, 3, day), "8", "185.00")
    run_billing(finance, entity)
    many = queries()
    assert (few[1], many[1]) == (1, 6)
    assert many[0] == few[0]


# Roles and scopes

LIST_URLS = ["/api/v1/billing-runs/", "/api/v1/invoices/", "/api/v1/credit-notes/", "/api/v1/tax-codes/"]


@pytest.mark.parametrize("role", [Role.FINANCE, Role.EXECUTIVE, Role.ADMIN, Role.INTEGRATOR])
def test_readers_of_billing(client_for, billed, role):
    client = client_for(role)
    for path in [*LIST_URLS, url(billed.invoice), f"/api/v1/billing-runs/{billed.run.pk}/exceptions/"]:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER])
def test_delivery_roles_are_refused_billing(client_for, billed, role):
    client = client_for(role)
    for path in [*LIST_URLS, url(billed.invoice)]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    assert client.post(url(billed.invoice, "release")).status_code == 403


def test_executive_reads_but_never_writes(client_for, billed, entity):
    executive = client_for(Role.EXECUTIVE)
    for path, body in [
        ("/api/v1/billing-runs/", {"legal_entity": entity.pk, "period_end": "2026-03-31"}),
        ("/api/v1/billing-runs/preview/", {"legal_entity": entity.pk, "period_end": "2026-03-31"}),
        (url(billed.invoice, "release"), {}),
        ("/api/v1/credit-notes/", {"invoice": billed.invoice.pk, "reason": "x"}),
        ("/api/v1/tax-codes/", {"legal_entity": entity.pk, "code": "X", "rate_percent": "5"}),
    ]:
        assert executive.post(path, body).status_code == 403, path
    assert executive.delete(url(billed.invoice)).status_code == 403
    assert executive.get(url(billed.invoice)).status_code == 200
    assert BillingRun.objects.count() == 1
    assert Invoice.objects.get(pk=billed.invoice.pk).status == "draft"


def test_unauthenticated_is_401(api_client, db):
    for path in LIST_URLS:
        response = api_client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"


def test_api_key_scopes(token_client_for, billed, entity):
    reader = token_client_for(Role.INTEGRATOR, scopes=["billing:read"])
    assert reader.get(url(billed.invoice)).status_code == 200
    refused = reader.post(url(billed.invoice, "release"))
    assert refused.status_code == 403
    assert "billing:write" in refused.json()["detail"]
    other_area = token_client_for(Role.FINANCE, scopes=["ledger:read", "ledger:write"])
    assert other_area.get("/api/v1/invoices/").status_code == 403
    integrator_writer = token_client_for(Role.INTEGRATOR, scopes=["billing:write"])
    assert integrator_writer.get("/api/v1/billing-runs/").status_code == 200
    assert integrator_writer.post(url(billed.invoice, "release")).status_code == 403
    finance_writer = token_client_for(Role.FINANCE, scopes=["billing:write"])
    released = finance_writer.post(url(billed.invoice, "release"), {"issue_date": "2026-04-01"})
    assert (released.status_code, released.json()["status"]) == (200, "released")
