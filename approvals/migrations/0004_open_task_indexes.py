"""Partial indexes for the two lists every officer opens first.

The inbox (a person's open tasks, oldest first) and the queue (unclaimed tasks) filter on a
handful of open rows among millions of finished ones. Without these PostgreSQL combines the
whole status index with the whole owner index and joins every open task of the person before
sorting; with them it reads only the few open rows. The task table is viewflow's, so its index
is created here, in the app whose lists need it."""

from django.db import migrations

INDEXES = [
    (
        "approvals_open_task_by_owner",
        "viewflow_task (owner_id, created, id) WHERE status IN ('ASSIGNED', 'STARTED')",
    ),
    # An unclaimed task has no decision yet; among a role's tasks the undecided ones are the
    # few open (and cancelled) rows, not the years of decided ones.
    (
        "approvals_undecided_by_candidate",
        "approvals_casetask (candidate_organization_id, candidate_role) WHERE decision = ''",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0003_casetask_applicant_may_act"),
        ("viewflow", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {definition}",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]
