import pytest
from django.db import IntegrityError, connection, transaction

from core import audit
from core.events import emit
from core.middleware import current_request_id
from core.models import AuditEvent, Event

pytestmark = pytest.mark.django_db


def test_record_captures_actor_object_changes_and_request_id(make_user):
    actor = make_user("finance")
    subject = make_user("consultant")
    token = current_request_id.set("req-123")
    try:
        row = audit.record(actor=actor, action="user.updated", obj=subject, changes={"email": ["a@x", "b@x"]})
    finally:
        current_request_id.reset(token)
    assert (row.actor, row.object_type, row.object_id, row.request_id) == (
        actor,
        "core.user",
        str(subject.pk),
        "req-123",
    )
    assert row.changes == {"email": ["a@x", "b@x"]}


def test_request_id_header_is_echoed_and_generated(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-1").headers["X-Request-ID"] == "abc-1"
    assert len(client.get("/healthz", HTTP_X_REQUEST_ID="bad id!").headers["X-Request-ID"]) == 32


def test_audit_api_filters_by_object(client_for, make_user):
    subject = make_user("consultant")
    audit.record(actor=None, action="thing.done", obj=subject)
    client = client_for("finance")
    rows = client.get(f"/api/v1/audit-events/?object_type=core.user&object_id={subject.pk}").json()["results"]
    assert [r["action"] for r in rows] == ["thing.done"]


def test_emit_writes_event_in_the_callers_transaction(make_user):
    subject = make_user("consultant")
    with pytest.raises(RuntimeError), transaction.atomic():
        emit("user.renamed", subject, {"from": "a"})
        raise RuntimeError("rolled back")
    assert not Event.objects.exists()
    event = emit("user.renamed", subject, {"from": "a"})
    assert (event.subject_type, event.subject_id, event.data) == ("core.user", str(subject.pk), {"from": "a"})


def test_event_feed_is_ordered_and_resumable(client_for, make_user):
    subject = make_user("consultant")
    ids = [emit(f"thing.step_{n}", subject).id for n in range(5)]
    client = client_for("integrator")
    first = client.get("/api/v1/events/?page_size=2").json()
    assert [e["id"] for e in first["results"]] == ids[:2]
    second = client.get(first["next"]).json()
    assert [e["id"] for e in second["results"]] == ids[2:4]
    after = client.get(f"/api/v1/events/?after={ids[2]}").json()
    assert [e["id"] for e in after["results"]] == ids[3:]
    assert client.get("/api/v1/events/?after=nope").status_code == 400


@pytest.mark.postgres
def test_database_refuses_to_edit_or_delete_audit_rows(make_user):
    row = audit.record(actor=None, action="x.y", obj=make_user())
    for statement in (
        "UPDATE core_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [row.pk])
    assert AuditEvent.objects.get(pk=row.pk).action == "x.y"
