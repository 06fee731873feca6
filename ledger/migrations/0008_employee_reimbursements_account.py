"""Give every existing legal entity the "Employee reimbursements payable" account that approved expenses
credit (Dr cost of services / Cr employee reimbursements payable).

New entities get it from the seeded chart (ledger.chart). An entity whose code 2050 is already used by
another account gets the next free code in 2051–2099, so no account the firm created is taken over.
"""

from django.db import migrations, models

NAME = "Employee reimbursements payable"
ROLE = "employee_reimbursements"


def add_reimbursement_accounts(apps, schema_editor):
    LegalEntity = apps.get_model("ledger", "LegalEntity")
    GLAccount = apps.get_model("ledger", "GLAccount")
    has_one = GLAccount.objects.filter(role=ROLE).values_list("legal_entity_id", flat=True)
    for entity in LegalEntity.objects.exclude(pk__in=list(has_one)).order_by("pk"):
        taken = set(GLAccount.objects.filter(legal_entity=entity).values_list("code", flat=True))
        code = next((str(n) for n in range(2050, 2100) if str(n) not in taken), "2050-EXP")
        GLAccount.objects.create(
            legal_entity=entity,
            code=code,
            name=NAME,
            type="liability",
            normal_balance="credit",
            role=ROLE,
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_set_based_line_integrity")]

    operations = [
        migrations.AlterField(
            model_name="glaccount",
            name="role",
            field=models.CharField(
                blank=True,
                choices=[
                    ("cash", "Cash / bank"),
                    ("ar", "Accounts receivable"),
                    ("unbilled_revenue", "Unbilled revenue (contract asset)"),
                    ("deferred_revenue", "Deferred revenue (contract liability)"),
                    ("tax_payable", "Tax payable"),
                    ("employee_reimbursements", "Employee reimbursements payable"),
                    ("revenue_tm", "Revenue: time and materials"),
                    ("revenue_fixed", "Revenue: fixed fee and milestones"),
                    ("revenue_subscription", "Revenue: subscriptions and retainers"),
                    ("revenue_expense", "Revenue: expense rebill"),
                    ("cost_of_services", "Cost of services"),
                    ("fx_realized", "Realized FX gain/loss"),
                    ("fx_unrealized", "Unrealized FX gain/loss"),
                    ("fx_rounding", "FX rounding"),
                    ("bad_debt", "Bad debt / write-off"),
                    ("fee_income", "Interest and late-fee income"),
                    ("retained_earnings", "Retained earnings"),
                ],
                max_length=30,
                null=True,
            ),
        ),
        # Not reversed: by then the accounts may carry postings.
        migrations.RunPython(add_reimbursement_accounts, migrations.RunPython.noop),
    ]
