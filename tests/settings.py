"""Test settings: the project's, plus a small sample flow used to prove the pieces fit."""

import os
from pathlib import Path

# Under pytest-xdist (make test) each worker has its own test database (pytest-django) and its
# own files — cache, uploads, the filesystem broker — so that one worker's rows numbered like
# the other's never meet in a cache key or a file name.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _var = Path(os.environ.get("UNIONFLOW_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    os.environ["UNIONFLOW_VAR_DIR"] = str(_var / f"test-{os.environ['PYTEST_XDIST_WORKER']}")
    os.environ.pop("MEDIA_ROOT", None)

from project.settings import *  # noqa: E402, F403
from project.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.sample"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Login throttling stays on: failed attempts are rows in the test database, rolled back after
# each test, so the suite's many logins never add up to a lockout.
AXES_ENABLED = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}  # noqa: F405
ROOT_URLCONF = "tests.sample.api"
UNIONFLOW_PARAMETERS = {**UNIONFLOW_PARAMETERS, "tests.county_threshold": 5000}  # noqa: F405
