"""The head of each case's chain (TrailHead), kept by the database: a trigger on the trail
moves it with every insert, whoever inserts (the trail's own appends, a bulk load, an
application server still running the code from before this migration), so it never falls
behind its chain. Existing chains get theirs from their last event."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO cases_trailhead (case_id, seq, hash)
SELECT e.case_id, e.seq, e.hash FROM cases_trailevent e
WHERE e.seq = (SELECT max(l.seq) FROM cases_trailevent l WHERE l.case_id = e.case_id)
"""

# One run per statement, over the rows it inserted: a bulk load moves each head once.
PG_UP = """
CREATE OR REPLACE FUNCTION cases_trailevent_move_head() RETURNS trigger AS $$
BEGIN
    INSERT INTO cases_trailhead (case_id, seq, hash)
    SELECT DISTINCT ON (case_id) case_id, seq, hash FROM inserted_events
    ORDER BY case_id, seq DESC
    ON CONFLICT (case_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash
    WHERE cases_trailhead.seq < EXCLUDED.seq;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_trailevent_head
    AFTER INSERT ON cases_trailevent REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION cases_trailevent_move_head();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS cases_trailevent_head ON cases_trailevent;
DROP FUNCTION IF EXISTS cases_trailevent_move_head();
"""
SQLITE_UP = """
CREATE TRIGGER cases_trailevent_head AFTER INSERT ON cases_trailevent
WHEN NOT EXISTS (
    SELECT 1 FROM cases_trailhead WHERE case_id = NEW.case_id AND seq >= NEW.seq
)
BEGIN
    INSERT OR REPLACE INTO cases_trailhead (case_id, seq, hash)
    VALUES (NEW.case_id, NEW.seq, NEW.hash);
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS cases_trailevent_head;"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UP, params=None)
    else:
        raise RuntimeError(f"No trail head trigger for database vendor {vendor!r}")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(PG_DOWN if vendor == "postgresql" else SQLITE_DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_reach_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="TrailHead",
            fields=[
                (
                    "case",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="cases.case",
                    ),
                ),
                ("seq", models.PositiveIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "verbose_name": "trail head",
                "verbose_name_plural": "trail heads",
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunPython(forwards, backwards),
    ]
