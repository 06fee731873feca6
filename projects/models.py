from django.db import models


class Role(models.Model):
    """A delivery role people are staffed and billed as (Senior consultant, Analyst, …)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
