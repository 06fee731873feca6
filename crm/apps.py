from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrmConfig(AppConfig):
    verbose_name = "CRM"
    name = "crm"

    def ready(self):
        from crm.stages import seed_stages
        from crm.workspace import register

        register()
        # Stages are reference data: restore the defaults after every migrate, including a test's flush.
        post_migrate.connect(seed_stages, sender=self, dispatch_uid="crm.seed_stages")
