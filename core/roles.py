"""The roles of DESIGN.md "Access" as named groups, and the checks services, views and the API use."""

from django.db import models


class Role(models.TextChoices):
    CONSULTANT = "consultant", "Consultant"
    PROJECT_MANAGER = "project_manager", "Project manager"
    RESOURCE_MANAGER = "resource_manager", "Resource manager"
    FINANCE = "finance", "Finance"
    EXECUTIVE = "executive", "Executive"
    ADMIN = "admin", "Administrator"
    INTEGRATOR = "integrator", "Integrator"


LEDGER_MODELS = (
    "currency", "legalentity", "exchangerate", "glaccount", "fiscalperiod", "entrysequence", "journalentry",
    "journalline", "accountbalance", "aritem", "allocation", "payment", "writeoffrequest",
    "dunningpolicy", "dunninglevel", "dunningrun", "dunningnotice", "dunningnoticeitem", "collectionhold",
    "periodclosereport",
)  # fmt: skip

# Django model permissions granted to each role's group, as "app_label.action_model" where action is
# view/add/change/delete, or "app_label.*" for every permission of an app. Apps extend this as they land.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CONSULTANT: [],
    Role.PROJECT_MANAGER: [],
    Role.RESOURCE_MANAGER: [],
    Role.FINANCE: [
        "core.view_auditevent",
        "core.view_event",
        *(f"ledger.{action}_{model}" for model in LEDGER_MODELS for action in ("view", "add", "change")),
    ],
    Role.EXECUTIVE: [
        "core.view_auditevent",
        "core.view_event",
        *(f"ledger.view_{model}" for model in LEDGER_MODELS),
    ],
    Role.ADMIN: ["core.*", "ledger.*", "crm.*", "django_celery_beat.*"],
    Role.INTEGRATOR: [
        "core.view_event",
        "core.view_webhooksubscription",
        "core.add_webhooksubscription",
        "core.change_webhooksubscription",
        "core.delete_webhooksubscription",
    ],
}

# CRM (crm.access explains the decision): project managers are the account managers and maintain clients,
# contacts, activities, opportunities, quotes and contracts; finance, executives and resource managers read.
CRM_MODELS = (
    "account", "contact", "activity", "pipelinestage", "opportunity", "opportunityline", "stagechange",
    "quote", "quoteline", "contract", "contractversion", "contractline", "renewaltrigger", "salespolicy",
)  # fmt: skip
ROLE_PERMISSIONS[Role.PROJECT_MANAGER] += [
    f"crm.{action}_{model}" for model in CRM_MODELS for action in ("view", "add", "change")
]
for _reader in (Role.FINANCE, Role.EXECUTIVE, Role.RESOURCE_MANAGER):
    ROLE_PERMISSIONS[_reader] += [f"crm.view_{model}" for model in CRM_MODELS]


# Projects (projects.access explains the decision): model permissions for the admin site; the pages and the
# API check roles and object ownership in projects.access. Admins maintain everything.
PROJECTS_MODELS = (
    "role", "ratecard", "ratecardrate", "projectrateoverride", "costrate", "skill", "person", "personskill",
    "project", "task", "milestone", "assignment", "resourcerequest", "requestedskill", "timesheet",
    "timeentry", "missingtimereminder", "expense",
)  # fmt: skip
ROLE_PERMISSIONS[Role.ADMIN] += ["projects.*", "insights.*"]
for _reader in (Role.FINANCE, Role.EXECUTIVE, Role.PROJECT_MANAGER, Role.RESOURCE_MANAGER):
    ROLE_PERMISSIONS[_reader] += [f"projects.view_{model}" for model in PROJECTS_MODELS]
ROLE_PERMISSIONS[Role.FINANCE] += [
    f"projects.{action}_{model}"
    for model in ("ratecard", "ratecardrate", "costrate")
    for action in ("add", "change")
]
ROLE_PERMISSIONS[Role.RESOURCE_MANAGER] += [
    f"projects.{action}_{model}"
    for model in ("skill", "person", "personskill", "assignment", "resourcerequest", "requestedskill")
    for action in ("add", "change")
]


def user_roles(user) -> set[str]:
    """The user's role names; superusers hold every role. Cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_ledgerline_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = set(Role.values)
        else:
            cached = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._ledgerline_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True if the user holds any of `roles`; admins pass every role check."""
    held = user_roles(user)
    return Role.ADMIN in held or bool(held.intersection(roles))


def require_role(user, *roles: str) -> None:
    """Raise the domain permission error unless the user holds one of `roles`."""
    from core.errors import PermissionDenied

    if not has_role(user, *roles):
        names = ", ".join(Role(r).label.lower() for r in roles)
        raise PermissionDenied(f"This action needs one of these roles: {names}.")
