from django.apps import AppConfig


class RevrecConfig(AppConfig):
    verbose_name = "Revenue recognition"
    name = "revrec"

    def ready(self):
        from core.roles import Role
        from core.workspaces import NavEntry, add_nav_entry

        # One "Revenue" entry for finance (runs, obligations) and executives (who read the same pages and
        # the reports); the revenue pages carry their own navigation.
        add_nav_entry(
            NavEntry("Revenue", "revrec:runs", "graph-up-arrow", (Role.FINANCE, Role.EXECUTIVE)),
            before="core:api-keys",
        )
