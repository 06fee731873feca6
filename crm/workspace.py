"""The CRM's place in the navigation, and the account managers' landing page. Called from `ready()`."""

from core.roles import Role
from core.workspaces import NavEntry, add_nav_entry, set_workspace
from crm.access import READERS


def register() -> None:
    add_nav_entry(NavEntry("Sales", "crm:board", "kanban", READERS), before="core:api-keys")
    set_workspace(Role.PROJECT_MANAGER, "crm:board")
