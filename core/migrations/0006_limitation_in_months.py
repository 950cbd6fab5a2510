"""mediation.limitation_days (365) became mediation.limitation_months (12): the Art. 27 year
is a calendar year, counted as months (cases.mediation.rules.limitation_ends). Configured
values are carried over in whole months."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import migrations


def to_months(apps, schema_editor):
    Parameter = apps.get_model("core", "Parameter")
    for row in Parameter.objects.filter(key="mediation.limitation_days"):
        days = Decimal(row.value)
        row.key = "mediation.limitation_months"
        row.value = max((days * 12 / 365).quantize(Decimal(1), ROUND_HALF_UP), Decimal(1))
        row.note = f"{row.note} (was {days.normalize():f} days)".strip()[:200]
        row.save(update_fields=["key", "value", "note"])


def to_days(apps, schema_editor):
    Parameter = apps.get_model("core", "Parameter")
    for row in Parameter.objects.filter(key="mediation.limitation_months"):
        row.key = "mediation.limitation_days"
        row.value = (Decimal(row.value) * 365 / 12).quantize(Decimal(1), ROUND_HALF_UP)
        row.save(update_fields=["key", "value"])


class Migration(migrations.Migration):
    dependencies = [("core", "0005_redundant_indexes")]

    operations = [migrations.RunPython(to_months, to_days)]
