from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.models.fields import hours_field


class Skill(models.Model):
    """Something people are good at and requests ask for (Django, SAP FI, change management, …)."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Person(models.Model):
    """Someone the firm staffs and whose time it records; usually a user who signs in.

    `manager` is the line manager (missing-time reminders copy them); project approvals follow the
    project's manager instead.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="person"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    role = models.ForeignKey("projects.Role", on_delete=models.PROTECT, related_name="people")
    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.PROTECT, related_name="people")
    practice = models.ForeignKey(
        "projects.Practice", null=True, blank=True, on_delete=models.PROTECT, related_name="people"
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    capacity_hours_per_week = hours_field(max_digits=5, default=40)
    location = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    skills = models.ManyToManyField(Skill, through="PersonSkill", related_name="people")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_hours_per_week__gte=0, capacity_hours_per_week__lte=168),
                name="person_capacity_range",
            ),
        ]

    def __str__(self):
        return self.name


class PersonSkill(models.Model):
    """How good a person is at a skill: 1 (beginner) to 5 (expert)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="skill_levels")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["person", "skill__name"]
        constraints = [
            models.UniqueConstraint(fields=["person", "skill"], name="person_skill_unique"),
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=5), name="person_skill_level_range"),
        ]

    def __str__(self):
        return f"{self.skill} {self.level}/5"
