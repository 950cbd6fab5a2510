"""A change of the organization tree is a new configuration generation (core.generation):
parameters and webhook endpoints are looked up along it."""

from django.db import migrations

from core import generation


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
        ("core", "0004_configuration_generation"),
    ]
    operations = [generation.watch("organizations_organization")]
