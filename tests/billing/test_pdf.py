"""The invoice PDF: a released invoice prints its number, parties, lines, tax summary and totals; a draft
prints a DRAFT marker; the time appendix lists the entries billed, read in one query."""

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from billing.models import BillingRun, Invoice
from billing.pdf import render_invoice_pdf
from billing.services.invoices import release_invoice
from billing.services.runs import execute_billing_run, start_billing_run
from crm.models import Contact
from ledger.models import LegalEntity
from tests.billing.conftest import approved_expense, approved_time, tm_line

D = Decimal
pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    """The PDF's text with runs of white space made single spaces, so phrases can be matched."""
    assert pdf.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(pdf)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


@pytest.fixture
def drafted(finance, entity, client_account, roles, people, make_contract):
    """The issue's time-and-materials invoice, drafted by a run (see test_time_and_materials)."""
    LegalEntity.objects.filter(pk=entity.pk).update(
        address="12 Harbour Street\nBoston, MA 02110\nUSA", tax_id="US-98-7654321"
    )
    client_account.billing_contact = Contact.objects.create(
        account=client_account, name="Paula Payables", email="paula@globex.example"
    )
    client_account.save(update_fields=["billing_contact"])
    contract, project = make_contract([tm_line(roles.senior, "185.00"), tm_line(roles.analyst, "120.00")])
    for day, hours, note in (
        (date(2026, 3, 2), "8.00", "Kick-off workshop"),
        (date(2026, 3, 3), "7.50", "Process mapping"),
        (date(2026, 3, 4), "23.00", "Design review"),
    ):
        approved_time(people.sam, project, day, hours, "185.00", notes=note)
    for day, hours, note in (
        (date(2026, 3, 2), "8.25", "Data extract"),
        (date(2026, 3, 3), "20.00", "Migration scripts"),
        (date(2026, 3, 5), "24.00", "Test cycle one"),
    ):
        approved_time(people.ana, project, day, hours, "120.00", notes=note)
    approved_expense(people.sam, project, date(2026, 3, 4), "640.00", markup="10", category="lodging")
    run = start_billing_run(actor=finance, legal_entity=entity, period_end=date(2026, 3, 31))
    run = execute_billing_run(run_id=run.pk)
    return Invoice.objects.get(run=BillingRun.objects.get(pk=run.pk))


def test_a_released_invoice_prints_everything_the_client_needs(finance, drafted):
    invoice = release_invoice(actor=finance, invoice=drafted, issue_date=date(2026, 4, 1))

    text = text_of(render_invoice_pdf(invoice))

    for expected in (
        "Acme Consulting Inc.",
        "12 Harbour Street",
        "Tax ID: US-98-7654321",
        "US-2026-000001",
        "Issue date 2026-04-01",
        "Due date 2026-05-01",
        "Globex Corp",
        "Attn: Paula Payables",
        "paula@globex.example",
        # Lines: description, quantity, unit price, amount.
        "Senior: 38.50 h at 185.00 38.50 185.00 $7,122.50",
        "Analyst: 52.25 h at 120.00 52.25 120.00 $6,270.00",
        "Expenses: Lodging (1 item) 1 704.00 $704.00",
        # Tax summary: 20% of 14,096.50 = 2,819.30.
        "VAT20 VAT 20% 20% $14,096.50 $2,819.30",
        "Subtotal $14,096.50",
        "Total USD $16,915.80",
        "Payment terms: 30 days, due 2026-05-01",
        "Please quote the reference US-2026-000001",
    ):
        assert expected in text, expected
    assert "DRAFT" not in text
    assert "APPENDIX" not in text


def test_a_draft_prints_a_draft_marker_and_no_number(drafted):
    text = text_of(render_invoice_pdf(drafted))

    assert "DRAFT" in text
    assert "Not yet numbered" in text
    assert "Total USD $16,915.80" in text


def test_the_time_appendix_lists_every_entry_in_one_query(finance, drafted):
    invoice = release_invoice(actor=finance, invoice=drafted, issue_date=date(2026, 4, 1))
    with CaptureQueriesContext(connection) as plain:
        render_invoice_pdf(invoice)
    with CaptureQueriesContext(connection) as detailed:
        pdf = render_invoice_pdf(invoice, time_detail=True)

    assert len(detailed) == len(plain) + 1
    text = text_of(pdf)
    appendix = text[text.index("APPENDIX: TIME DETAIL FOR INVOICE US-2026-000001") :]
    for row in (
        "2026-03-02 Ana Analyst 8.25 Data extract",
        "2026-03-02 Sam Senior 8.00 Kick-off workshop",
        "2026-03-03 Ana Analyst 20.00 Migration scripts",
        "2026-03-03 Sam Senior 7.50 Process mapping",
        "2026-03-04 Sam Senior 23.00 Design review",
        "2026-03-05 Ana Analyst 24.00 Test cycle one",
        "Total hours 90.75",
    ):
        assert row in appendix, row
