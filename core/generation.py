"""The configuration's generation: a number PostgreSQL changes in every transaction that changes
the rows configuring the operations — parameters, the calendar's overrides, webhook endpoints
and the organization tree their lookups follow — and that becomes visible with that change.

Every decision reads those rows, and they change a few times a year. An operation that learns
the generation along with its first statement (`core.plans.generic_plans`) reuses what an
earlier operation of the same process read under the same generation (`core.memo.
configuration`); any committed change, made anywhere, gives the next operation a new number
and so a fresh read.

The number is a row written by statement triggers, not a sequence's last value: a reader sees
it change only when the change commits, never before. Its values come from a sequence, so a
change that is rolled back never hands its number to a later, different change. PostgreSQL
only; elsewhere nothing is kept across operations."""

from django.db import migrations

TABLE = "core_configuration_generation"
SEQUENCE = "core_configuration_generation_seq"
FUNCTION = "core_configuration_changed"
# One expression, to ride along in a statement the operation sends anyway.
READ = f"(SELECT value FROM {TABLE} WHERE id = 1)"

_CREATE = f"""
CREATE SEQUENCE {SEQUENCE};
CREATE TABLE {TABLE} (id smallint PRIMARY KEY CHECK (id = 1), value bigint NOT NULL);
INSERT INTO {TABLE} VALUES (1, nextval('{SEQUENCE}'));
CREATE FUNCTION {FUNCTION}() RETURNS trigger AS $$
BEGIN
    UPDATE {TABLE} SET value = nextval('{SEQUENCE}') WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
_DROP = f"""
DROP FUNCTION IF EXISTS {FUNCTION}() CASCADE;
DROP TABLE IF EXISTS {TABLE};
DROP SEQUENCE IF EXISTS {SEQUENCE};
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


def create():
    """The migration operation creating the generation (core owns it)."""
    return migrations.RunPython(_on_postgresql(_CREATE), _on_postgresql(_DROP))


def watch(table):
    """The migration operation making every change of `table` a new generation (each app
    watches its own tables)."""
    trigger = f"{table}_configuration_changed"
    return migrations.RunPython(
        _on_postgresql(
            f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();"
        ),
        _on_postgresql(f"DROP TRIGGER IF EXISTS {trigger} ON {table};"),
    )
