"""A change of the calendar's overrides is a new configuration generation (core.generation)."""

from django.db import migrations

from core import generation


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0005_casetask_flow_status"),
        ("core", "0004_configuration_generation"),
    ]
    operations = [generation.watch("approvals_workingdayoverride")]
