"""The monthly per-capita income is now shown rounded down to the fen (cases.hardship.
eligibility), so that it agrees with the category; recompute the stored figure of existing
cases from their own income, expenses and household size."""

from decimal import ROUND_DOWN, Decimal

from django.db import migrations

FEN = Decimal("0.01")


def round_down(apps, schema_editor):
    HardshipApplication = apps.get_model("hardship", "HardshipApplication")
    changed = []
    for record in HardshipApplication.objects.only(
        "pk", "annual_income", "rigid_expenses", "household_size", "per_capita_income"
    ).iterator():
        net = max(record.annual_income - record.rigid_expenses, Decimal(0))
        shown = (net / (12 * max(record.household_size, 1))).quantize(FEN, ROUND_DOWN)
        if shown != record.per_capita_income:
            record.per_capita_income = shown
            changed.append(record)
    HardshipApplication.objects.bulk_update(changed, ["per_capita_income"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("hardship", "0004_disbursement_account")]

    operations = [migrations.RunPython(round_down, migrations.RunPython.noop)]
