"""Settings of the benchmark: the project's, on a dedicated PostgreSQL database and Redis db,
plus the bare viewflow flow the engine section compares against (bench.baseline).

Celery publishes to an in-memory broker nobody consumes: the outbox rows are written in each
business transaction, as in production, but not delivered while the engine is timed."""

import os

import dj_database_url

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS, POSTGRES_OPTIONS

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unionflow_bench"
)
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
DATABASES = {
    "default": dj_database_url.parse(
        BENCH_DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60"))
    )
}
DATABASES["default"]["OPTIONS"] = dict(POSTGRES_OPTIONS)
CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": BENCH_REDIS_URL,
    }
}
# Logging in as the demo users must not dominate what is measured.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_BROKER_URL = os.environ.get("BENCH_CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
