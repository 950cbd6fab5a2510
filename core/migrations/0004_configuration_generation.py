"""The configuration's generation (core.generation), changed by every change of parameters."""

from django.db import migrations

from core import generation


class Migration(migrations.Migration):
    dependencies = [("core", "0003_parameter")]
    operations = [generation.create(), generation.watch("core_parameter")]
