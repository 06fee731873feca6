from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from core.api import schema  # noqa: F401 - registers the API-key scheme with drf-spectacular

        # Role groups are reference data derived from ROLE_PERMISSIONS; keep them in step after every migrate.
        # Not limited to this app's signal: later apps' permissions exist only after their own post_migrate.
        post_migrate.connect(_sync_role_groups, dispatch_uid="core.sync_role_groups")


def _sync_role_groups(**kwargs):
    from core.services.roles import sync_role_groups

    sync_role_groups(using=kwargs.get("using", "default"))
