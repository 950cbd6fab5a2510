"""Each trail event carries a seal: HMAC-SHA256 of its hash under TRAIL_SEAL_KEYS
(cases.trail.seal). The events written before are sealed here, as they stand: verification
still walks their chain, and from now on no one without the key can re-chain them unseen.

The append-only trigger is set aside for the backfill only, inside the migration's
transaction (PostgreSQL: ALTER TABLE … DISABLE TRIGGER, which holds the table's lock until the
commit). SQLite adds the column by making the table anew, which loses its triggers: they are
created again here, after the backfill, from migrations 0003 and 0006."""

import hmac
import importlib

from django.db import migrations, models

from core.sensitive import trail_seal_keys

BATCH = 5000
PG_TRIGGER = "cases_trailevent_append_only"


def _sqlite_triggers():
    append_only = importlib.import_module("cases.migrations.0003_trail_append_only")
    heads = importlib.import_module("cases.migrations.0006_trail_heads")
    return [
        *append_only.SQLITE_DOWN,
        heads.SQLITE_DOWN,
        *append_only.SQLITE_UP,
        heads.SQLITE_UP,
    ]


def _seal(key, hash_):
    # The seal as cases.trail.seal writes it, frozen here.
    return hmac.digest(key, hash_.encode(), "sha256").hex()


def seal_existing_events(apps, schema_editor):
    connection = schema_editor.connection
    key = trail_seal_keys()[0]
    table = "cases_trailevent"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {PG_TRIGGER}")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS cases_trailevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS cases_trailevent_no_delete")
        last = 0
        while True:
            cursor.execute(
                f"SELECT id, hash FROM {table} WHERE id > %s AND seal = '' ORDER BY id LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            sealed = [(_seal(key, hash_), pk) for pk, hash_ in rows]
            if connection.vendor == "postgresql":
                values = ", ".join(["(%s::bigint, %s)"] * len(sealed))
                cursor.execute(
                    f"UPDATE {table} AS t SET seal = v.seal FROM (VALUES {values}) AS v(id, seal) "
                    "WHERE t.id = v.id",
                    [p for seal, pk in sealed for p in (pk, seal)],
                )
            else:
                cursor.executemany(f"UPDATE {table} SET seal = %s WHERE id = %s", sealed)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {PG_TRIGGER}")
        else:
            for statement in _sqlite_triggers():
                cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0007_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="trailevent",
            name="seal",
            field=models.CharField(db_default="", max_length=64),
        ),
        migrations.RunPython(seal_existing_events, migrations.RunPython.noop),
    ]
