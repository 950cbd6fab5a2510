"""A change of the webhook endpoints is a new configuration generation (core.generation)."""

from django.db import migrations

from core import generation


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("core", "0004_configuration_generation"),
    ]
    operations = [generation.watch("notifications_webhookendpoint")]
