"""The queue from one index: viewflow's task status copied onto our task row (`flow_status`,
kept equal by CaseTask.save and a post_save receiver on viewflow's Task), and a partial index
of the unclaimed tasks per candidate role. It replaces the index of undecided tasks per role
(0004), which held every cancelled task the role ever had and still made the queue read
viewflow's status of each.

Also an index of the cases a person decided on (case reach reads it alone, without the task
rows), and the inbox's index of a person's open tasks (0004) now carries the task type too,
so the inbox's count is read from the index alone instead of visiting each open task's row."""

from django.db import migrations, models


def copy_status(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # A join, not a subquery per row: a million tasks take seconds, not minutes.
        sql = (
            "UPDATE approvals_casetask AS ct SET flow_status = t.status FROM viewflow_task AS t "
            "WHERE t.id = ct.task_ptr_id AND ct.flow_status IS DISTINCT FROM t.status"
        )
    else:
        sql = (
            "UPDATE approvals_casetask SET flow_status = (SELECT t.status FROM viewflow_task t "
            "WHERE t.id = approvals_casetask.task_ptr_id)"
        )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


UNDECIDED = (
    "approvals_undecided_by_candidate",
    "approvals_casetask (candidate_organization_id, candidate_role) WHERE decision = ''",
)


OPEN_BY_OWNER = "approvals_open_task_by_owner"
OPEN_BY_OWNER_BEFORE = (
    "viewflow_task (owner_id, created, id) WHERE status IN ('ASSIGNED', 'STARTED')"
)
OPEN_BY_OWNER_AFTER = (
    "viewflow_task (owner_id, created, id, flow_task_type) WHERE status IN ('ASSIGNED', 'STARTED')"
)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0004_open_task_indexes"),
        ("cases", "0004_casecc"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.AddField(
            model_name="casetask",
            name="flow_status",
            field=models.CharField(blank=True, default="", editable=False, max_length=50),
        ),
        migrations.RunPython(copy_status, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="casetask",
            index=models.Index(
                condition=models.Q(("flow_status", "NEW")),
                fields=["candidate_organization", "candidate_role"],
                name="casetask_unclaimed",
            ),
        ),
        migrations.AddIndex(
            model_name="casetask",
            index=models.Index(
                condition=models.Q(("completed_by__isnull", False)),
                fields=["completed_by", "case"],
                name="casetask_decided_cases",
            ),
        ),
        migrations.RunSQL(
            [
                f"DROP INDEX IF EXISTS {OPEN_BY_OWNER}",
                f"CREATE INDEX {OPEN_BY_OWNER} ON {OPEN_BY_OWNER_AFTER}",
            ],
            [
                f"DROP INDEX IF EXISTS {OPEN_BY_OWNER}",
                f"CREATE INDEX {OPEN_BY_OWNER} ON {OPEN_BY_OWNER_BEFORE}",
            ],
        ),
        migrations.RunSQL(
            f"DROP INDEX IF EXISTS {UNDECIDED[0]}",
            f"CREATE INDEX IF NOT EXISTS {UNDECIDED[0]} ON {UNDECIDED[1]}",
        ),
    ]
