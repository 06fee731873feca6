"""The billing API's credit notes (on lines and time entries, released against the invoice) and tax codes."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import CreditNote, Invoice, TaxCode, TimeEntryBilling
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from core.roles import Role
from ledger.choices import AccountRole
from ledger.selectors import account_by_role
from ledger.services.setup import create_legal_entity
from tests.billing.conftest import approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client_for):
    return client_for(Role.FINANCE)


@pytest.fixture
def released(finance, entity, roles, people, make_contract):
    """A released invoice (US-2026-000001, 2026-04-01) for Senior 8 h + 4 h at 185.00 = 2,220.00 + 20% VAT
    = 2,664.00, and its two entries."""
    contract, project = make_contract([tm_line(roles.senior, "185.00")])
    entries = [
        approved_time(people.sam, project, date(2026, 3, 2), "8", "185.00"),
        approved_time(people.sam, project, date(2026, 3, 3), "4", "185.00"),
    ]
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    invoice = release_invoice(
        actor=finance, invoice=Invoice.objects.get(run=run), issue_date=date(2026, 4, 1)
    )
    return invoice, entries


def test_a_credit_note_on_time_entries_returns_them_to_unbilled(api, released):
    invoice, (eight, four) = released

    created = api.post(
        "/api/v1/credit-notes/",
        {"invoice": invoice.pk, "reason": "Hours booked twice", "time_entries": [four.pk]},
    )

    assert created.status_code == 201, created.json()
    note = created.json()
    assert (note["invoice"], note["status"], note["number"], note["reason"], note["rebill"]) == (
        invoice.pk,
        "draft",
        "",
        "Hours booked twice",
        True,
    )
    assert (note["subtotal_amount"], note["tax_amount"], note["total_amount"]) == (
        "740.00",
        "148.00",
        "888.00",
    )
    [line] = note["lines"]
    assert (line["quantity"], line["unit_price"], line["amount"], line["time_entries"]) == (
        "4",
        "185.00",
        "740.00",
        [four.pk],
    )
    assert TimeEntryBilling.objects.filter(time_entry=four).exists()  # only a release returns the work

    done = api.post(f"/api/v1/credit-notes/{note['id']}/release/", {"issue_date": "2026-04-10"})

    assert done.status_code == 200, done.json()
    assert (done.json()["status"], done.json()["number"], done.json()["issue_date"]) == (
        "released",
        "US-2026-CN-000001",
        "2026-04-10",
    )
    shown = api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert (shown["total_amount"], shown["balance_amount"]) == ("2664.00", "1776.00")
    entry = api.get(f"/api/v1/time-entries/{four.pk}/").json()
    assert (entry["status"], entry["invoice_line"]) == ("approved", None)
    assert api.get(f"/api/v1/time-entries/{eight.pk}/").json()["status"] == "billed"
    again = api.post(f"/api/v1/credit-notes/{note['id']}/release/")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    listed = api.get(f"/api/v1/credit-notes/?invoice={invoice.pk}&status=released").json()["results"]
    assert [row["id"] for row in listed] == [note["id"]]


def test_a_credit_note_on_part_of_a_line_without_rebilling(api, released):
    invoice, entries = released
    line = invoice.lines.get()

    created = api.post(
        "/api/v1/credit-notes/",
        {
            "invoice": invoice.pk,
            "reason": "Discount",
            "lines": [{"invoice_line": line.pk, "amount": "100"}],
            "rebill": False,
        },
    )

    assert created.status_code == 201, created.json()
    assert (created.json()["total_amount"], created.json()["rebill"]) == ("120.00", False)
    too_much = api.post(
        "/api/v1/credit-notes/",
        {"invoice": invoice.pk, "reason": "More", "lines": [{"invoice_line": line.pk, "amount": "2200"}]},
    )
    assert too_much.status_code == 400
    assert CreditNote.objects.count() == 1


def test_credit_note_input_errors(api, released, finance, entity, roles, people, make_contract):
    invoice, _ = released
    for body, field in [
        ({"invoice": invoice.pk, "time_entries": []}, "reason"),
        ({"invoice": invoice.pk + 100, "reason": "x"}, "invoice"),
        ({"invoice": invoice.pk, "reason": "x", "lines": [{"invoice_line": "a"}]}, "lines"),
        (
            {
                "invoice": invoice.pk,
                "reason": "x",
                "lines": [{"invoice_line": 1, "amount": "1", "quantity": "1"}],
            },
            "lines",
        ),
        ({"invoice": invoice.pk, "reason": "x"}, "lines"),
        ({"invoice": invoice.pk, "reason": "x", "time_entries": [999999]}, "time_entries"),
    ]:
        response = api.post("/api/v1/credit-notes/", body)
        assert response.status_code == 400, body
        assert field in response.json()["fields"], (body, response.json())
    contract, project = make_contract([tm_line(roles.senior, "100.00")], code="DRAFTY")
    approved_time(people.sam, project, date(2026, 3, 2), "1", "100.00")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    execute_billing_run(run_id=run.pk)
    draft = Invoice.objects.get(run=run)
    refused = api.post("/api/v1/credit-notes/", {"invoice": draft.pk, "reason": "Too early"})
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")
    assert not CreditNote.objects.exists()


# Tax codes


def test_create_a_tax_code_and_its_validation(api, entity, vat20):
    tax_payable = account_by_role(entity, AccountRole.TAX_PAYABLE)

    no_account = api.post(
        "/api/v1/tax-codes/", {"legal_entity": entity.pk, "code": "gst5", "name": "GST", "rate_percent": "5"}
    )
    assert no_account.status_code == 400
    assert set(no_account.json()["fields"]) == {"account"}
    zero = api.post("/api/v1/tax-codes/", {"legal_entity": entity.pk, "code": "Z", "rate_percent": "0"})
    assert zero.status_code == 400
    assert "rate_percent" in zero.json()["fields"]
    wrong_kind = api.post(
        "/api/v1/tax-codes/", {"legal_entity": entity.pk, "code": "Z", "rate_percent": "0", "kind": "reduced"}
    )
    assert (wrong_kind.status_code, list(wrong_kind.json()["fields"])) == (400, ["kind"])
    assert not TaxCode.objects.exclude(pk=vat20.pk).exists()

    created = api.post(
        "/api/v1/tax-codes/",
        {
            "legal_entity": entity.pk,
            "code": "gst5",
            "name": "GST",
            "rate_percent": "5",
            "account": tax_payable.pk,
        },
    )

    assert created.status_code == 201, created.json()
    assert {
        key: created.json()[key] for key in ("code", "name", "kind", "rate_percent", "account", "active")
    } == {
        "code": "GST5",
        "name": "GST",
        "kind": "standard",
        "rate_percent": "5",
        "account": tax_payable.pk,
        "active": True,
    }
    exempt = api.post(
        "/api/v1/tax-codes/",
        {"legal_entity": entity.pk, "code": "EX", "kind": "exempt", "rate_percent": "0"},
    )
    assert (exempt.status_code, exempt.json()["account"]) == (201, None)
    twice = api.post(
        "/api/v1/tax-codes/",
        {"legal_entity": entity.pk, "code": "GST5", "rate_percent": "5", "account": tax_payable.pk},
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "conflict")
    codes = api.get(f"/api/v1/tax-codes/?legal_entity={entity.pk}&kind=standard").json()["results"]
    assert [row["code"] for row in codes] == ["GST5", "VAT20"]


def test_another_entitys_account_is_refused(api, entity):
    other = create_legal_entity(
        actor=None, name="Acme GmbH", functional_currency="EUR", invoice_prefix="DE-", today=date(2026, 1, 15)
    )
    response = api.post(
        "/api/v1/tax-codes/",
        {
            "legal_entity": entity.pk,
            "code": "VAT19",
            "rate_percent": "19",
            "account": account_by_role(other, AccountRole.TAX_PAYABLE).pk,
        },
    )
    assert (response.status_code, list(response.json()["fields"])) == (400, ["account"])


def test_a_tax_codes_rate_never_changes_but_its_name_and_active_do(api, client_for, vat20):
    path = f"/api/v1/tax-codes/{vat20.pk}/"
    for body in ({"rate_percent": "21"}, {"name": "VAT", "kind": "exempt"}, {"account": None}):
        refused = api.patch(path, body)
        assert refused.status_code == 400, body
        assert "new code" in refused.json()["detail"]
    unknown = api.patch(path, {"code": "VAT21"})
    assert (unknown.status_code, list(unknown.json()["fields"])) == (400, ["code"])
    vat20.refresh_from_db()
    assert (vat20.rate_percent, vat20.name) == (D("20"), "VAT 20%")

    renamed = api.patch(path, {"name": "Standard VAT", "active": False})

    assert renamed.status_code == 200, renamed.json()
    assert (renamed.json()["name"], renamed.json()["active"], renamed.json()["rate_percent"]) == (
        "Standard VAT",
        False,
        "20",
    )
    assert api.put(path, {"name": "x"}).status_code == 405
    executive = client_for(Role.EXECUTIVE)
    assert (executive.get(path).status_code, executive.patch(path, {"name": "x"}).status_code) == (200, 403)
