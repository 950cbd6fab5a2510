"""Indexes the summary report reads by.

Every section of the summary (reports.selectors) selects the rows its figures can count by the
period's dates: cases finished in it, human tasks finished in it (or still open at its end),
disbursement steps opened in it, aid paid in it. Without these indexes each of those walks a
whole table — at 200,000 cases and 1,000,000 tasks a county summary took seconds.

The task index carries the columns the task figures read (step, opening time, status), so a
year's completed steps are read from the index alone, not from 100,000 scattered table rows.
The tables are other apps' (viewflow's task table among them), so the indexes are created
here, in the app whose reads need them, as approvals migration 0004 does for the task lists.
PostgreSQL only has INCLUDE; elsewhere the same indexes are created without it."""

from django.db import migrations

INDEXES = [
    # Cases finished in a period; open cases (finished_at IS NULL) at its end.
    ("reports_case_finished", "cases_case (finished_at)", ""),
    # Human tasks completed in a period, or still open (finished IS NULL) at its end.
    (
        "reports_task_finished",
        "viewflow_task (finished) {include} WHERE flow_task_type = 'HUMAN'",
        "INCLUDE (id, created, flow_task, status)",
    ),
    # "Approved" aid: the disbursement steps opened in a period.
    (
        "reports_disbursement_reached",
        "viewflow_task (created) {include} "
        "WHERE flow_task_type = 'HUMAN' AND flow_task LIKE '%%.disbursement'",
        "INCLUDE (id)",
    ),
    # Aid paid in a period.
    ("reports_hardship_disbursed", "hardship_hardshipapplication (disbursed_on)", ""),
]


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, definition, include in INDEXES:
        definition = definition.format(include=include if postgres else "")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    for name, _definition, _include in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("cases", "0001_initial"),
        ("hardship", "0001_initial"),
        ("viewflow", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
