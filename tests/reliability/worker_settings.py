"""Settings of the Celery workers that the fault tests start: the test settings, with mail
written to files the test reads, and — when asked — a Redis visibility timeout of seconds
instead of an hour, so that a message abandoned by a killed worker comes back within the test."""

import os

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]

if os.environ.get("BROKER_VISIBILITY_TIMEOUT"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **globals().get("CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "visibility_timeout": int(os.environ["BROKER_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
