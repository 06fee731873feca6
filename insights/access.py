"""Who sees and acts on insights.

An insight shows in the inbox of the roles in its `audience` and of its `owner`; admins see every one. A
consultant's role never opens an inbox by audience: a consultant sees only the insights they own (their
own timesheet anomalies). Reviewers act on what they see: dismissing needs a role of the insight's
audience, so an owner who is only its subject cannot dismiss it. Starting a run needs finance or project
manager. Executives read every insight addressed to them and change none (DESIGN.md "Access").
"""

from django.db import connection
from django.db.models import Q

from core.roles import Role, has_role, user_roles

RUN_STARTERS = (Role.FINANCE, Role.PROJECT_MANAGER)
READ_ONLY_ROLES = (Role.CONSULTANT, Role.EXECUTIVE)
# Roles that may open the inbox: every role some detector addresses, and consultants for what they own.
INBOX_ROLES = (
    Role.CONSULTANT,
    Role.PROJECT_MANAGER,
    Role.RESOURCE_MANAGER,
    Role.FINANCE,
    Role.EXECUTIVE,
)


def _audience_holds(role: str) -> Q:
    if connection.features.supports_json_field_contains:
        return Q(audience__contains=[role])
    # SQLite stores the list as JSON text; role values are plain words, so the quoted value is exact.
    return Q(audience__icontains=f'"{role}"')


def visibility(user) -> Q | None:
    """The filter of the insights `user` may see; None: every insight (admins)."""
    held = user_roles(user)
    if Role.ADMIN in held:
        return None
    condition = Q(owner=user)
    for role in sorted(held - {Role.CONSULTANT, Role.INTEGRATOR}):
        condition |= _audience_holds(role)
    return condition


def can_start_runs(user) -> bool:
    return has_role(user, *RUN_STARTERS)


def can_review(user, insight) -> bool:
    """True if `user` holds a role of the insight's audience other than a read-only one (admins always)."""
    return has_role(user, *[role for role in insight.audience if role not in READ_ONLY_ROLES])


def can_open_inbox(user) -> bool:
    return has_role(user, *INBOX_ROLES)
