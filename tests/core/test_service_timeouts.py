"""The services outside the process get timeouts: kombu's default and Django's SMTP backend's
are to wait for ever on a server that accepts and does not answer (a request held by such a
broker: tests/reliability/test_faults.py; a delivery by such a mail server:
tests/notifications/test_delivery.py)."""

import json
import os
import runpy
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import OperationalError
from django.db.utils import ConnectionHandler

ROOT = Path(__file__).resolve().parents[2]


def test_the_broker_and_the_mail_server_have_the_configured_timeouts():
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CELERY_BROKER_TRANSPORT_OPTIONS, "
        "settings.BROKER_PAUSE_SECONDS, settings.EMAIL_TIMEOUT]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "BROKER_TIMEOUT_SECONDS": "4",
        "BROKER_PAUSE_SECONDS": "20",
        "EMAIL_TIMEOUT_SECONDS": "7",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    options, pause, mail = json.loads(result.stdout.strip().splitlines()[-1])
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

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    hung = ConnectionHandler({"default": {**config, "PORT": server.getsockname()[1]}})
    wrapper = hung["default"]
    outcome = []

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
    server.close()
    for conn in held:
        conn.close()
    assert outcome and 4 < outcome[0] < 15, outcome
