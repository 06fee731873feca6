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


class FailedAuthenticationThrottle(throttling.SimpleRateThrottle):
    """Failed API key authentications (unknown, revoked, expired or malformed keys) per client address.

    DRF authenticates before it throttles, so a bad key's 401 is never counted by the throttles above;
    `ApiKeyAuthentication` checks this one first and records each failure. Past the rate every token call
    from that address waits (429), a good key's too, so keys cannot be tried at speed.
    """

    scope = "failed_auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def throttle_success(self):
        # Checking does not count; only `record_failure` does.
        return True

    def record_failure(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
