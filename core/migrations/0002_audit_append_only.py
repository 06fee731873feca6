from django.db import migrations

from core.db import append_only_trigger_sql, postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [postgres_only_sql(*append_only_trigger_sql("core_auditevent"))]
