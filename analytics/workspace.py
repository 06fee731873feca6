"""Analytics' place in the navigation: "Dashboards" for executives, finance and project managers, "My time"
for consultants; executives land on the executive dashboard. Called from `AnalyticsConfig.ready()`."""

from core.roles import Role
from core.workspaces import NavEntry, add_nav_entry, set_workspace


def register() -> None:
    add_nav_entry(
        NavEntry(
            "Dashboards",
            "analytics:executive",
            "graph-up",
            (Role.EXECUTIVE, Role.FINANCE),
        ),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry("Project health", "analytics:projects", "heart-pulse", (Role.PROJECT_MANAGER,)),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry(
            "Flow health",
            "analytics:flow",
            "activity",
            (Role.FINANCE, Role.EXECUTIVE, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER),
        ),
        before="core:api-keys",
    )
    add_nav_entry(
        NavEntry("My utilization", "analytics:me", "speedometer2", (Role.CONSULTANT,)), before="core:api-keys"
    )
    set_workspace(Role.EXECUTIVE, "analytics:executive")
