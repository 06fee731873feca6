from datetime import date
from decimal import Decimal

import pytest

from crm.models import Account
from ledger.models import GLAccount
from ledger.services.setup import create_legal_entity, set_exchange_rate


@pytest.fixture
def usd_entity(db):
    return create_legal_entity(
        actor=None,
        name="Ledgerline Consulting Inc.",
        functional_currency="USD",
        invoice_prefix="US-",
        today=date(2026, 1, 15),
    )


@pytest.fixture
def eur_entity(db):
    return create_legal_entity(
        actor=None,
        name="Ledgerline Europe GmbH",
        functional_currency="EUR",
        invoice_prefix="EU-",
        today=date(2026, 1, 15),
    )


@pytest.fixture
def account(usd_entity):
    """Account of the USD entity by code: account("1100")."""

    def get(code, entity=None):
        return GLAccount.objects.get(legal_entity=entity or usd_entity, code=code)

    return get


@pytest.fixture
def client_account(usd_entity):
    return Account.objects.create(
        name="Globex Corp", legal_entity=usd_entity, currency="EUR", payment_terms_days=30
    )


@pytest.fixture
def eur_usd(db):
    """Set EUR→USD rates: eur_usd({date: "1.1000", ...})."""

    def set_rates(rates):
        for day, rate in rates.items():
            set_exchange_rate(actor=None, from_currency="EUR", to_currency="USD", on=day, rate=Decimal(rate))

    return set_rates
