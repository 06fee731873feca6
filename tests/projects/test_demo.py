"""The delivery demo: ~40 people in six roles, staffed projects, six months of time (mostly approved, last
week partly submitted or draft, a few rejected) and expenses, all passing the same checks as any entry;
loading it twice adds nothing."""

import random
from collections import Counter
from datetime import date

import pytest
from django.db.models import F

from core import demo as core_demo
from core.management.commands.load_demo import DemoContext
from ledger import demo as ledger_demo
from projects import demo as projects_demo
from projects.choices import EntryStatus
from projects.models import Assignment, Expense, Holiday, Person, Project, Role, TimeEntry, TimeOff
from projects.weeks import week_start

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 18)


class _Quiet:
    def write(self, *args, **kwargs):
        pass


def _load(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ctx = DemoContext(today=TODAY, rng=random.Random(2026), stdout=_Quiet())
    for module in (core_demo, ledger_demo, projects_demo):
        module.load(ctx)


def test_the_demo_firm(settings, tmp_path):
    _load(settings, tmp_path)
    counts = (
        Person.objects.count(),
        Project.objects.count(),
        Assignment.objects.count(),
        TimeEntry.objects.count(),
        Expense.objects.count(),
        Holiday.objects.count(),
        TimeOff.objects.count(),
    )
    assert Person.objects.count() == 40
    assert Role.objects.filter(people__isnull=False).distinct().count() == 6
    assert Person.objects.filter(skill_levels__isnull=False).distinct().count() == 40
    assert Person.objects.get(user__username="consultant").name == "Chloe Novak"
    statuses = Counter(TimeEntry.objects.values_list("status", flat=True))
    assert statuses[EntryStatus.APPROVED] > 0.8 * sum(statuses.values())
    assert statuses[EntryStatus.REJECTED] == 4
    this_week = week_start(TODAY)
    current = set(TimeEntry.objects.filter(date__gte=this_week).values_list("status", flat=True))
    assert current == {EntryStatus.DRAFT}
    earliest = TimeEntry.objects.order_by("date").values_list("date", flat=True).first()
    assert (TODAY - earliest).days >= 175
    assert TimeEntry.objects.exclude(rate_source="none").filter(billable=True).count() > 0
    assert Expense.objects.filter(status=EntryStatus.APPROVED).exists()
    # Each entity's public holidays, nobody's time on one; practices; the history's week off recorded.
    for (entity_id,) in Holiday.objects.values_list("legal_entity_id").distinct():
        assert Holiday.objects.filter(legal_entity_id=entity_id, date__year=2026).count() >= 8
    assert not TimeEntry.objects.filter(person__legal_entity__holidays__date=F("date")).exists()
    assert not Person.objects.filter(practice__isnull=True).exists()
    assert not Project.objects.filter(
        allow_any_person=False, practice__isnull=True, assignments__isnull=False
    ).exists()
    assert TimeOff.objects.filter(start__lt=TODAY).count() == Person.objects.count()
    assert TimeOff.objects.filter(start__gt=TODAY).exists()

    _load(settings, tmp_path)
    assert counts == (
        Person.objects.count(),
        Project.objects.count(),
        Assignment.objects.count(),
        TimeEntry.objects.count(),
        Expense.objects.count(),
        Holiday.objects.count(),
        TimeOff.objects.count(),
    )
