from django.apps import AppConfig


class CrmConfig(AppConfig):
    verbose_name = "CRM"
    name = "crm"
