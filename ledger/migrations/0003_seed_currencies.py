from django.db import migrations

from ledger.currencies import iso_currencies


def seed(apps, schema_editor):
    Currency = apps.get_model("ledger", "Currency")
    rows = [Currency(code=code, name=name, minor_units=units) for code, name, units in iso_currencies()]
    Currency.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_database_guards")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
