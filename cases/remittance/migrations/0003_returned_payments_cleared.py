"""A payment the finance officer returned stayed on the declaration and counted as paid (no
reminders, not late, paid on time in the reports). Now a return clears it (services.
return_payment); this clears the ones returned before, i.e. those whose payment step is open
again. The trail keeps what was recorded (the payment step's completion event)."""

from django.db import migrations

OPEN = ("NEW", "ASSIGNED", "STARTED")  # viewflow's open task statuses (approvals.OPEN_STATUSES)


def clear_returned_payments(apps, schema_editor):
    Remittance = apps.get_model("remittance", "Remittance")
    CaseTask = apps.get_model("approvals", "CaseTask")
    reopened = CaseTask.objects.filter(flow_task__endswith=".payment", flow_status__in=OPEN).values(
        "case_id"
    )
    Remittance.objects.filter(
        verified_at__isnull=True, paid_on__isnull=False, case_id__in=reopened
    ).update(paid_amount=None, paid_on=None, bank_reference="")


class Migration(migrations.Migration):
    dependencies = [
        ("remittance", "0002_job_attempts"),
        ("approvals", "0005_casetask_flow_status"),
    ]

    operations = [migrations.RunPython(clear_returned_payments, migrations.RunPython.noop)]
