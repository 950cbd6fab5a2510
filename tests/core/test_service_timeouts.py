"""The services outside the process get timeouts: kombu's default and Django's SMTP backend's
are to wait for ever on a server that accepts and does not answer (a request held by such a
broker: tests/reliability/test_faults.py; a delivery by such a mail server:
tests/notifications/test_delivery.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
