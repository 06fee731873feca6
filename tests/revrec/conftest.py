from tests.billing.conftest import (  # noqa: F401 - the billing tests' small firm serves revenue too
    client_account,
    entity,
    finance,
    make_contract,
    people,
    roles,
    vat20,
)
