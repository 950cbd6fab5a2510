"""The database itself refuses UPDATE and DELETE on the trail table (PostgreSQL and SQLite).
TRUNCATE stays possible so that a test database can be reset; it needs table ownership."""

from django.db import migrations

PG_UP = """
CREATE OR REPLACE FUNCTION cases_trailevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'cases_trailevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_trailevent_append_only
    BEFORE UPDATE OR DELETE ON cases_trailevent
    FOR EACH ROW EXECUTE FUNCTION cases_trailevent_refuse_change();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS cases_trailevent_append_only ON cases_trailevent;
DROP FUNCTION IF EXISTS cases_trailevent_refuse_change();
"""
SQLITE_UP = [
    """CREATE TRIGGER cases_trailevent_no_update BEFORE UPDATE ON cases_trailevent
       BEGIN SELECT RAISE(ABORT, 'cases_trailevent is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER cases_trailevent_no_delete BEFORE DELETE ON cases_trailevent
       BEGIN SELECT RAISE(ABORT, 'cases_trailevent is append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS cases_trailevent_no_update;",
    "DROP TRIGGER IF EXISTS cases_trailevent_no_delete;",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UP, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_UP:
            schema_editor.execute(sql, params=None)
    else:
        raise RuntimeError(f"No append-only trigger for database vendor {vendor!r}")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in [PG_DOWN] if vendor == "postgresql" else SQLITE_DOWN:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
