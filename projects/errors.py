"""Why the projects app refuses an action, beyond the core domain errors."""

from core.errors import DomainError


class Locked(DomainError):
    """The entry is approved (or billed): nobody edits it any more."""

    status_code = 409
    code = "locked"
