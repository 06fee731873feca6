"""The insight run: findings upserted by fingerprint (no duplicates, dismissed stays dismissed, what
disappears is cleared), one `insight.raised` event per new insight, and a failing detector failing the run
without writing half a kind."""

from datetime import date

import pytest
from django.utils import timezone

from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent, Event
from core.roles import Role
from insights.findings import Finding
from insights.models import Insight, InsightRun, InsightRunStatus, InsightStatus
from insights.services import runs
from insights.services.insights import dismiss_insight
from insights.services.runs import InsightRunActive, execute_insight_run, start_insight_run

AS_OF = date(2026, 3, 27)


def finding(key: str, kind="timesheet_anomaly", title=None) -> Finding:
    return Finding(
        kind=kind,
        rule="day_above_norm",
        fingerprint=f"{kind}:day_above_norm:person:{key}",
        subject_type="projects.person",
        subject_id=int(key),
        subject_label=f"Person {key}",
        title=title or f"Person {key}: a long day",
        explanation=f"Person {key} logged 14.00 h.",
        figures={"hours": "14.00"},
        audience=("project_manager",),
    )


@pytest.fixture
def detectors(monkeypatch):
    """What each kind's detector reports in the next run: {kind: [Finding] or an exception}."""
    reported = {}

    def detector(kind):
        def detect(as_of):
            outcome = reported.get(kind, [])
            if isinstance(outcome, Exception):
                raise outcome
            return iter(outcome)

        return detect

    monkeypatch.setattr(runs, "detector", detector)
    return reported


@pytest.fixture
def run_now(make_user, django_capture_on_commit_callbacks):
    finance = make_user(Role.FINANCE)

    def run(kinds=("timesheet_anomaly",)):
        with django_capture_on_commit_callbacks(execute=True):
            started = start_insight_run(actor=finance, as_of=AS_OF, kinds=kinds)
        started.refresh_from_db()
        return started

    return run


def test_rerun_updates_instead_of_duplicating_and_clears_what_disappeared(detectors, run_now, make_user):
    detectors["timesheet_anomaly"] = [finding("1"), finding("2"), finding("3")]
    first = run_now()
    assert (first.status, first.progress, first.raised, first.updated, first.cleared) == (
        "completed",
        100,
        3,
        0,
        0,
    )
    assert Event.objects.filter(type="insight.raised").count() == 3
    event = Event.objects.filter(
        type="insight.raised", subject_id=str(Insight.objects.get(subject_id=1).pk)
    ).get()
    assert event.data == {
        "kind": "timesheet_anomaly",
        "rule": "day_above_norm",
        "severity": "warning",
        "title": "Person 1: a long day",
        "subject": {"type": "projects.person", "id": 1, "label": "Person 1"},
    }

    manager = make_user(Role.PROJECT_MANAGER)
    dismiss_insight(actor=manager, insight=Insight.objects.get(subject_id=2), reason="Month-end catch-up.")
    # 1 again with a new title, 2 again (dismissed), 3 gone, 4 new.
    detectors["timesheet_anomaly"] = [
        finding("1", title="Person 1: 15 h"),
        finding("2"),
        finding("4"),
    ]
    second = run_now()

    assert (second.raised, second.updated, second.cleared) == (1, 1, 1)
    assert Insight.objects.count() == 4
    statuses = dict(Insight.objects.values_list("subject_id", "status"))
    assert statuses == {1: "open", 2: "dismissed", 3: "cleared", 4: "open"}
    one = Insight.objects.get(subject_id=1)
    assert one.title == "Person 1: 15 h"
    assert one.run == second
    assert one.first_raised_at < one.last_seen_at
    assert Insight.objects.get(subject_id=3).cleared_at is not None
    # One event per new insight: three on the first run, one (person 4) on the second.
    assert Event.objects.filter(type="insight.raised").count() == 4

    # A cleared insight found again is raised again (and announced again).
    detectors["timesheet_anomaly"] = [finding("3")]
    third = run_now()
    assert (third.raised, third.updated, third.cleared) == (1, 0, 2)
    assert Insight.objects.get(subject_id=3).status == InsightStatus.OPEN
    assert Event.objects.filter(type="insight.raised").count() == 5


def test_only_the_run_kinds_are_cleared(detectors, run_now):
    detectors["timesheet_anomaly"] = [finding("1")]
    detectors["margin_risk"] = [finding("9", kind="margin_risk")]
    run_now(kinds=("timesheet_anomaly", "margin_risk"))
    detectors["timesheet_anomaly"] = []

    run_now(kinds=("timesheet_anomaly",))

    assert dict(Insight.objects.values_list("kind", "status")) == {
        "timesheet_anomaly": "cleared",
        "margin_risk": "open",
    }


def test_a_failing_detector_fails_the_run_and_the_other_kinds_are_still_stored(detectors, run_now):
    detectors["timesheet_anomaly"] = [finding("1")]
    detectors["margin_risk"] = ZeroDivisionError("budget is zero")
    detectors["collections_risk"] = [finding("2", kind="collections_risk")]

    run = run_now(kinds=("timesheet_anomaly", "margin_risk", "collections_risk"))

    assert run.status == InsightRunStatus.FAILED
    assert run.error == "Margin risk: ZeroDivisionError: budget is zero"
    assert (run.raised, run.progress) == (2, 100)
    assert sorted(Insight.objects.values_list("kind", flat=True)) == ["collections_risk", "timesheet_anomaly"]
    assert AuditEvent.objects.filter(action="insight_run.failed", object_id=str(run.pk)).exists()


def test_a_detector_reporting_another_kind_writes_nothing_of_its_kind(detectors, run_now):
    detectors["timesheet_anomaly"] = [finding("1"), finding("2", kind="margin_risk")]

    run = run_now()

    assert run.status == InsightRunStatus.FAILED
    assert "reported a margin_risk finding" in run.error
    assert Insight.objects.count() == 0


def test_starting_runs(make_user, detectors):
    consultant, finance = make_user(Role.CONSULTANT), make_user(Role.FINANCE)
    with pytest.raises(PermissionDenied):
        start_insight_run(actor=consultant, as_of=AS_OF)
    with pytest.raises(ValidationFailed) as refused:
        start_insight_run(actor=finance, as_of=AS_OF, kinds=["nonsense"])
    assert refused.value.fields == {"kinds": [
        "Choose from timesheet_anomaly, invoice_anomaly, margin_risk, collections_risk, opportunity_score, "
        "staffing."
    ]}  # fmt: skip
    with pytest.raises(ValidationFailed):
        start_insight_run(
            actor=finance, as_of=timezone.localdate().replace(year=timezone.localdate().year + 1)
        )
    assert InsightRun.objects.count() == 0

    pending = start_insight_run(actor=finance, as_of=AS_OF)
    with pytest.raises(InsightRunActive):
        start_insight_run(actor=finance, as_of=AS_OF)
    # The scheduler joins the active run instead.
    assert start_insight_run(actor=None, as_of=AS_OF) == pending
    # A second delivery of the task does nothing once the run is claimed.
    assert execute_insight_run(run_id=pending.pk).status == InsightRunStatus.COMPLETED
    assert execute_insight_run(run_id=pending.pk).status == InsightRunStatus.COMPLETED


def test_a_run_lost_with_its_worker_is_failed_by_the_next_start(make_user, detectors):
    finance = make_user(Role.FINANCE)
    lost = start_insight_run(actor=finance, as_of=AS_OF)
    InsightRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - runs.RUN_STALE_AFTER * 2)

    fresh = start_insight_run(actor=finance, as_of=AS_OF)

    lost.refresh_from_db()
    assert (lost.status, lost.error) == ("failed", "Lost with its worker; not finished.")
    assert fresh.status == "pending"
