from django.conf import settings
from rest_framework import authentication, exceptions

from core.api.throttling import FailedAuthenticationThrottle
from core.selectors import find_api_key
from core.services.api_keys import touch_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` with a per-user, scoped API key. Sets `request.auth` to the ApiKey."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        throttle = FailedAuthenticationThrottle()
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            api_key = self._valid_key(header)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise
        touch_api_key(api_key, settings.API_KEY_LAST_USED_RESOLUTION)
        return api_key.user, api_key

    def _valid_key(self, header: list[bytes]):
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Authorization: Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: the key has invalid characters."
            ) from exc
        api_key = find_api_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API key is inactive.")
        return api_key

    def authenticate_header(self, request):
        return self.keyword
