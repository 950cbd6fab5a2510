import os
import threading
from contextlib import contextmanager

import pytest
from celery import Celery
from celery.contrib.testing.app import setup_default_app
from django.conf import settings
from rest_framework.test import APIClient

from organizations.demo import seed_demo
from organizations.models import Organization, User


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` skip on SQLite — except in CI, which must run them."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    if os.environ.get("UNIONFLOW_REQUIRE_POSTGRES"):
        raise pytest.UsageError(
            "UNIONFLOW_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL"
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _end_the_connections_tests_left_open(django_db_setup, django_db_blocker):
    """A thread a test started, or Playwright's event loop (tests/e2e), can leave a connection
    of its own open to the test database — Django closes only the test thread's. Ended here,
    before pytest-django drops the database, which it could not do while they are open."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def demo(db):
    """The demo tree and users of `manage.py seed_demo`."""
    seed_demo()
    return Demo()


class Demo:
    def user(self, username):
        return User.objects.get(username=username)

    def org(self, name):
        return Organization.objects.get(name=name)

    def __getattr__(self, username):
        return self.user(username)


@pytest.fixture
def api():
    """api(user) → an APIClient authenticated as that user (token auth, as a real client)."""
    from rest_framework.authtoken.models import Token

    def make(user=None):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@contextmanager
def celery_broker(url, **transport_options):
    """Run the block with a throwaway Celery app, configured like the project's but talking
    to `url`, as the current and default app. The project's tasks are shared tasks, so
    `deliver.delay()` resolves to this app. Celery's own `setup_default_app` puts the
    previous current/default app back and closes this one (its connection pool) afterwards."""
    app = Celery("unionflow-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    options = {**getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}), **transport_options}
    # broker_url itself would lose to the CELERY_BROKER_URL environment variable.
    app.conf.update(
        broker_read_url=url,
        broker_write_url=url,
        broker_transport_options=options,
        worker_hijack_root_logger=False,
    )
    # Register every app's tasks now, so a task looked up by name (or a shared task's proxy)
    # resolves whichever test imported its module first.
    app.autodiscover_tasks(lambda: settings.INSTALLED_APPS, force=True)
    with setup_default_app(app):
        app.set_default()
        app.set_current()
        yield app


@pytest.fixture(autouse=True)
def celery_test_app():
    """Every test publishes to an in-memory broker nobody consumes (after-commit callbacks
    run in many tests), unless it sets up its own; and none inherits an earlier test's pause
    after a failed publish (core.queue)."""
    from core import queue

    queue._paused_until = 0.0
    with celery_broker("memory://") as app:
        yield app


@pytest.fixture(autouse=True)
def _trails_stay_valid(request):
    """After every database test, every case's trail still verifies: each operation must leave
    a well-chained event. Tests that tamper with a trail on purpose are marked `tampers_trail`."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = "db" in request.fixturenames or (marker and not marker.kwargs.get("transaction"))
    if not uses_db or request.node.get_closest_marker("tampers_trail"):
        yield
        return
    request.getfixturevalue("db")
    yield
    from cases import trail
    from cases.models import Case

    broken = {c.number: trail.verify(c).broken_at for c in Case.objects.all()}
    broken = {number: seq for number, seq in broken.items() if seq is not None}
    assert not broken, f"trail chains broken (case: first bad event): {broken}"


@pytest.fixture(autouse=True)
def _may_take_agrees_with_the_queue(monkeypatch):
    """`approvals.selectors.may_take` decides on one task what `queue(user)` decides in SQL.
    Every time a test claims, decides or shows a task, the queue is asked as well, and the two
    must agree: the suite's situations (delegations, own cases, separation of duties,
    countersign rounds) are the check. The queue's query is kept out of query counts."""
    from django.db import connection

    from approvals import selectors

    decide = selectors.may_take

    def checked(user, task):
        answer = decide(user, task)
        if threading.current_thread() is not threading.main_thread():
            # A race's requests read the task while another request commits: the task in
            # hand and the queue's later read may rightly differ.
            return answer
        counting, connection.force_debug_cursor = connection.force_debug_cursor, False
        try:
            expected = selectors.queue(user).filter(pk=task.pk).exists()
        finally:
            connection.force_debug_cursor = counting
        assert answer == expected, (
            f"may_take({user.username}, task {task.pk}) is {answer}; the queue says {expected}"
        )
        return answer

    monkeypatch.setattr(selectors, "may_take", checked)


@pytest.fixture
def browser_client(client):
    """The pages' client, signed in as the given user: `browser_client(demo.chair1).get(…)`."""

    def login(user):
        client.force_login(user)
        return client

    return login
