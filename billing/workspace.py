"""Billing's place in the navigation: one "Billing" entry for finance and executives; the billing pages
carry their own navigation (runs, drafts, invoices, credit notes, tax codes). Finance keeps landing on the
ledger workspace. Called from `BillingConfig.ready()`."""

from core.roles import Role
from core.workspaces import NavEntry, add_nav_entry


def register() -> None:
    add_nav_entry(
        NavEntry("Billing", "billing:runs", "receipt", (Role.FINANCE, Role.EXECUTIVE)),
        before="core:api-keys",
    )
