from django.db import migrations, models


def record_named_reach(apps, schema_editor):
    """Files built before their reach was recorded: one whose request named its organization
    covers that organization (its subtree), which the download held to the creator's reach
    already. The others stay without a reach, and their download is refused (start again)."""
    ExportJob = apps.get_model("reports", "ExportJob")
    Organization = apps.get_model("organizations", "Organization")
    jobs = ExportJob.objects.filter(status="done", reach__isnull=True).exclude(kind="trail")
    for job in jobs.iterator():
        raw = str((job.params or {}).get("organization") or "").strip()
        if not raw.isdigit():
            continue
        path = Organization.objects.filter(pk=int(raw)).values_list("path", flat=True).first()
        if path is not None:
            ExportJob.objects.filter(pk=job.pk).update(reach=[path])


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
        ("reports", "0006_admin_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="reach",
            field=models.JSONField(blank=True, editable=False, null=True, verbose_name="reach"),
        ),
        migrations.RunPython(record_named_reach, migrations.RunPython.noop),
    ]
