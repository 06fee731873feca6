"""Insight runs: starting one (by hand or nightly) and executing it, one detector kind at a time.

Each kind's findings are stored in one transaction, upserted by fingerprint with a handful of statements
whatever their number: one read of the fingerprints already known, one insert of the new insights, one
update of those seen again, one update clearing the open ones no longer reported, and one insert of the
`insight.raised` events. A dismissed insight stays dismissed; a cleared one reported again is raised again.
"""

import logging
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import audit, events
from core.db import is_postgresql
from core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from core.roles import Role
from insights.access import RUN_STARTERS, can_start_runs
from insights.detectors import detector
from insights.findings import Finding
from insights.models import Insight, InsightKind, InsightRun, InsightRunStatus, InsightStatus

logger = logging.getLogger("ledgerline.insights")
# A run not finished this long after it was created was lost with its worker; another may start.
RUN_STALE_AFTER = timedelta(minutes=30)
# The transaction-level advisory lock that serialises starts (an arbitrary constant of this app).
START_LOCK = 7_210_001
# Fields a finding seen again refreshes on its open insight.
REFRESHED_FIELDS = [
    "severity", "subject_label", "url", "title", "explanation", "figures", "factors", "audience", "owner_id",
    "run", "last_seen_at", "status", "cleared_at",
]  # fmt: skip


class InsightRunActive(Conflict):
    code = "insight_run_active"


def _active_run(now) -> InsightRun | None:
    return (
        InsightRun.objects.filter(
            status__in=[InsightRunStatus.PENDING, InsightRunStatus.RUNNING],
            created_at__gte=now - RUN_STALE_AFTER,
        )
        .order_by("id")
        .first()
    )


def _kinds(kinds) -> list[str]:
    unknown = sorted(set(kinds) - set(InsightKind.values))
    if unknown:
        raise ValidationFailed(
            f"Unknown insight kind: {', '.join(unknown)}.",
            fields={"kinds": [f"Choose from {', '.join(InsightKind.values)}."]},
        )
    return [kind for kind in InsightKind.values if kind in set(kinds)]


@transaction.atomic
def start_insight_run(*, actor, as_of: date, kinds=()) -> InsightRun:
    """Create a run of the detectors of `kinds` (empty: every kind) as of `as_of`, executed once this
    transaction commits. One run at a time: while one is pending or running, a user's start is refused
    (409) and the scheduler's returns it. `actor` None is the scheduler."""
    if actor is not None and not can_start_runs(actor):
        names = ", ".join(Role(role).label.lower() for role in RUN_STARTERS)
        raise PermissionDenied(f"Starting an insight run needs one of these roles: {names}.")
    if as_of > timezone.localdate():
        raise ValidationFailed(
            "An insight run cannot look at a day that has not come yet.",
            fields={"as_of": ["Must not be after today."]},
        )
    kinds = _kinds(kinds)
    if is_postgresql():
        # Serialises starts, so two concurrent ones cannot both find no active run.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [START_LOCK])
    now = timezone.now()
    # A run left pending or running past the stale limit was lost with its worker: say so, and move on.
    InsightRun.objects.filter(
        status__in=[InsightRunStatus.PENDING, InsightRunStatus.RUNNING], created_at__lt=now - RUN_STALE_AFTER
    ).update(status=InsightRunStatus.FAILED, finished_at=now, error="Lost with its worker; not finished.")
    active = _active_run(now)
    if active is not None:
        if actor is None:
            return active
        raise InsightRunActive(
            f"Insight run {active.pk} is still {active.status}; follow it instead of starting another.",
            fields={"as_of": [f"Run {active.pk} is {active.status}."]},
        )
    run = InsightRun.objects.create(
        as_of=as_of, kinds=kinds, started_by=actor if getattr(actor, "is_authenticated", False) else None
    )
    audit.record(actor=actor, action="insight_run.started", obj=run, changes={"as_of": as_of, "kinds": kinds})
    from insights.tasks import run_insights

    run_id = run.pk
    transaction.on_commit(lambda: run_insights.delay(run_id), robust=True)
    return run


def execute_insight_run(*, run_id: int) -> InsightRun | None:
    """The task body: claim the run, store each kind's findings in its own transaction, finish it.

    Claiming is a conditional UPDATE, so a second delivery of the task does nothing. A detector that
    raises stores nothing of its kind; the other kinds still run and are stored, and the run ends failed
    with each failing kind's message.
    """
    now = timezone.now()
    claimed = InsightRun.objects.filter(pk=run_id, status=InsightRunStatus.PENDING).update(
        status=InsightRunStatus.RUNNING, started_at=now
    )
    if claimed != 1:
        return InsightRun.objects.filter(pk=run_id).first()
    run = InsightRun.objects.get(pk=run_id)
    kinds = run.kinds or list(InsightKind.values)
    errors = []
    for done, kind in enumerate(kinds, 1):
        try:
            with transaction.atomic():
                raised, updated, cleared = store_findings(
                    run=run, kind=kind, findings=detector(kind)(run.as_of)
                )
                InsightRun.objects.filter(pk=run.pk).update(
                    raised=F("raised") + raised,
                    updated=F("updated") + updated,
                    cleared=F("cleared") + cleared,
                )
        except Exception as exc:
            # One broken detector must not hide the others' findings: note it and go on.
            logger.exception("Insight run %s failed in %s", run.pk, kind)
            message = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            errors.append(f"{InsightKind(kind).label}: {message}")
        InsightRun.objects.filter(pk=run.pk).update(progress=done * 100 // len(kinds))
    if errors:
        return _finish(run, InsightRunStatus.FAILED, error="; ".join(errors))
    return _finish(run, InsightRunStatus.COMPLETED)


def _finish(run: InsightRun, status: str, *, error: str = "") -> InsightRun:
    InsightRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), error=error[:5000])
    run.refresh_from_db()
    audit.record(
        actor=None,
        action=f"insight_run.{status}",
        obj=run,
        changes={"raised": run.raised, "updated": run.updated, "cleared": run.cleared, "error": error},
    )
    return run


def _check(findings, kind: str) -> dict[str, Finding]:
    by_fingerprint = {}
    for finding in findings:
        if finding.kind != kind:
            raise ValueError(
                f"The {kind} detector reported a {finding.kind} finding ({finding.fingerprint})."
            )
        by_fingerprint[finding.fingerprint] = finding
    return by_fingerprint


def _apply(insight: Insight, finding: Finding, run: InsightRun, now) -> Insight:
    insight.severity = finding.severity
    insight.subject_label = finding.subject_label[:200]
    insight.url = finding.url
    insight.title = finding.title[:200]
    insight.explanation = finding.explanation
    insight.figures = finding.figures
    insight.factors = finding.factors
    insight.audience = list(finding.audience)
    insight.owner_id = finding.owner_id
    insight.run = run
    insight.last_seen_at = now
    return insight


def store_findings(*, run: InsightRun, kind: str, findings) -> tuple[int, int, int]:
    """Upsert `kind`'s findings as insights (inside the caller's transaction): (raised, updated, cleared)."""
    now = timezone.now()
    found = _check(findings, kind)
    known = Insight.objects.select_for_update().in_bulk(list(found), field_name="fingerprint")
    new, seen_again, reraised = [], [], []
    for fingerprint, finding in found.items():
        insight = known.get(fingerprint)
        if insight is None:
            new.append(
                _apply(
                    Insight(
                        kind=kind,
                        rule=finding.rule,
                        fingerprint=fingerprint,
                        subject_type=finding.subject_type,
                        subject_id=finding.subject_id,
                        first_raised_at=now,
                    ),
                    finding,
                    run,
                    now,
                )
            )
        elif insight.status != InsightStatus.DISMISSED:
            if insight.status == InsightStatus.CLEARED:
                insight.status = InsightStatus.OPEN
                insight.cleared_at = None
                reraised.append(insight)
            seen_again.append(_apply(insight, finding, run, now))
    Insight.objects.bulk_create(new, batch_size=500)
    Insight.objects.bulk_update(seen_again, REFRESHED_FIELDS, batch_size=500)
    # Every insight this run reported now carries `now`; the open ones of the kind it did not report clear.
    cleared = Insight.objects.filter(kind=kind, status=InsightStatus.OPEN, last_seen_at__lt=now).update(
        status=InsightStatus.CLEARED, cleared_at=now
    )
    raised = new + reraised
    events.emit_many(
        "insight.raised",
        [
            (
                insight,
                {
                    "kind": insight.kind,
                    "rule": insight.rule,
                    "severity": insight.severity,
                    "title": insight.title,
                    "subject": {
                        "type": insight.subject_type,
                        "id": insight.subject_id,
                        "label": insight.subject_label,
                    },
                },
            )
            for insight in raised
        ],
    )
    return len(raised), len(seen_again) - len(reraised), cleared


def start_nightly_insight_run(*, as_of: date) -> InsightRun:
    """The scheduler's start: every kind as of `as_of` (the active run, if one is going)."""
    return start_insight_run(actor=None, as_of=as_of)
