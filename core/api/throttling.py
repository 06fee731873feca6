from rest_framework import throttling

from core.models import ApiKey


class AnonymousThrottle(throttling.AnonRateThrottle):
    scope = "anon"


class ClientThrottle(throttling.SimpleRateThrottle):
    """Per API key when one is used, else per user; answers 429 past the configured rate."""

    scope = "client"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        ident = f"key{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"user{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
