"""Reads of the platform core."""

import secrets

from core.models import ApiKey, AuditEvent
from core.models.api_keys import hash_api_key_secret
from core.services.api_keys import KEY_PREFIX


def find_api_key(key: str) -> ApiKey | None:
    """The active key matching the presented secret, or None."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, hash_api_key_secret(key)):
        return None
    return api_key


def audit_events_for(obj_type: str, obj_id: str):
    return AuditEvent.objects.filter(object_type=obj_type, object_id=str(obj_id)).select_related("actor")
