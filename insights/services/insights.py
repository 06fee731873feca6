"""Reviewing insights: dismissing one with a reason, and reopening a dismissed one. Both audited."""

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from insights.access import can_review, visibility
from insights.models import Insight, InsightStatus

REASON_MAX = 500


def _locked(actor, insight: Insight) -> Insight:
    insights = Insight.objects.select_for_update()
    condition = visibility(actor)
    if condition is not None:
        insights = insights.filter(condition)
    locked = insights.filter(pk=insight.pk).first()
    if locked is None:
        raise NotFound("No such insight.")
    if not can_review(actor, locked):
        raise PermissionDenied("Only a reviewer of this insight (a role of its audience) may change it.")
    return locked


@transaction.atomic
def dismiss_insight(*, actor, insight: Insight, reason: str) -> Insight:
    """Dismiss an open insight: it leaves the open inbox and later runs no longer raise it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the insight is dismissed.", fields={"reason": ["Required."]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            f"Keep the reason under {REASON_MAX} characters.",
            fields={"reason": [f"At most {REASON_MAX} characters."]},
        )
    insight = _locked(actor, insight)
    if insight.status != InsightStatus.OPEN:
        raise InvalidTransition(f"Only an open insight can be dismissed; this one is {insight.status}.")
    insight.status = InsightStatus.DISMISSED
    insight.dismissed_at = timezone.now()
    insight.dismissed_by = actor
    insight.dismissed_reason = reason
    insight.save(update_fields=["status", "dismissed_at", "dismissed_by", "dismissed_reason"])
    audit.record(
        actor=actor,
        action="insight.dismissed",
        obj=insight,
        changes={"status": [InsightStatus.OPEN, InsightStatus.DISMISSED]},
        reason=reason,
    )
    return insight


@transaction.atomic
def reopen_insight(*, actor, insight: Insight) -> Insight:
    """Put a dismissed insight back in the open inbox (the next run refreshes it or clears it)."""
    insight = _locked(actor, insight)
    if insight.status != InsightStatus.DISMISSED:
        raise InvalidTransition(f"Only a dismissed insight can be reopened; this one is {insight.status}.")
    reason = insight.dismissed_reason
    insight.status = InsightStatus.OPEN
    insight.dismissed_at = None
    insight.dismissed_by = None
    insight.dismissed_reason = ""
    insight.save(update_fields=["status", "dismissed_at", "dismissed_by", "dismissed_reason"])
    audit.record(
        actor=actor,
        action="insight.reopened",
        obj=insight,
        changes={"status": [InsightStatus.DISMISSED, InsightStatus.OPEN], "dismissed_reason": [reason, ""]},
    )
    return insight
