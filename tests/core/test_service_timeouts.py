"""The services outside the process get timeouts: kombu's default and Django's SMTP backend's
are to wait for ever on a server that accepts and does not answer (a request held by such a
broker: tests/reliability/test_faults.py; a delivery by such a mail server:
tests/notifications/test_delivery.py)."""

import runpy
import threading
import time
from pathlib import Path

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
