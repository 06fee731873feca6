import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from core import tasks
from core.events import emit
from core.models import Event, WebhookDelivery
from core.services.webhooks import attempt_webhook_delivery, create_webhook_subscription, verify_signature

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_worker-test-secret-000"


@pytest.mark.django_db
@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
def test_webhooks_never_call_internal_addresses(make_user, receiver):
    owner = make_user("integrator")
    subscription = create_webhook_subscription(actor=owner, owner=owner, url=receiver.url, event_types=["*"])
    event = emit("thing.happened", owner)
    tasks.fan_out_event(event.id)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.attempts == 1
    assert "non-public address (127.0.0.1)" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_sweep_fans_out_events_whose_task_was_lost(make_user, monkeypatch):
    owner = make_user("integrator")
    subscription = create_webhook_subscription(
        actor=owner, owner=owner, url="https://hooks.example.com/x", event_types=["*"]
    )
    event = emit("thing.happened", owner)  # on-commit fan-out never runs inside the test transaction
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda delivery_id: None)
    assert tasks.fan_out_pending_events() == 0  # younger than the grace period
    Event.objects.filter(pk=event.pk).update(occurred_at=timezone.now() - tasks.FAN_OUT_GRACE * 2)
    assert tasks.fan_out_pending_events() == 1
    assert WebhookDelivery.objects.filter(subscription=subscription, event=event).count() == 1
    assert Event.objects.get(pk=event.pk).fanned_out_at is not None
    assert tasks.fan_out_pending_events() == 0


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real `celery -A config worker` against Redis and this test database (PostgreSQL)."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGERLINE_ENV": "local",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    }
    from config.celery import app

    app.control.purge()  # leftovers of earlier runs; messages sent from now on wait for the worker
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.postgres
@pytest.mark.celery_worker
def test_a_real_worker_fans_out_and_delivers_a_signed_webhook(celery_worker_process, make_user, receiver):
    owner = make_user("integrator")
    subscription = create_webhook_subscription(
        actor=owner, owner=owner, url=receiver.url, event_types=["thing.happened"], secret=SECRET
    )
    with transaction.atomic():
        event = emit("thing.happened", owner, {"amount": "12.50"})
    # The on-commit hook queued `fan_out_event` on Redis; the worker process writes the delivery row.
    deadline = time.monotonic() + 60
    delivery = None
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.filter(subscription=subscription, event=event).first()
        if delivery and delivery.status == WebhookDelivery.Status.DELIVERED:
            break
        if celery_worker_process.poll() is not None:
            pytest.fail(f"worker exited: {celery_worker_process.stdout.read().decode()}")
        time.sleep(0.2)
    assert delivery is not None and delivery.status == WebhookDelivery.Status.DELIVERED, delivery
    assert Event.objects.get(pk=event.pk).fanned_out_at is not None
    [request] = receiver.requests
    assert verify_signature(SECRET, request["headers"]["X-Ledgerline-Signature"], request["body"])
    assert attempt_webhook_delivery(delivery_id=delivery.pk) is None  # done: a twin task does nothing
