"""Every index on the project's own tables earns its keep.

An index is written on every insert, and on every update that is not HOT, so one that no query
needs slows each operation and grows with the tables (a million tasks at scale). Django adds
some on its own: one per foreign key, even when a composite index already leads with that
column, and a second, pattern-ops ("_like") index for each indexed or unique text column, which
only prefix matches (`startswith`) use."""

import pytest
from django.apps import apps
from django.db import connection

PROJECT_APPS = (
    "core",
    "organizations",
    "cases",
    "attachments",
    "hardship",
    "mediation",
    "remittance",
    "workflows",
    "approvals",
    "notifications",
    "reports",
)

# Pattern-ops indexes that prefix matches use (table, column), with the reason.
PREFIX_MATCHED = {
    # Reach: an organization and everything under it (path__startswith).
    ("organizations_organization", "path"),
    # Inherited from Django's AbstractUser (unique username); kept as Django makes it.
    ("organizations_user", "username"),
}

INDEXES = """
    SELECT i.indexrelid::regclass::text AS name,
           t.relname AS table_name,
           i.indisunique AS is_unique,
           i.indpred IS NOT NULL AS is_partial,
           pg_get_expr(i.indpred, i.indrelid) AS predicate,
           array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 ORDER BY k.n) AS columns,
           array(SELECT o.opcname FROM unnest(i.indclass) WITH ORDINALITY c(oid, n)
                 JOIN pg_opclass o ON o.oid = c.oid ORDER BY c.n) AS opclasses
      FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
     WHERE t.relname = ANY(%s)
"""


def project_tables():
    return sorted(
        {
            model._meta.db_table
            for label in PROJECT_APPS
            for model in apps.get_app_config(label).get_models(include_auto_created=True)
            # Django's own many-to-many tables (a user's groups and permissions).
            if not (
                model._meta.auto_created and model._meta.db_table.startswith("organizations_user_")
            )
        }
    )


pytestmark = pytest.mark.postgres  # reads PostgreSQL's catalog


@pytest.fixture
def indexes(db):
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [project_tables()])
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def plain(index):
    return not index["is_partial"] and not any(
        o.endswith("_pattern_ops") for o in index["opclasses"]
    )


def test_the_project_tables_are_all_inspected(indexes):
    tables = {i["table_name"] for i in indexes}
    assert {
        "approvals_casetask",
        "cases_case",
        "cases_trailevent",
        "hardship_hardshipapplication",
    } <= tables
    assert len(tables) == len(project_tables())


def test_no_index_repeats_another(indexes):
    seen, repeats = {}, []
    for index in indexes:
        key = (
            index["table_name"],
            tuple(index["columns"]),
            tuple(index["opclasses"]),
            index["predicate"],
        )
        if key in seen:
            repeats.append((seen[key], index["name"]))
        seen.setdefault(key, index["name"])
    assert repeats == []


def test_no_index_is_the_leading_columns_of_another(indexes):
    """A B-tree on (a, b) serves every query an index on (a) would."""
    covered = [
        (index["name"], wider["name"])
        for index in indexes
        if plain(index) and not index["is_unique"]
        for wider in indexes
        if wider is not index
        and wider["table_name"] == index["table_name"]
        and plain(wider)
        and len(wider["columns"]) > len(index["columns"])
        and wider["columns"][: len(index["columns"])] == index["columns"]
    ]
    assert covered == []


def test_pattern_ops_indexes_only_where_prefixes_are_matched(indexes):
    unused = [
        index["name"]
        for index in indexes
        if any(o.endswith("_pattern_ops") for o in index["opclasses"])
        and (index["table_name"], index["columns"][0]) not in PREFIX_MATCHED
    ]
    assert unused == []


def test_every_declared_constraint_and_index_is_in_the_database(db):
    """A migration that drops an index can take a constraint on the same column with it
    (Django's AlterField removing `db_index` drops every plain index on the column, a partial
    unique one included): the models would promise what the database no longer holds."""
    missing = []
    with connection.cursor() as cursor:
        for label in PROJECT_APPS:
            for model in apps.get_app_config(label).get_models():
                table = model._meta.db_table
                present = connection.introspection.get_constraints(cursor, table)
                declared = [*model._meta.constraints, *model._meta.indexes]
                missing += [(table, c.name) for c in declared if c.name not in present]
    assert missing == []
