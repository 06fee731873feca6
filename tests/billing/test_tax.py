"""Tax is rate × the sum of an invoice's lines with the code, rounded once per code."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing.choices import TaxKind
from billing.services.tax import create_tax_code, tax_summary
from core.errors import Conflict, ValidationFailed
from ledger.choices import AccountRole
from ledger.selectors import account_by_role

D = Decimal


def line(amount, code):
    return SimpleNamespace(amount=D(amount), tax_code=code)


def test_three_lines_at_seven_and_a_half_percent_round_once():
    codes = {
        "GST": SimpleNamespace(kind=TaxKind.STANDARD, rate_percent=D("7.5"), name="GST", account_id=1),
        "ZERO": SimpleNamespace(kind=TaxKind.ZERO_RATED, rate_percent=D("0"), name="Zero", account_id=None),
    }
    rows = tax_summary([line("20.10", "GST")] * 3 + [line("99.99", "ZERO")], codes, "USD")
    # 60.30 × 7.5% = 4.5225 → 4.52 (per line it would be 1.51 × 3 = 4.53).
    assert [(row.code, row.base, row.tax) for row in rows] == [
        ("GST", D("60.30"), D("4.52")),
        ("ZERO", D("99.99"), 0),
    ]
    with pytest.raises(ValidationFailed):
        tax_summary([line("1.00", "NOPE")], codes, "USD")


@pytest.mark.django_db
def test_tax_code_validation(finance, entity):
    with pytest.raises(ValidationFailed) as no_account:
        create_tax_code(actor=finance, legal_entity=entity, code="S", name="S", rate_percent=D("10"))
    assert "account" in no_account.value.fields
    with pytest.raises(ValidationFailed):
        create_tax_code(
            actor=finance, legal_entity=entity, code="Z", name="Z", rate_percent=D("5"), kind=TaxKind.EXEMPT
        )
    tax_payable = account_by_role(entity, AccountRole.TAX_PAYABLE)
    create_tax_code(
        actor=finance, legal_entity=entity, code="gst", name="GST", rate_percent=D("7.5"), account=tax_payable
    )
    with pytest.raises(Conflict):
        create_tax_code(
            actor=finance,
            legal_entity=entity,
            code="GST",
            name="GST",
            rate_percent=D("7.5"),
            account=tax_payable,
        )
