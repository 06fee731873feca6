from .api_keys import ApiKey
from .audit import AuditEvent
from .events import Event, WebhookDelivery, WebhookSubscription
from .idempotency import IdempotencyKey
from .users import User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Event",
    "IdempotencyKey",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
