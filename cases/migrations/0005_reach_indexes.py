"""Indexes for the case list at scale.

- Case reach reads "the processes in which this person holds or held a task" from one index of
  viewflow's task table (owner, process), without visiting the tasks themselves: a town officer
  has held tens of thousands. The task table is viewflow's, so the index is created here, in
  the app whose reads need it (as approvals 0004 does).
- The list is newest first (`-created_at, -id`); cases created in the same instant (a batch
  import, a clone) made PostgreSQL read and sort whole groups of them past the page's end. With
  both columns in one index it reads the page's rows and stops."""

from django.db import migrations

INDEXES = [
    (
        "cases_reach_task_owner_process",
        "viewflow_task (owner_id, process_id) WHERE owner_id IS NOT NULL",
    ),
    ("cases_case_newest", "cases_case (created_at, id)"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_casecc"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {definition}",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]
