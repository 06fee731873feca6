"""Insights put in place directly for the API, page and browser tests (the detectors have their own tests):
`make_insight(...)` stores one as a run would."""

from django.utils import timezone

from core.roles import Role
from insights.models import Insight


def make_insight(
    key: str, *, kind="timesheet_anomaly", audience=(Role.PROJECT_MANAGER,), owner=None, **fields
):
    now = timezone.now()
    values = {
        "rule": "day_above_norm",
        "severity": "warning",
        "subject_type": "projects.person",
        "subject_id": 1,
        "subject_label": "Chloe Novak",
        "title": f"Chloe Novak: 14.00 h on Thu 26 Mar 2026 ({key})",
        "explanation": "Chloe Novak logged 14.00 h on Thu 26 Mar 2026; her median day is 7.50 h.",
        "figures": {"hours": "14.00", "median_hours": "7.50", "z_score": "8.77"},
        "factors": [{"factor": "Hours that day", "value": "14.00 h", "effect": "raises"}],
    } | fields
    return Insight.objects.create(
        kind=kind,
        fingerprint=f"{kind}:{values['rule']}:{key}",
        audience=list(audience),
        owner=owner,
        first_raised_at=now,
        last_seen_at=now,
        **values,
    )
