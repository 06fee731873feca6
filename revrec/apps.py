from django.apps import AppConfig


class RevrecConfig(AppConfig):
    verbose_name = "Revenue recognition"
    name = "revrec"
