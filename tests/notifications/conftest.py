"""Fixtures of the notifications tests: a small union tree with a case, users, webhook
endpoints, a real HTTP receiver on 127.0.0.1, and Celery pointed at a broker of the test's
choosing (in-process memory by default, so no test leaves messages in a real queue).

The Celery broker fixtures (`celery_broker`, `celery_test_app`) live in tests/conftest.py."""

import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from cases.models import Case
from notifications.models import WebhookEndpoint
from organizations.models import Organization, User

_numbers = itertools.count(1)


@pytest.fixture
def eager_celery(celery_test_app):
    """Run published tasks inline: after commit, deliveries are sent at once."""
    celery_test_app.conf.task_always_eager = True
    return celery_test_app


@pytest.fixture
def outbox_config(settings):
    """outbox_config(KEY=value, …) changes UNIONFLOW_OUTBOX for the test."""

    def change(**values):
        settings.UNIONFLOW_OUTBOX = {**settings.UNIONFLOW_OUTBOX, **values}
        return settings.UNIONFLOW_OUTBOX

    return change


@pytest.fixture
def tree(db):
    """county ─┬─ town ── grassroots
    └─ other_town"""
    add = Organization.objects.add_child
    county = Organization.objects.add_root({"name": "县总工会", "kind": "county"})
    town = add(county, {"name": "城关镇总工会", "kind": "town"})
    grassroots = add(town, {"name": "某公司工会", "kind": "grassroots"})
    other_town = add(
        Organization.objects.get(pk=county.pk), {"name": "河西镇总工会", "kind": "town"}
    )
    return SimpleNamespace(
        county=Organization.objects.get(pk=county.pk),
        town=Organization.objects.get(pk=town.pk),
        grassroots=grassroots,
        other_town=other_town,
    )


@pytest.fixture
def make_user(db):
    def make(username=None, *, email="default", **fields):
        username = username or f"user{next(_numbers)}"
        if email == "default":
            email = f"{username}@example.org"
        return User.objects.create_user(username=username, email=email, **fields)

    return make


@pytest.fixture
def make_case(tree, make_user):
    def make(organization=None, applicant=None):
        applicant = applicant or make_user()
        return Case.objects.create(
            number=f"KN-2026-{next(_numbers):06d}",
            process="hardship",
            title="住院医疗费困难补助",
            organization=organization or tree.grassroots,
            applicant=applicant,
            submitted_by=applicant,
        )

    return make


@pytest.fixture
def make_endpoint(db):
    def make(organization, url, **fields):
        fields.setdefault("name", f"robot {next(_numbers)}")
        return WebhookEndpoint.objects.create(organization=organization, url=url, **fields)

    return make


class WebhookReceiver:
    """What a real HTTP server on 127.0.0.1 received, and what it answers."""

    def __init__(self):
        self.requests = []
        self.statuses = deque()  # answered in order; 200 when empty
        self.delay = 0.0  # seconds to think before answering
        self.lock = threading.Lock()
        self.url = None

    def respond_with(self, *statuses):
        self.statuses.extend(statuses)

    def json(self, index=0):
        return json.loads(self.requests[index].body)

    def wait_for(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.requests)


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.requests.append(
                    SimpleNamespace(path=self.path, headers=dict(self.headers), body=body)
                )
                status = receiver.statuses.popleft() if receiver.statuses else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)
