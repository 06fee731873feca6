"""The ledger's place in the navigation, and finance's landing page. Called from `LedgerConfig.ready()`."""

from core.roles import Role
from core.workspaces import NavEntry, add_nav_entry, set_workspace


def register() -> None:
    add_nav_entry(
        NavEntry("Ledger", "ledger:workspace", "journal-text", (Role.FINANCE, Role.EXECUTIVE)),
        before="core:api-keys",
    )
    set_workspace(Role.FINANCE, "ledger:workspace")
