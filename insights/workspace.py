"""Insights' place in the navigation: the inbox, for every role some insight addresses. Called from
`InsightsConfig.ready()`."""

from core.workspaces import NavEntry, add_nav_entry
from insights.access import INBOX_ROLES


def register() -> None:
    add_nav_entry(NavEntry("Insights", "insights:inbox", "lightbulb", INBOX_ROLES), before="core:api-keys")
