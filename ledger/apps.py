from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self):
        from ledger.currencies import seed_currencies
        from ledger.workspace import register

        register()
        # Currencies are reference data: restore them after every migrate, including the flush a
        # transactional test does, so no code path finds the table empty.
        post_migrate.connect(seed_currencies, sender=self, dispatch_uid="ledger.seed_currencies")
