"""Missing-time reminders: after a week ends, people who logged less than their capacity are told (and
their line manager copied), once per person and week however often the job runs."""

from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from projects.choices import EntryStatus
from projects.models import MissingTimeReminder, Person, TimeEntry
from projects.weeks import week_start


def last_full_week(today: date) -> date:
    """The Monday of the last week that has ended by `today` (the week before today's)."""
    return week_start(today) - timedelta(days=7)


def people_missing_time(monday: date) -> list[tuple[Person, Decimal]]:
    """Active people with a login and a capacity who logged fewer hours than it in the week of `monday`
    (rejected time does not count), with the hours they did log."""
    sunday = monday + timedelta(days=6)
    logged = dict(
        TimeEntry.objects.filter(date__gte=monday, date__lte=sunday)
        .exclude(status=EntryStatus.REJECTED)
        .values("person_id")
        .annotate(total=Sum("hours"))
        .values_list("person_id", "total")
    )
    people = (
        Person.objects.filter(
            active=True,
            user__isnull=False,
            user__is_active=True,
            capacity_hours_per_week__gt=0,
            created_at__date__lte=sunday,
        )
        .select_related("user", "manager__user")
        .order_by("pk")
    )
    return [
        (person, logged.get(person.pk, Decimal(0)))
        for person in people
        if logged.get(person.pk, Decimal(0)) < person.capacity_hours_per_week
    ]


def send_missing_time_reminders(*, today: date | None = None) -> list[MissingTimeReminder]:
    """Remind everyone whose last full week is under capacity. Each (person, week) is claimed by inserting
    its reminder row, unique in the database, so a second run (or a concurrent twin) sends nothing again."""
    today = today or timezone.localdate()
    monday = last_full_week(today)
    created = []
    for person, hours in people_missing_time(monday):
        try:
            with transaction.atomic():
                reminder = MissingTimeReminder.objects.create(
                    person=person,
                    week_start=monday,
                    hours_logged=hours,
                    capacity_hours=person.capacity_hours_per_week,
                )
                transaction.on_commit(partial(send_reminder_email, reminder_id=reminder.pk), robust=True)
        except IntegrityError:
            continue
        created.append(reminder)
    return created


def send_reminder_email(*, reminder_id: int) -> bool:
    """Mail one reminder to the person, their line manager copied; claimed by a conditional update so it
    goes out once."""
    reminder = (
        MissingTimeReminder.objects.filter(pk=reminder_id)
        .select_related("person__user", "person__manager__user", "person__manager")
        .first()
    )
    if reminder is None:
        return False
    if (
        MissingTimeReminder.objects.filter(pk=reminder_id, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
        != 1
    ):
        return False
    person = reminder.person
    to = [person.email or person.user.email]
    manager = person.manager
    cc = [manager.email or (manager.user.email if manager.user else "")] if manager else []
    week = reminder.week_start
    grid = reverse("projects:week") + f"?week={week.isoformat()}"
    body = (
        f"Hello {person.name},\n\n"
        f"your timesheet for the week of {week:%d %B %Y} has {reminder.hours_logged.normalize():f} hours; "
        f"your capacity is {reminder.capacity_hours.normalize():f} hours a week.\n"
        f"Please complete and submit it: {grid}\n\n"
        "— Ledgerline"
    )
    message = EmailMessage(
        subject=f"Timesheet for the week of {week.isoformat()} is incomplete",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address for address in to if address],
        cc=[address for address in cc if address],
    )
    if message.to:
        message.send()
    return True
