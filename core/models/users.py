from django.contrib.auth.models import AbstractUser

from core.roles import user_roles


class User(AbstractUser):
    """A person who signs in (or an integrator's service account). Roles are groups named after `Role`."""

    class Meta:
        db_table = "core_user"
        ordering = ["username"]

    @property
    def roles(self) -> list[str]:
        return sorted(user_roles(self))

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
