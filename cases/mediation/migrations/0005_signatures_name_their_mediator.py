"""A mediator's signature names whose it is (services.record_signature, since a case whose
mediator can no longer act gets another): those given before say the mediator of record, who
until now could not have changed once the agreement was signed."""

from django.db import migrations


def name_the_mediator(apps, schema_editor):
    MediationCase = apps.get_model("mediation", "MediationCase")
    signed = MediationCase.objects.filter(
        signatures__has_key="mediator", mediator__isnull=False
    ).select_related("mediator")
    for record in signed.iterator():
        signature = record.signatures["mediator"]
        if isinstance(signature, dict) and not signature.get("mediator"):
            record.signatures = {
                **record.signatures,
                "mediator": {**signature, "mediator": record.mediator.username},
            }
            record.save(update_fields=["signatures"])


class Migration(migrations.Migration):
    dependencies = [("mediation", "0004_admin_labels")]

    operations = [migrations.RunPython(name_the_mediator, migrations.RunPython.noop)]
