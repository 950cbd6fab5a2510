"""On PostgreSQL a statement the app runs again and again is prepared on its connection, so the
server plans it once; DB_PREPARE_THRESHOLD sets after how many runs, or turns it off."""

import runpy
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from approvals import services
from core import plans
from tests.helpers import open_task, submit_sample

SETTINGS_FILE = Path(settings.BASE_DIR) / "project" / "settings.py"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/unionflow"


def database_options(monkeypatch, tmp_path, value):
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    if value is None:
        monkeypatch.delenv("DB_PREPARE_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("DB_PREPARE_THRESHOLD", value)
    return runpy.run_path(str(SETTINGS_FILE))["DATABASES"]["default"].get("OPTIONS", {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 5),
        ("", 5),
        (" 2 ", 2),
        ("0", 0),
        ("off", None),
        ("OFF", None),
    ],
)
def test_the_threshold_comes_from_the_environment(monkeypatch, tmp_path, value, expected):
    options = database_options(monkeypatch, tmp_path, value)
    if expected is None:
        assert options == {"connect_timeout": 5}
    else:
        assert options == {
            "server_side_binding": True,
            "prepare_threshold": expected,
            "options": "-c plan_cache_mode=force_custom_plan",
            "connect_timeout": 5,
        }


@pytest.mark.parametrize("value", ["-1", "five", "2.5", "on"])
def test_a_threshold_that_is_not_a_whole_number_refuses_to_start(monkeypatch, tmp_path, value):
    with pytest.raises(ImproperlyConfigured, match="DB_PREPARE_THRESHOLD must be a whole number"):
        database_options(monkeypatch, tmp_path, value)


def test_sqlite_gets_no_postgresql_options(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    options = runpy.run_path(str(SETTINGS_FILE))["DATABASES"]["default"]["OPTIONS"]
    assert "server_side_binding" not in options and "prepare_threshold" not in options


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_task_list_read_again_and_again_is_planned_once(demo, api):
    """(With DB_PREPARE_THRESHOLD=off nothing may be prepared: a pooler would lose it.)"""
    submit_sample(demo.worker1)
    chair = api(demo.chair1)
    threshold = settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold")
    for _ in range(6 if threshold is None else threshold + 1):
        assert chair.get("/api/v1/tasks/?view=queue").json()["count"] == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql AND statement LIKE %s",
            ["%approvals_casetask%"],
        )
        prepared = cursor.fetchone()[0]
    assert (prepared == 0) if threshold is None else (prepared >= 1)


def _plan_cache_mode():
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return cursor.fetchone()[0]


def _join_collapse_limit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW join_collapse_limit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_plans_fit_the_values_except_where_a_task_operation_reuses_them(demo):
    """A report's plan must fit its period (a generic plan made a year's summary 9 times
    slower); an operation on a task, which finds its rows by key, may reuse one plan, for
    its own transaction only."""
    if not plans.enabled():
        pytest.skip("prepared statements are off (DB_PREPARE_THRESHOLD=off)")
    assert _plan_cache_mode() == "force_custom_plan"
    assert _join_collapse_limit() == "8"  # PostgreSQL's default: it searches the join orders
    with transaction.atomic():
        plans.generic_plans()
        assert _plan_cache_mode() == "auto"
        assert _join_collapse_limit() == "1"
    assert _plan_cache_mode() == "force_custom_plan"
    assert _join_collapse_limit() == "8"

    task = open_task(submit_sample(demo.worker1))
    chair = demo.chair1
    with CaptureQueriesContext(connection) as ctx:
        services.claim(task_id=task.pk, user=chair)
    statements = [q["sql"] for q in ctx.captured_queries]
    reuse = next(i for i, sql in enumerate(statements) if "set_config('plan_cache_mode'" in sql)
    # Under the process lock: the statement that takes it sets the plans too.
    assert "FOR UPDATE" in statements[reuse]
    # The operation's first statement: the task found, the lock taken, the plans set.
    assert statements[:reuse] == ["BEGIN"]
    assert _plan_cache_mode() == "force_custom_plan"
