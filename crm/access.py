"""Who may do what in the CRM (DESIGN.md "Access", decided for sales).

Project managers are the firm's account managers: they run the pipeline, quote and win deals, and change
the accounts, opportunities, quotes and contracts they own (or that nobody owns yet). Integrators sync CRM
data through the API. Finance, executives and resource managers read everything in the CRM (finance also
approves risky quotes, as the sales policy's approver role, and logs its collection calls and tasks as
activities on the clients). Consultants have no CRM access. Admins do all.
A task or command (no actor) acts as the system.
"""

from core.errors import PermissionDenied
from core.roles import Role, has_role

READERS = (Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER, Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR)
WRITERS = (Role.PROJECT_MANAGER, Role.INTEGRATOR)
ACTIVITY_WRITERS = (*WRITERS, Role.FINANCE)


def can_read(user) -> bool:
    return has_role(user, *READERS)


def can_write(user) -> bool:
    return has_role(user, *WRITERS)


def can_log_activity(user) -> bool:
    return has_role(user, *ACTIVITY_WRITERS)


def can_change(user, owner_id: int | None) -> bool:
    """May `user` change a record owned by `owner_id`? Project managers only their own or unowned ones."""
    if user is None:
        return True
    if has_role(user, Role.INTEGRATOR):  # admins too: has_role lets them through
        return True
    if not has_role(user, Role.PROJECT_MANAGER):
        return False
    return owner_id is None or owner_id == user.pk


def require_writer(actor) -> None:
    if actor is not None and not can_write(actor):
        raise PermissionDenied("Only account managers (project managers) and integrators change CRM data.")


def require_activity_writer(actor) -> None:
    if actor is not None and not can_log_activity(actor):
        raise PermissionDenied("Only account managers, finance and integrators log CRM activities.")


def require_owner(actor, owner_id: int | None, what: str) -> None:
    """Refuse unless `actor` may change the record; the message says whose it is."""
    require_writer(actor)
    if not can_change(actor, owner_id):
        raise PermissionDenied(f"This {what} belongs to another account manager; you may read it only.")
