"""A Redis broker gets socket timeouts: kombu's default is to wait for ever on a broker that
accepts and does not answer (tests/reliability/test_faults.py shows a request held by one)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_redis_broker_has_the_configured_timeouts():
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CELERY_BROKER_TRANSPORT_OPTIONS, "
        "settings.BROKER_PAUSE_SECONDS]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "BROKER_TIMEOUT_SECONDS": "4",
        "BROKER_PAUSE_SECONDS": "20",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    options, pause = json.loads(result.stdout.strip().splitlines()[-1])
    assert options == {"socket_timeout": 4.0, "socket_connect_timeout": 4.0}
    assert pause == 20.0
