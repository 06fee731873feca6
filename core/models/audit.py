from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One money-relevant change: who did what to which object, with the before/after values.

    Append-only: written by `core.audit.record`, never updated; PostgreSQL rejects UPDATE and DELETE.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=100)
    # "app_label.model" of the object, and its primary key as text so any key type fits.
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    # {"field": [old, new]} for changes; free-form context otherwise.
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.action} {self.object_type}#{self.object_id}"
