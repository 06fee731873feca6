from rest_framework import permissions

from core.models import ApiKey
from core.roles import has_role


class ApiKeyScopePermission(permissions.BasePermission):
    """An API key may only touch the area its scopes name; a view declares its area in `scope_area`.

    Safe methods need `area:read` (or write); anything else needs `area:write`. Sessions are not scoped.
    """

    message = "This API key's scopes do not allow this request."

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return True
        area = getattr(view, "scope_area", None)
        if area is None:
            return False
        level = "read" if request.method in permissions.SAFE_METHODS else "write"
        if not request.auth.allows(area, level):
            self.message = f"This API key lacks the '{area}:{level}' scope."
            return False
        return True


def role_permission(*, read: tuple[str, ...] = (), write: tuple[str, ...] = ()):
    """A permission class: safe methods need a `read` (or `write`) role, other methods a `write` role."""

    class RolePermission(permissions.BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):
            if request.method in permissions.SAFE_METHODS:
                return has_role(request.user, *read, *write)
            return has_role(request.user, *write)

    RolePermission.__name__ = f"RolePermission({'/'.join(read)}|{'/'.join(write)})"
    return RolePermission
