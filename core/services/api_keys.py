"""Issue and revoke API keys. The plain key exists only in the return value of `create_api_key`."""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, ValidationFailed
from core.models import ApiKey
from core.models.api_keys import ALL_SCOPES, hash_api_key_secret

KEY_PREFIX = "ll"


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str


def validate_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise ValidationFailed(
            "Choose at least one scope.", fields={"scopes": ["At least one scope is required."]}
        )
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValidationFailed(
            f"Unknown scope(s): {', '.join(unknown)}.",
            fields={"scopes": [f"Unknown scope '{s}'; use area:read or area:write." for s in unknown]},
        )
    return sorted(set(scopes))


@transaction.atomic
def create_api_key(*, actor, user, name: str, scopes: list[str], expires_at=None) -> IssuedApiKey:
    """Create a key for `user`; the returned `key` is the only time the secret is visible."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Give the key a name.", fields={"name": ["This field is required."]})
    scopes = validate_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.", fields={"expires_at": ["Must be in the future."]}
        )
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}_{prefix}_{secret}"
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                user=user,
                name=name,
                prefix=prefix,
                key_hash=hash_api_key_secret(key),
                scopes=scopes,
                expires_at=expires_at,
            )
    except IntegrityError as exc:
        raise ValidationFailed(
            f"You already have a key named '{name}'.", fields={"name": ["A key with this name exists."]}
        ) from exc
    audit.record(
        actor=actor, action="api_key.created", obj=api_key, changes={"scopes": scopes, "user": user.pk}
    )
    return IssuedApiKey(api_key=api_key, key=key)


@transaction.atomic
def revoke_api_key(*, actor, api_key: ApiKey, reason: str = "") -> ApiKey:
    """Revoke a key for good; requests made with it are refused from now on."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise InvalidTransition("This key is already revoked.")
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="api_key.revoked", obj=api_key, reason=reason)
    return api_key


def touch_api_key(api_key: ApiKey, resolution) -> None:
    """Record use, at most once per `resolution`, with a conditional UPDATE instead of a write per request."""
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < resolution:
        return
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=now - resolution).update(last_used_at=now)
    api_key.last_used_at = now
