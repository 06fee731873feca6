"""The projects app's place in the navigation, and the landing pages of consultants, project managers and
resource managers. Called from `ProjectsConfig.ready()`."""

from core.roles import Role
from core.workspaces import NavEntry, add_nav_entry, set_workspace


def register() -> None:
    add_nav_entry(
        NavEntry(
            "My week",
            "projects:week",
            "calendar-week",
            (Role.CONSULTANT, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER),
        ),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry("Approvals", "projects:approvals", "check2-square", (Role.PROJECT_MANAGER,)),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry(
            "Projects",
            "projects:list",
            "kanban",
            (Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER, Role.FINANCE, Role.EXECUTIVE),
        ),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry("Capacity", "projects:capacity", "people", (Role.RESOURCE_MANAGER, Role.EXECUTIVE)),
        before="core:api-keys",
    )
    set_workspace(Role.CONSULTANT, "projects:week")
    set_workspace(Role.PROJECT_MANAGER, "projects:approvals")
    set_workspace(Role.RESOURCE_MANAGER, "projects:capacity")
