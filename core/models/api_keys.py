import hashlib

from django.conf import settings
from django.db import models

# Areas a key's scopes can name; they follow the apps of DESIGN.md.
API_AREAS = ("core", "crm", "projects", "billing", "ledger", "revrec", "analytics")
SCOPE_LEVELS = ("read", "write")
ALL_SCOPES = tuple(f"{area}:{level}" for area in API_AREAS for level in SCOPE_LEVELS)


def hash_api_key_secret(secret: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough; a slow KDF would tax every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A named, scoped credential for one user. Only the hash is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The public part of the key, used to find the row without scanning hashes.
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    # "area:read" or "area:write" (write implies read) for the areas in API_AREAS.
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="api_key_name_unique_per_user"),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def allows(self, area: str, level: str) -> bool:
        if level == "read":
            return f"{area}:read" in self.scopes or f"{area}:write" in self.scopes
        return f"{area}:write" in self.scopes
