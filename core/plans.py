"""Which plans PostgreSQL may reuse for prepared statements.

With prepared statements on (DB_PREPARE_THRESHOLD), a connection plans every statement for its
parameters (`plan_cache_mode = force_custom_plan`, set in project.settings): a plan made for no
particular values can be far off for reads whose cost depends on them — a year's summary went
from 1.5 to 13 s once PostgreSQL switched it to a generic plan. `generic_plans()` lets the
current transaction reuse one plan per statement: for the operations on tasks and the inbox,
whose statements find rows by key, where planning each time cost more than running.

PostgreSQL still plans afresh whenever it estimates a generic plan dearer, as it does for the
inbox's page (a task, its case, organization and three people: seven tables). Searching the
orders of seven tables took 3.6 ms, running the plan 0.4 ms. Such statements are written by
the ORM from the rows looked up by key outwards to what they point at, the order to run them
in, so the same transactions also join in the order written (`join_collapse_limit = 1`):
planning the page takes 0.5 ms."""

from django.db import connection

from . import generation, memo


def enabled():
    return connection.vendor == "postgresql" and bool(
        connection.settings_dict["OPTIONS"].get("server_side_binding")
    )


# Select-list items that set the plans for the rest of the transaction; the last one reads
# the configuration's generation. A statement the operation sends anyway may carry them.
SETTINGS = (
    "set_config('plan_cache_mode', 'auto', true), "
    f"set_config('join_collapse_limit', '1', true), {generation.READ}"
)


def generic_plans():
    """For the rest of the current transaction (call it inside an atomic block): reuse plans,
    join in the order written. The same statement brings the configuration's generation to
    the current operation (core.generation), which saves the operation reading parameters,
    calendar and webhook endpoints again when they have not changed."""
    if enabled():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {SETTINGS}")
            settings_set(cursor.fetchone())


def settings_set(row):
    """After a statement that selected SETTINGS last: what the operation learns from it."""
    memo.learn_generation(row[-1])
