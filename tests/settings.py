"""Test settings: the project's, plus a small sample flow used to prove the pieces fit."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.sample"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Login throttling stays on: failed attempts are rows in the test database, rolled back after
# each test, so the suite's many logins never add up to a lockout.
AXES_ENABLED = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}  # noqa: F405
ROOT_URLCONF = "tests.sample.api"
UNIONFLOW_PARAMETERS = {**UNIONFLOW_PARAMETERS, "tests.county_threshold": 5000}  # noqa: F405
