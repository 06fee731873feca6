"""Where each role works in the browser: the navigation bar entries and the landing page per role.

Apps add their pages from `AppConfig.ready()`: `add_nav_entry(NavEntry("Billing", "billing:runs", "receipt",
(Role.FINANCE,)))` and `set_workspace(Role.FINANCE, "billing:runs")`. Until an app claims a role's
workspace, that role lands on the core overview.
"""

from dataclasses import dataclass

from django.urls import reverse

from core.roles import Role, has_role, user_roles

DEFAULT_WORKSPACE = "core:overview"


@dataclass(frozen=True)
class NavEntry:
    """One link in the top navigation bar, shown to holders of any of `roles` (empty: every signed-in user).

    Admins see every entry (`has_role` lets them through); `staff_only` entries also need `is_staff`,
    because Django's admin site refuses everyone else whatever their role.
    """

    label: str
    url_name: str
    icon: str
    roles: tuple[str, ...] = ()
    staff_only: bool = False

    def visible_to(self, user) -> bool:
        if not getattr(user, "is_authenticated", False):
            return False
        if self.staff_only and not user.is_staff:
            return False
        return not self.roles or has_role(user, *self.roles)


NAVIGATION: list[NavEntry] = [
    NavEntry("Home", "home", "house"),
    NavEntry("API keys", "core:api-keys", "key"),
    NavEntry("Webhooks", "core:webhooks", "broadcast", (Role.INTEGRATOR, Role.ADMIN)),
    NavEntry(
        "Events",
        "core:events",
        "lightning-charge",
        (Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR, Role.ADMIN),
    ),
    NavEntry("Audit log", "core:audit-log", "clock-history", (Role.FINANCE, Role.EXECUTIVE, Role.ADMIN)),
]

# Shown at the right of the bar, after the apps' entries.
TOOLS: list[NavEntry] = [
    NavEntry("API docs", "api-docs", "braces"),
    NavEntry("Admin site", "admin:index", "gear", (Role.ADMIN,), staff_only=True),
]

# A user holding several roles lands on the workspace of the first one here. Broadest responsibility
# first; consultant comes after the managers because managers also log their own time.
WORKSPACE_PRIORITY: list[str] = [
    Role.EXECUTIVE,
    Role.FINANCE,
    Role.PROJECT_MANAGER,
    Role.RESOURCE_MANAGER,
    Role.CONSULTANT,
    Role.INTEGRATOR,
    Role.ADMIN,
]

WORKSPACES: dict[str, str] = {role: DEFAULT_WORKSPACE for role in WORKSPACE_PRIORITY}


def add_nav_entry(entry: NavEntry, *, before: str | None = None) -> None:
    """Add `entry` to the main navigation (at the end, or before the entry named by url `before`).

    Adding the same url name twice is a no-op, so an app's `ready()` may run more than once.
    """
    if any(existing.url_name == entry.url_name for existing in NAVIGATION):
        return
    names = [existing.url_name for existing in NAVIGATION]
    NAVIGATION.insert(names.index(before) if before in names else len(NAVIGATION), entry)


def set_workspace(role: str, url_name: str) -> None:
    """Make `url_name` the landing page of `role`."""
    if role not in WORKSPACES:
        raise ValueError(f"Unknown role {role!r}.")
    WORKSPACES[role] = url_name


def workspace_url_name(user) -> str:
    """The url name of the page `user` lands on after signing in."""
    held = user_roles(user)
    for role in WORKSPACE_PRIORITY:
        if role in held:
            return WORKSPACES[role]
    return DEFAULT_WORKSPACE


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    icon: str
    active: bool


def nav_links(entries: list[NavEntry], user, path: str, *, workspace_url: str = "") -> list[NavLink]:
    """The entries `user` may see, resolved to URLs, the one matching `path` marked active.

    An entry is active when `path` is under its URL; "Home" (`/`) when `path` is the user's workspace
    and no other entry claims it.
    """
    visible = [entry for entry in entries if entry.visible_to(user)]
    urls = [reverse(entry.url_name) for entry in visible]
    claimed = any(url != "/" and path.startswith(url) for url in urls)
    return [
        NavLink(
            entry.label,
            url,
            entry.icon,
            path.startswith(url) if url != "/" else (path in ("/", workspace_url) and not claimed),
        )
        for entry, url in zip(visible, urls, strict=True)
    ]
