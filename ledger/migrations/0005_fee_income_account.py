"""Give every existing legal entity the "Interest and late-fee income" account that dunning posts to.

New entities get it from the seeded chart (ledger.chart). An entity whose code 4900 is already used by
another account gets the next free code in 4901–4999, so no account the firm created is taken over.
"""

from django.db import migrations

NAME = "Interest and late-fee income"


def add_fee_income_accounts(apps, schema_editor):
    LegalEntity = apps.get_model("ledger", "LegalEntity")
    GLAccount = apps.get_model("ledger", "GLAccount")
    has_one = GLAccount.objects.filter(role="fee_income").values_list("legal_entity_id", flat=True)
    for entity in LegalEntity.objects.exclude(pk__in=list(has_one)).order_by("pk"):
        taken = set(GLAccount.objects.filter(legal_entity=entity).values_list("code", flat=True))
        code = next((str(n) for n in range(4900, 5000) if str(n) not in taken), "4900-FEE")
        GLAccount.objects.create(
            legal_entity=entity,
            code=code,
            name=NAME,
            type="revenue",
            normal_balance="credit",
            role="fee_income",
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_dunning")]

    # Not reversed: by then the accounts may carry postings.
    operations = [migrations.RunPython(add_fee_income_accounts, migrations.RunPython.noop)]
