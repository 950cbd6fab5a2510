"""The services outside the process get timeouts: kombu's default and Django's SMTP backend's
are to wait for ever on a server that accepts and does not answer (a request held by such a
broker: tests/reliability/test_faults.py; a delivery by such a mail server:
tests/notifications/test_delivery.py)."""

import os
import runpy
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from tests.helpers import settings_under
from tests.reliability.services import SilentServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_broker_and_the_mail_server_have_the_configured_timeouts():
    options, pause, mail = settings_under(
        {
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "BROKER_TIMEOUT_SECONDS": "4",
            "BROKER_PAUSE_SECONDS": "20",
            "EMAIL_TIMEOUT_SECONDS": "7",
        },
        "[settings.CELERY_BROKER_TRANSPORT_OPTIONS, settings.BROKER_PAUSE_SECONDS, "
        "settings.EMAIL_TIMEOUT]",
    )
    assert options == {"socket_timeout": 4.0, "socket_connect_timeout": 4.0}
    assert pause == 20.0 and mail == 7.0


def test_a_database_host_that_does_not_answer_fails_the_connection_in_seconds(
    monkeypatch, tmp_path, django_db_blocker
):
    """libpq waited as long as the system's TCP (about two minutes) for a server that accepts
    and never answers; DB_CONNECT_TIMEOUT_SECONDS (5) ends it, and the request gets its 503."""
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unionflow")
    config = runpy.run_path(str(ROOT / "project" / "settings.py"))["DATABASES"]["default"]
    assert config["OPTIONS"]["connect_timeout"] == 5

    outcome = []
    with SilentServer() as server:
        hung = ConnectionHandler({"default": {**config, "PORT": server.port}})
        wrapper = hung["default"]

        def connect():
            started = time.monotonic()
            try:
                wrapper.ensure_connection()
            except OperationalError:
                outcome.append(time.monotonic() - started)

        # In a thread, so that a connection waiting for ever fails the test, not the suite.
        attempt = threading.Thread(target=connect, daemon=True)
        with django_db_blocker.unblock():  # a connection of its own, to no test database
            attempt.start()
            attempt.join(30)
    assert outcome and 4 < outcome[0] < 15, outcome


def _database_options(monkeypatch, tmp_path, **env):
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unionflow")
    for name in ("UNIONFLOW_WEB_PROCESS", "DB_STATEMENT_TIMEOUT_SECONDS", "DB_PREPARE_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(ROOT / "project" / "settings.py"))["DATABASES"]["default"]
    return config["OPTIONS"].get("options", "")


def test_web_processes_stop_a_statement_after_the_configured_seconds(monkeypatch, tmp_path):
    """project.wsgi marks a web process; its connections carry the statement timeout (20 s by
    default, below gunicorn's 30 s), next to the plan setting or alone when statements are not
    prepared (DB_PREPARE_THRESHOLD=off)."""
    web = {"UNIONFLOW_WEB_PROCESS": "1"}
    assert _database_options(monkeypatch, tmp_path, **web) == (
        "-c plan_cache_mode=force_custom_plan -c statement_timeout=20000"
    )
    assert _database_options(
        monkeypatch, tmp_path, **web, DB_STATEMENT_TIMEOUT_SECONDS="7", DB_PREPARE_THRESHOLD="off"
    ) == ("-c statement_timeout=7000")
    assert "statement_timeout" not in _database_options(
        monkeypatch, tmp_path, **web, DB_STATEMENT_TIMEOUT_SECONDS="0"
    )
    with pytest.raises(ImproperlyConfigured, match="DB_STATEMENT_TIMEOUT_SECONDS"):
        _database_options(monkeypatch, tmp_path, **web, DB_STATEMENT_TIMEOUT_SECONDS="20s")


def test_workers_and_commands_have_no_statement_timeout(monkeypatch, tmp_path):
    """Exports, imports, the nightly verification and migrations run long statements on purpose."""
    assert "statement_timeout" not in _database_options(
        monkeypatch, tmp_path, DB_STATEMENT_TIMEOUT_SECONDS="7"
    )


def test_the_wsgi_module_marks_its_process_as_a_web_process():
    env = {k: v for k, v in os.environ.items() if k != "UNIONFLOW_WEB_PROCESS"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, project.wsgi; print(os.environ.get('UNIONFLOW_WEB_PROCESS'))",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1"
