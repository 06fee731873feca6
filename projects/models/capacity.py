"""What shapes a person's available hours and how the firm groups its work: practices (service lines), the
legal entity's public holidays and each person's recorded time off."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from projects.models.fields import hours_field


class Practice(models.Model):
    """A service line (Data & AI, ERP, Change management, …): people belong to one, projects deliver one."""

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    """A public holiday of a legal entity: nobody employed there is available that day."""

    legal_entity = models.ForeignKey("ledger.LegalEntity", on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["legal_entity", "date"]
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "date"], name="holiday_entity_date"),
        ]

    def __str__(self):
        return f"{self.date} {self.name}"


class TimeOff(models.Model):
    """Leave a person takes: `hours_per_day` off each weekday from `start` to `end` (a half day is 4.00)."""

    class Kind(models.TextChoices):
        VACATION = "vacation", "Vacation"
        SICK = "sick", "Sick leave"
        TRAINING = "training", "Training"
        OTHER = "other", "Other"

    person = models.ForeignKey("projects.Person", on_delete=models.CASCADE, related_name="time_off")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.VACATION)
    start = models.DateField()
    end = models.DateField()
    hours_per_day = hours_field(max_digits=4, default=8)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="time_off_dates"),
            models.CheckConstraint(
                condition=Q(hours_per_day__gt=0, hours_per_day__lte=24), name="time_off_hours_range"
            ),
        ]
        indexes = [models.Index(fields=["person", "start", "end"], name="time_off_person_range")]

    def __str__(self):
        return f"{self.person} {self.kind} {self.start}–{self.end}"
