"""Domain errors raised by services; the API maps each to its status and `{code, detail, fields}` body."""


class DomainError(Exception):
    """A business rule refused the action. `fields` maps field names to lists of messages."""

    status_code = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    code = "invalid"


class InvalidTransition(DomainError):
    """The object's current status does not allow the requested transition."""

    status_code = 409
    code = "invalid_transition"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
