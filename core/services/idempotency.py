from django.conf import settings
from django.utils import timezone

from core.models import IdempotencyKey


def purge_expired_idempotency_keys() -> int:
    """Delete stored responses older than the replay window; returns how many went."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
