"""Expenses: receipts recognised by their content (PDF/JPEG/PNG ≤ 10 MB), markup by category, conversion to
the project's currency at the day's rate, and submit → approve | reject."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import Event
from ledger.errors import MissingExchangeRate, PeriodClosed
from ledger.selectors import period_for
from ledger.services.setup import close_period, set_exchange_rate
from projects.choices import EntryStatus
from projects.errors import Locked
from projects.models import Expense
from projects.receipts import MAX_RECEIPT_BYTES
from projects.services.expenses import (
    approve_expense,
    create_expense,
    reject_expense,
    submit_expense,
    update_expense,
)

from .conftest import TODAY

D = Decimal
pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def spend(firm):
    def create(amount="120.00", currency="USD", category="travel", receipt=None, **kwargs):
        return create_expense(
            actor=kwargs.pop("actor", firm.chloe.user),
            person=kwargs.pop("person", firm.chloe),
            project=firm.project,
            date=kwargs.pop("date", date(2026, 3, 16)),
            category=category,
            amount=D(amount),
            currency=currency,
            receipt=receipt,
            today=TODAY,
            **kwargs,
        )

    return create


def test_markup_defaults_by_category(spend):
    assert spend(category="travel").markup_percent == D("0")
    software = spend(category="software", amount="200.00")
    assert software.markup_percent == D("10")
    assert software.billable_amount == D("220.0000")
    assert spend(category="subcontractor").markup_percent == D("15")
    assert spend(category="software", markup_percent=D("5")).markup_percent == D("5")


def test_an_expense_in_another_currency_is_converted_at_the_days_rate(spend):
    set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 3, 1), rate=D("1.08"))
    set_exchange_rate(
        actor=None, from_currency="EUR", to_currency="USD", on=date(2026, 3, 20), rate=D("1.20")
    )
    expense = spend(amount="99.99", currency="EUR")
    # 99.99 EUR × 1.08 (the rate on or before 16 March) = 107.9892 → 107.99 USD
    assert (expense.project_currency, expense.exchange_rate, expense.converted_amount) == (
        "USD",
        D("1.08"),
        D("107.99"),
    )


def test_a_missing_rate_is_refused_with_nothing_saved(spend):
    with pytest.raises(MissingExchangeRate, match="No exchange rate GBP→USD"):
        spend(currency="GBP")
    assert not Expense.objects.exists()


@pytest.mark.parametrize(
    "content, name, content_type",
    [
        (PDF, "receipt.pdf", "application/pdf"),
        (PNG, "scan.png", "image/png"),
        (JPEG, "photo.JPG", "image/jpeg"),
    ],
)
def test_receipts_are_recognised_by_their_content(spend, content, name, content_type):
    expense = spend(receipt=SimpleUploadedFile(name, content, content_type="application/octet-stream"))
    assert (expense.receipt_content_type, expense.receipt_name, expense.receipt_size) == (
        content_type,
        name,
        len(content),
    )
    assert expense.receipt.name.startswith("receipts/2026/03/")
    assert name not in expense.receipt.name
    with expense.receipt.open("rb") as stored:
        assert stored.read() == content


@pytest.mark.parametrize(
    "content, name, message",
    [
        (EXE, "receipt.pdf", "'receipt.pdf' is a program, not a receipt"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 20, "scan.png", "is a program"),
        (b"just some text", "notes.pdf", "is not a PDF, JPEG or PNG file"),
        (b"", "empty.pdf", "The receipt file is empty."),
    ],
)
def test_anything_else_is_refused(spend, content, name, message):
    with pytest.raises(ValidationFailed) as refused:
        spend(receipt=SimpleUploadedFile(name, content, content_type="application/pdf"))
    assert message in refused.value.detail
    assert "receipt" in refused.value.fields
    assert not Expense.objects.exists()


def test_receipts_over_ten_megabytes_are_refused(spend):
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (MAX_RECEIPT_BYTES - len(PDF) + 1))
    with pytest.raises(ValidationFailed, match="receipts may be at most 10 MB"):
        spend(receipt=big)
    exactly = SimpleUploadedFile("ok.pdf", PDF + b"0" * (MAX_RECEIPT_BYTES - len(PDF)))
    assert spend(receipt=exactly).receipt_size == MAX_RECEIPT_BYTES


def test_bad_expenses_are_refused(firm, spend, make_user):
    with pytest.raises(ValidationFailed, match="more than 0"):
        spend(amount="0")
    with pytest.raises(ValidationFailed, match="at most as many decimals"):
        spend(amount="10.005")
    with pytest.raises(ValidationFailed, match="cannot be in the future"):
        spend(date=date(2026, 3, 19))
    with pytest.raises(ValidationFailed, match="Dan Brook is not assigned"):
        spend(person=firm.dan, actor=firm.dan.user)
    with pytest.raises(PermissionDenied):
        spend(actor=firm.dan.user)
    close_period(actor=make_user("finance"), period=period_for(firm.entity, date(2026, 2, 1)), reason="Final")
    with pytest.raises(PeriodClosed, match="The period 2026-02 of Acme Consulting Inc. is closed"):
        spend(date=date(2026, 2, 10))
    assert not Expense.objects.exists()


def test_submit_approve_and_lock(firm, spend):
    expense = spend()
    submit_expense(actor=firm.chloe.user, expense=expense)
    with pytest.raises(PermissionDenied):
        approve_expense(actor=firm.chloe.user, expense=expense)
    approve_expense(actor=firm.pm.user, expense=expense)
    expense.refresh_from_db()
    assert (expense.status, expense.approved_by_id) == (EntryStatus.APPROVED, firm.pm.user_id)
    assert Event.objects.filter(type="expense.approved", subject_id=str(expense.pk)).exists()
    with pytest.raises(Locked):
        update_expense(actor=firm.chloe.user, expense=expense, amount=D("1.00"), today=TODAY)
    with pytest.raises(InvalidTransition):
        approve_expense(actor=firm.pm.user, expense=expense)


def test_reject_needs_a_reason_and_the_author_fixes_and_resubmits(firm, spend):
    expense = spend()
    submit_expense(actor=firm.chloe.user, expense=expense)
    with pytest.raises(ValidationFailed, match="Say why"):
        reject_expense(actor=firm.pm.user, expense=expense, reason="")
    reject_expense(actor=firm.pm.user, expense=expense, reason="Attach the receipt")
    expense.refresh_from_db()
    assert (expense.status, expense.rejection_reason) == (EntryStatus.REJECTED, "Attach the receipt")
    update_expense(
        actor=firm.chloe.user, expense=expense, receipt=SimpleUploadedFile("r.pdf", PDF), today=TODAY
    )
    submit_expense(actor=firm.chloe.user, expense=expense)
    expense.refresh_from_db()
    assert (expense.status, expense.rejection_reason, expense.receipt_content_type) == (
        EntryStatus.SUBMITTED,
        "",
        "application/pdf",
    )
