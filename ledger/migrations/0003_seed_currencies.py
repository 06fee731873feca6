import math

from django.db import migrations


def seed(apps, schema_editor):
    import moneyed

    Currency = apps.get_model("ledger", "Currency")
    rows = []
    for code, currency in sorted(moneyed.CURRENCIES.items()):
        if len(code) != 3 or not code.isalpha() or code in {"XXX", "XTS"} or not currency.sub_unit:
            continue
        rows.append(Currency(code=code, name=currency.name, minor_units=round(math.log10(currency.sub_unit))))
    Currency.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_database_guards")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
