"""Missing-time reminders: after a week ends, people under capacity (and their line manager) get one e-mail,
however often the nightly job runs."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from projects.models import MissingTimeReminder
from projects.services.people import update_person
from projects.services.reminders import last_full_week, send_missing_time_reminders
from projects.services.time import record_time
from projects.tasks import missing_time_reminders

D = Decimal
pytestmark = pytest.mark.django_db
# The Monday after the week of 16 March 2026.
NEXT_MONDAY = date(2026, 3, 23)


def test_last_full_week():
    assert last_full_week(date(2026, 3, 23)) == date(2026, 3, 16)
    assert last_full_week(date(2026, 3, 29)) == date(2026, 3, 16)


def fill(firm, person, hours):
    for offset in range(5):
        record_time(
            actor=person.user,
            person=person,
            project=firm.project,
            task=firm.workshops,
            date=date(2026, 3, 16 + offset),
            hours=D(hours),
            today=date(2026, 3, 20),
        )


@pytest.fixture
def people_created_early(firm):
    from projects.models import Person

    Person.objects.update(created_at=timezone.make_aware(timezone.datetime(2026, 1, 1)))


def test_people_under_capacity_are_reminded_once(
    firm, people_created_early, django_capture_on_commit_callbacks
):
    update_person(actor=None, person=firm.chloe, manager=firm.pm)
    fill(firm, firm.chloe, "6")  # 30 of 40 hours
    with django_capture_on_commit_callbacks(execute=True):
        reminders = send_missing_time_reminders(today=NEXT_MONDAY)
    # Chloe logged 30; Dan and Priya nothing. Everyone under 40 is reminded, for the week of 16 March.
    assert sorted((r.person.name, r.hours_logged) for r in reminders) == [
        ("Chloe Novak", D("30.00")),
        ("Dan Brook", D("0")),
        ("Priya Mendes", D("0")),
    ]
    assert {r.week_start for r in reminders} == {date(2026, 3, 16)}
    chloe_mail = next(m for m in mail.outbox if firm.chloe.user.email in m.to)
    assert chloe_mail.subject == "Timesheet for the week of 2026-03-16 is incomplete"
    assert chloe_mail.cc == [firm.pm.user.email]
    assert "has 30 hours; your capacity is 40 hours a week" in chloe_mail.body
    assert "/projects/time/?week=2026-03-16" in chloe_mail.body
    assert len(mail.outbox) == 3
    assert MissingTimeReminder.objects.filter(sent_at__isnull=False).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        again = send_missing_time_reminders(today=date(2026, 3, 24))
    assert again == []
    assert len(mail.outbox) == 3
    assert MissingTimeReminder.objects.count() == 3


def test_a_full_week_is_not_reminded(firm, people_created_early):
    fill(firm, firm.chloe, "8")
    reminded = {r.person.name for r in send_missing_time_reminders(today=NEXT_MONDAY)}
    assert "Chloe Novak" not in reminded


def test_the_nightly_task_runs_the_service(firm, people_created_early, monkeypatch):
    monkeypatch.setattr("projects.services.reminders.timezone.localdate", lambda: NEXT_MONDAY)
    first = missing_time_reminders.delay().get()
    assert len(first) == 3
    assert missing_time_reminders.delay().get() == []


def test_the_beat_schedule_runs_it_nightly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["nightly-missing-time-reminders"]
    assert entry["task"] == "projects.tasks.missing_time_reminders"
