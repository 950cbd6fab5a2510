"""Faults of the parts the system is made of, produced for real: a Redis broker stopped while
cases are submitted, a Celery worker killed in the middle of a delivery, PostgreSQL restarted
under load. Each test runs its own Redis / PostgreSQL / worker / web server on free loopback
ports (tests/reliability/services.py) and never touches the shared ones.

What "exactly once" means here: the broker delivers at least once (acks_late; a message whose
worker died comes back). A delivery is sent while its outbox row is locked and only while the
row is pending, so once a send has been recorded no later attempt sends it again. A worker
killed after its request reached the receiver but before the row was marked sent leaves the
row pending, and the next attempt posts again — with the same Idempotency-Key (webhooks) or
Message-ID (mail), which is how a receiver drops the repeat. The tests hold the system to
exactly that: every message arrives, each is acted on once by a receiver that dedupes by its
key, and nothing is re-sent after it was recorded as sent."""

import contextlib
import http.client
import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from approvals.models import CaseTask
from cases import trail
from cases.models import Case, CaseNumberCounter, TrailEvent
from cases.remittance import imports
from cases.remittance.models import ImportJob
from cases.remittance.tasks import requeue_imports
from notifications.channels import message_id
from notifications.models import Channel, Delivery, DeliveryStatus, WebhookEndpoint
from notifications.services import notify
from notifications.tasks import sweep_outbox
from organizations.demo import DEMO_PASSWORD, seed_demo
from organizations.models import Organization, User
from tests.conftest import celery_broker
from tests.remittance.helpers import declarations_csv

from .services import (
    CeleryWorker,
    PostgresCluster,
    RedisServer,
    SilentServer,
    WebServer,
    current_database_url,
    django_env,
    manage,
    unavailable,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


# --- services ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def mail_dir(tmp_path):
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def workers(transactional_db, redis_server, mail_dir, tmp_path):
    """workers(**env) starts a real Celery worker on the private Redis and this test's
    database (whose data the test commits); all are stopped before the database is flushed."""
    started = []

    def start(**env):
        worker = CeleryWorker(
            django_env(
                DATABASE_URL=current_database_url(),
                CELERY_BROKER_URL=redis_server.url,
                DJANGO_SETTINGS_MODULE="tests.reliability.worker_settings",
                EMAIL_FILE_PATH=mail_dir,
                OUTBOX_SWEEP_GRACE_SECONDS=0,
                UNIONFLOW_VAR_DIR=tmp_path / "var",
                **env,
            ),
            tmp_path / f"worker{len(started) + 1}.log",
        )
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.close()


def _mails(mail_dir):
    """Message-IDs of every mail the workers wrote, repeats included."""
    ids = []
    for path in Path(mail_dir).iterdir():
        ids += re.findall(r"^Message-ID: (\S+)", path.read_text(), flags=re.MULTILINE)
    return Counter(ids)


class Receiver:
    """A webhook receiver on 127.0.0.1 that acts on each Idempotency-Key once, as the
    documented contract asks of receivers. With `hold_first`, the first request waits (its
    sender's socket open) until the test lets it go."""

    def __init__(self):
        self.requests = []
        self.acted = Counter()
        self.lock = threading.Lock()
        self.hold_first = False
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.url = None

    def keys(self):
        return Counter(r["key"] for r in self.requests)


@pytest.fixture
def receiver():
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("Idempotency-Key")
            with receiver.lock:
                first = not receiver.requests
                receiver.requests.append({"key": key, "body": json.loads(body)})
            if first and receiver.hold_first:
                receiver.first_arrived.set()
                receiver.release.wait(30)
            with receiver.lock:
                if receiver.acted[key] == 0:
                    receiver.acted[key] += 1
            try:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender is gone

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _sweeps_done(worker):
    return len(re.findall(r"sweep_outbox\[[^\]]+\] succeeded", worker.log()))


def _all_sent(timeout=30):
    return wait_until(
        lambda: not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists(), timeout
    )


# --- Redis stopped while cases are submitted --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cases_submitted_while_redis_is_down_are_notified_once_it_is_back(
    redis_server, workers, receiver, mail_dir, api
):
    seed_demo()
    WebhookEndpoint.objects.create(
        organization=Organization.objects.get(name="东湖镇总工会"), name="robot", url=receiver.url
    )
    applicants = [User.objects.get(username=u) for u in ("worker1", "worker2", "chair1")]
    redis_server.stop()

    with celery_broker(redis_server.url):
        for applicant in applicants:
            started = time.monotonic()
            response = api(applicant).post(
                "/api/v1/sample-cases/", {"title": "Roof", "amount": "300.00"}, format="json"
            )
            took = time.monotonic() - started
            assert response.status_code == 201, response.json()
            # The broker's connect timeout is 2 s and the publish is retried once.
            assert took < 6, f"a submit took {took:.1f} s with the broker down"

    assert Case.objects.count() == len(applicants)
    deliveries = list(Delivery.objects.all())
    assert {d.channel for d in deliveries} == {Channel.EMAIL, Channel.WEBHOOK}
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    assert all(d.attempts == 0 for d in deliveries)

    redis_server.start()
    worker = workers()
    with celery_broker(redis_server.url):
        sweep_outbox.delay()
    assert _all_sent(), "the sweep did not send every pending delivery"

    # A second sweep (and the messages that never made it to Redis) send nothing again.
    with celery_broker(redis_server.url):
        sweep_outbox.delay()
    assert wait_until(lambda: _sweeps_done(worker) == 2, 20), worker.log()[-2000:]

    emails = [d for d in deliveries if d.channel == Channel.EMAIL]
    hooks = [d for d in deliveries if d.channel == Channel.WEBHOOK]
    assert _mails(mail_dir) == Counter({message_id(d.dedupe_key): 1 for d in emails})
    assert receiver.keys() == Counter({d.dedupe_key: 1 for d in hooks})
    assert all(d.attempts == 1 for d in Delivery.objects.all())


@pytest.fixture
def hung_broker():
    """A "Redis" that accepts connections and never answers: its URL."""
    with SilentServer() as server:
        yield f"redis://127.0.0.1:{server.port}/0"


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_hangs_holds_up_one_request_then_none(hung_broker, api, settings):
    """Without socket timeouts kombu waited for ever on such a broker, and with it every
    request that publishes after its commit. Now the first waits for the broker's timeout
    (BROKER_TIMEOUT_SECONDS, 3), the next ones not at all (BROKER_PAUSE_SECONDS): each is
    saved, its deliveries wait in the outbox for the sweep."""
    seed_demo()
    WebhookEndpoint.objects.create(
        organization=Organization.objects.get(name="东湖镇总工会"), name="robot", url="http://x/"
    )
    worker = User.objects.get(username="worker1")

    def submit():
        try:
            return api(worker).post(
                "/api/v1/sample-cases/", {"title": "Roof", "amount": "300.00"}, format="json"
            )
        finally:
            connection.close()  # the thread's own

    took = []
    with celery_broker(hung_broker, **settings.REDIS_BROKER_TRANSPORT_OPTIONS):
        for _ in range(3):
            started = time.monotonic()
            # In a thread, so that a request hanging on the broker fails the test, not CI.
            with ThreadPoolExecutor(1) as pool:
                response = pool.submit(submit).result(timeout=20)
            took.append(time.monotonic() - started)
            assert response.status_code == 201, response.json()
    timeout = settings.REDIS_BROKER_TRANSPORT_OPTIONS["socket_timeout"]
    assert timeout <= took[0] < 10, took  # the broker's timeout, retried once at most
    # The next ones did not wait for the broker: each took less than its timeout (however
    # busy the machine, which the other tests share).
    assert max(took[1:]) < timeout, took
    assert Case.objects.count() == 3
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == (
        Delivery.objects.count()
    )
    assert Delivery.objects.exists()


# --- a worker killed in the middle of a delivery ----------------------------------------------


def _one_webhook_and_one_mail(redis_url, receiver):
    """A notification with one mail (to the applicant) and one webhook post, published to the
    private Redis after commit. The mail is queued first, so the worker sends it before it
    gets stuck on the webhook."""
    seed_demo()
    union = Organization.objects.get(name="东湖机械厂工会")
    worker1 = User.objects.get(username="worker1")
    case = Case.objects.create(
        number="SP-2026-900001",
        process="sample",
        organization=union,
        applicant=worker1,
        submitted_by=worker1,
        title="Roof",
    )
    WebhookEndpoint.objects.create(organization=union, name="robot", url=receiver.url)
    receiver.hold_first = True
    with celery_broker(redis_url), transaction.atomic():
        notify(
            event=f"case:{case.pk}:approved",
            recipients=[worker1],
            verb="case_approved",
            title="已批准",
            case=case,
        )
    mail = Delivery.objects.get(channel=Channel.EMAIL)
    hook = Delivery.objects.get(channel=Channel.WEBHOOK)
    return mail, hook


def _assert_delivered_once(mail, hook, receiver, mail_dir):
    mail.refresh_from_db()
    hook.refresh_from_db()
    assert mail.status == hook.status == DeliveryStatus.SENT
    # The killed attempt reached the receiver; the attempt after it posted the same message
    # under the same key, and the receiver acted on it once.
    assert receiver.keys() == Counter({hook.dedupe_key: 2})
    assert receiver.acted == Counter({hook.dedupe_key: 1})
    first, second = (dict(r["body"]) for r in receiver.requests)
    first.pop("sent_at"), second.pop("sent_at")
    assert first == second
    assert _mails(mail_dir) == Counter({message_id(mail.dedupe_key): 1})


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_delivery_gets_the_task_redelivered(
    redis_server, workers, receiver, mail_dir
):
    """The process running the task dies (OOM killer, segfault): the worker notices, and with
    acks_late + reject_on_worker_lost the message goes back to the queue and is run again."""
    worker = workers()
    mail, hook = _one_webhook_and_one_mail(redis_server.url, receiver)
    assert receiver.first_arrived.wait(30), worker.log()[-3000:]
    [pool_process] = worker.children()
    os.kill(pool_process, signal.SIGKILL)
    receiver.release.set()

    assert _all_sent(), worker.log()[-3000:]
    assert worker.proc.poll() is None  # the worker itself survived and redelivered
    assert "WorkerLostError" in worker.log()
    _assert_delivered_once(mail, hook, receiver, mail_dir)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_leaves_the_delivery_to_the_next_worker(
    redis_server, workers, receiver, mail_dir
):
    """The whole worker dies at once (SIGKILL of its process group: a host crash): nothing
    gets to requeue. The delivery's row stays pending, the broker gives the unacknowledged
    message to the next worker after the visibility timeout, and that worker sends it."""
    env = {"BROKER_VISIBILITY_TIMEOUT": 3}
    first = workers(**env)
    mail, hook = _one_webhook_and_one_mail(redis_server.url, receiver)
    assert receiver.first_arrived.wait(30), first.log()[-3000:]

    first.kill()
    receiver.release.set()
    # The killed attempt's transaction died with it: the row is still pending, not sent.
    assert wait_until(
        lambda: Delivery.objects.filter(pk=hook.pk, status=DeliveryStatus.PENDING).exists(), 5
    )

    second = workers(**env)
    assert _all_sent(), second.log()[-3000:]
    _assert_delivered_once(mail, hook, receiver, mail_dir)

    # Later sweeps find nothing to do: no third post.
    with celery_broker(redis_server.url):
        sweep_outbox.delay()
    assert wait_until(lambda: _sweeps_done(second) == 1, 20), second.log()[-2000:]
    assert receiver.keys() == Counter({hook.dedupe_key: 2})


# --- a worker killed in the middle of an import -----------------------------------------------


def _waiting_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_the_import_to_the_next_worker(redis_server, workers):
    """The whole worker dies while declaring (SIGKILL): the import's transaction dies with it,
    nothing is declared, and the job stays marked running. The job's lock went with the worker's
    connection, so beat (here: the test, every second) queues it again, the next worker takes
    it over, and every row is declared once. Before core.jobs the job stayed running for ever."""
    seed_demo()
    env = {"BROKER_VISIBILITY_TIMEOUT": 3}
    first = workers(**env)
    year = timezone.localdate().year
    CaseNumberCounter.objects.get_or_create(prefix="JF", year=year)
    rows = [
        ["东湖机械厂工会", f"{year}-01", "100000", "120", "100"],
        ["西山食品厂工会", f"{year}-01", "55000.50", "60", "60"],
    ]
    # Someone holds the fee case numbers: the worker's import waits at its first declaration.
    holder = psycopg.connect(current_database_url())
    holder.execute(
        f"SELECT 1 FROM {CaseNumberCounter._meta.db_table}"
        " WHERE prefix = 'JF' AND year = %s FOR UPDATE",
        [year],
    )
    with celery_broker(redis_server.url):
        job = imports.start(
            user=User.objects.get(username="county_finance"), upload=declarations_csv(rows)
        )
    assert wait_until(
        lambda: (
            ImportJob.objects.filter(pk=job.pk, status="running").exists() and _waiting_for_a_lock()
        ),
        30,
    ), first.log()[-3000:]

    first.kill()
    holder.close()
    second = workers(**env)

    def beat_until_done():
        if ImportJob.objects.filter(pk=job.pk, status="done").exists():
            return True
        requeue_imports()
        return False

    with celery_broker(redis_server.url):
        assert wait_until(beat_until_done, 30, interval=1), second.log()[-3000:]
    job.refresh_from_db()
    assert job.attempts == 2 and len(job.created_cases) == len(rows)
    assert Case.objects.filter(process="remittance").count() == len(rows)
    assert "lost its worker" in second.log()


# --- PostgreSQL restarted under load ----------------------------------------------------------


# The web server's statement timeout (DB_STATEMENT_TIMEOUT_SECONDS; 20 by default).
STATEMENT_TIMEOUT = 3

_MIGRATE_AND_SEED = """
from django.core.management import call_command
from organizations.demo import seed_demo
call_command("migrate", interactive=False, verbosity=0)
seed_demo()
"""


@pytest.fixture(scope="module", autouse=True)
def _web_in_background(tmp_path_factory):
    """The web server of the PostgreSQL test — its own cluster, migrated and seeded with the
    demo data, gunicorn started and warmed up — prepared in a background thread while the
    module's other tests run, since that takes half a minute. Persistent connections
    (DB_CONN_MAX_AGE), so that a restart breaks open ones."""
    try:
        cluster = PostgresCluster()
    except pytest.skip.Exception as exc:
        yield SimpleNamespace(skipped=str(exc))  # the Redis tests can still run
        return
    tmp = tmp_path_factory.mktemp("web")
    env = django_env(
        DATABASE_URL=cluster.url("unionflow"),
        DJANGO_SETTINGS_MODULE="tests.settings",
        CELERY_BROKER_URL="memory://",
        DB_CONN_MAX_AGE=600,
        DB_STATEMENT_TIMEOUT_SECONDS=STATEMENT_TIMEOUT,
        DEBUG=None,
        UNIONFLOW_VAR_DIR=tmp / "var",
    )
    server = WebServer(env, tmp / "gunicorn.log", workers=1, threads=8)

    def prepare():
        cluster.init().start()
        cluster.createdb("unionflow")
        manage(env, "shell", "-c", _MIGRATE_AND_SEED)  # one interpreter start for both
        server.start()
        # The first request loads the whole project.
        _request(server.url, "GET", "/api/v1/me/", timeout=120)

    executor = ThreadPoolExecutor(1)
    ready = executor.submit(prepare)
    try:
        yield SimpleNamespace(
            skipped=None, ready=ready, cluster=cluster, server=server, env=env, url=server.url
        )
    finally:
        with contextlib.suppress(Exception):
            ready.result(timeout=300)
        executor.shutdown()
        server.close()
        cluster.close()


@pytest.fixture
def web(_web_in_background):
    if _web_in_background.skipped:
        unavailable(_web_in_background.skipped)
    _web_in_background.ready.result(timeout=300)
    return _web_in_background


def _request(
    base_url, method, path, *, token=None, body=None, raw_body=None, headers=None, timeout=10
):
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    all_headers = {"Accept": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Token {token}"
    payload = raw_body
    if body is not None:
        payload = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, payload, all_headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _login(base_url, username):
    """A browser's login through the form (CSRF cookie and token); returns its Cookie header."""
    host, port = base_url.removeprefix("http://").split(":")

    def call(method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.msg.get_all("Set-Cookie") or [], response.read()
        finally:
            conn.close()

    def cookies(set_cookie):
        return dict(c.split(";", 1)[0].split("=", 1) for c in set_cookie)

    _status, set_cookie, page = call("GET", "/accounts/login/")
    jar = cookies(set_cookie)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = urlencode(
        {"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token}
    )
    status, set_cookie, _body = call(
        "POST",
        "/accounts/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={jar['csrftoken']}",
        },
    )
    jar.update(cookies(set_cookie))
    assert status == 302 and "sessionid" in jar, status
    return "; ".join(f"{k}={v}" for k, v in jar.items())


class Load:
    """Clients issuing requests in a loop, each result recorded with when it started and
    ended. Submissions carry an Idempotency-Key that is kept until a 201 comes back, as a
    careful client does after an error whose outcome it cannot know."""

    def __init__(self, base_url, tokens):
        self.base_url = base_url
        self.tokens = tokens
        self.results = []
        self.created = {}  # Idempotency-Key -> case id
        self.pending_keys = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _call(self, method, path, token, body=None, headers=None):
        started = time.monotonic()
        try:
            status, response_headers, raw = _request(
                self.base_url, method, path, token=token, body=body, headers=headers
            )
            error = None
        except Exception as exc:  # noqa: BLE001  (a hang or a dropped connection is a finding)
            status, response_headers, raw, error = None, {}, b"", repr(exc)
        record = {
            "path": path,
            "started": started,
            "ended": time.monotonic(),
            "status": status,
            "headers": {k.lower(): v for k, v in response_headers.items()},
            "raw": raw,
            "error": error,
        }
        with self.lock:
            self.results.append(record)
        return record

    def submitter(self, username):
        key = uuid.uuid4().hex
        while not self.stopping.is_set():
            record = self._call(
                "POST",
                "/api/v1/sample-cases/",
                self.tokens[username],
                {"title": "Roof", "amount": "100.00"},
                {"Idempotency-Key": key},
            )
            if record["status"] == 201:
                with self.lock:
                    self.created[key] = json.loads(record["raw"])["id"]
                key = uuid.uuid4().hex
            time.sleep(0.05)
        with self.lock:
            self.pending_keys.append((username, key))

    def reader(self, username, path):
        while not self.stopping.is_set():
            self._call("GET", path, self.tokens[username])
            time.sleep(0.05)

    def page_reader(self, cookie, path):
        while not self.stopping.is_set():
            self._call("GET", path, None, headers={"Cookie": cookie, "Accept": "text/html"})
            time.sleep(0.05)

    def finish_pending(self):
        """Retry each unanswered submission with its key, as its client would."""
        for username, key in self.pending_keys:
            record = self._call(
                "POST",
                "/api/v1/sample-cases/",
                self.tokens[username],
                {"title": "Roof", "amount": "100.00"},
                {"Idempotency-Key": key},
            )
            assert record["status"] == 201, record
            self.created[key] = json.loads(record["raw"])["id"]


def _stored_cases(database_url):
    """What the database holds after the test, read directly (this process's Django talks to
    another database): each case with its first trail action, whether its chain verifies,
    its process and human task count; and the case-number counters."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        cases = conn.execute(
            f"SELECT id, number, flow_process_id FROM {Case._meta.db_table} ORDER BY id"
        ).fetchall()
        columns = [f.attname for f in TrailEvent._meta.concrete_fields if f.name != "source_ip"]
        events = conn.execute(
            f"SELECT {', '.join(columns)}, host(source_ip) AS source_ip "
            f"FROM {TrailEvent._meta.db_table} ORDER BY case_id, seq"
        ).fetchall()
        # The task table inherits viewflow's: let the ORM write the join.
        human = (
            CaseTask.objects.filter(flow_task_type="HUMAN")
            .values("case_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        tasks = conn.execute(*human.query.sql_with_params()).fetchall()
        counters = conn.execute(
            f"SELECT prefix, year, last FROM {CaseNumberCounter._meta.db_table}"
        ).fetchall()
    chains = {}
    for row in events:
        chains.setdefault(row["case_id"], []).append(TrailEvent(**row))
    human_tasks = {row["case_id"]: row["n"] for row in tasks}
    for case in cases:
        chain = chains.get(case["id"], [])
        case["first"] = chain[0].action if chain else None
        case["valid"] = trail.verify_events(chain).valid
        case["human_tasks"] = human_tasks.get(case["id"], 0)
    return cases, counters


def _is_json_error(record, status):
    return (
        record["status"] == status
        and record["headers"].get("content-type", "").startswith("application/json")
        and {"detail", "code"} <= set(json.loads(record["raw"]))
    )


def test_postgres_restarted_under_load(web):
    pg_cluster = web.cluster
    tokens = {}
    for username in ("worker1", "worker2", "chair1", "town_aid1"):
        status, _headers, raw = _request(
            web.url,
            "POST",
            "/api/v1/auth/token/",
            body={"username": username, "password": DEMO_PASSWORD},
        )
        assert status == 200, raw
        tokens[username] = json.loads(raw)["token"]

    cookie = _login(web.url, "town_aid1")
    load = Load(web.url, tokens)
    clients = [
        threading.Thread(target=load.submitter, args=("worker1",)),
        threading.Thread(target=load.submitter, args=("worker2",)),
        threading.Thread(target=load.reader, args=("chair1", "/api/v1/tasks/?view=queue")),
        threading.Thread(target=load.reader, args=("town_aid1", "/api/v1/cases/")),
        threading.Thread(target=load.page_reader, args=(cookie, "/tasks/")),
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(2)
        pg_cluster.stop("fast")
        down_since = time.monotonic()
        time.sleep(4)
        down_until = time.monotonic()
        pg_cluster.start()
        up_since = time.monotonic()

        def succeeded_after_restart():
            with load.lock:
                return any(
                    r["started"] > up_since and r["status"] in (200, 201) for r in load.results
                )

        recovered = wait_until(succeeded_after_restart, 10)
        time.sleep(3)
    finally:
        load.stopping.set()
        for client in clients:
            client.join(30)
    assert recovered, "requests did not succeed again within 10 s of the restart"
    load.finish_pending()

    results = load.results
    assert not [r for r in results if r["error"]], "requests hung or were dropped"
    api_results = [r for r in results if r["path"].startswith("/api/")]
    pages = [r for r in results if not r["path"].startswith("/api/")]
    # Nothing but success or a clean 503: the API in its JSON error format (never HTML, never
    # a bare 500), the pages a short page saying so (never a traceback).
    for r in api_results:
        assert r["headers"].get("content-type", "").startswith("application/json"), r
        assert r["status"] in (200, 201, 503), (r["status"], r["raw"][:300])
    for r in pages:
        assert r["status"] in (200, 503), (r["status"], r["raw"][:300])
        assert r["headers"].get("content-type", "").startswith("text/html"), r
    outage = [r for r in results if down_since <= r["started"] and r["ended"] <= down_until]
    assert len([r for r in outage if r in api_results]) >= 8
    assert [r for r in outage if r in pages]
    for r in outage:
        assert r["status"] == 503 and r["headers"].get("retry-after"), r
        if r in api_results:
            assert _is_json_error(r, 503), r
            assert json.loads(r["raw"])["code"] == "database_unavailable"
        else:
            assert b"Traceback" not in r["raw"] and b"<h1>" in r["raw"], r["raw"][:300]
    # Once it is back, it stays back: no request fails on a connection the restart broke.
    settled = [r for r in results if r["started"] > up_since + 1]
    assert settled and all(r["status"] in (200, 201) for r in settled), [
        (r["status"], r["raw"][:200]) for r in settled if r["status"] not in (200, 201)
    ]

    # A restart while nobody is asking: every server thread holds a connection the restart
    # breaks. The next requests must not fail on them (health checks before reuse).
    def burst():
        with ThreadPoolExecutor(16) as pool:
            return list(
                pool.map(
                    lambda _: _request(web.url, "GET", "/api/v1/me/", token=tokens["chair1"]),
                    range(32),
                )
            )

    assert {status for status, _h, _b in burst()} == {200}
    pg_cluster.stop("fast")
    pg_cluster.start()
    after = burst()
    assert [status for status, _h, _b in after] == [200] * len(after), after

    # No half-written case: each has its process, its first task and a trail that starts with
    # the submission and verifies; the number counter matches; retries created no duplicates.
    cases, counters = _stored_cases(web.cluster.url("unionflow"))
    assert cases
    for case in cases:
        assert case["first"] == "case.submitted", case
        assert case["valid"] and case["flow_process_id"] and case["human_tasks"] >= 1, case
    assert sorted(c["id"] for c in cases) == sorted(load.created.values())
    [counter] = [c for c in counters if c["prefix"] == "SP"]
    numbers = sorted(int(c["number"].rsplit("-", 1)[1]) for c in cases)
    assert numbers == list(range(1, len(cases) + 1)) and counter["last"] == len(cases)


def _token(base_url, username):
    status, _headers, raw = _request(
        base_url,
        "POST",
        "/api/v1/auth/token/",
        body={"username": username, "password": DEMO_PASSWORD},
    )
    assert status == 200, raw
    return json.loads(raw)["token"]


def test_a_request_held_by_a_stuck_transaction_is_stopped_with_a_503_and_nothing_written(web):
    """A transaction left open on a case's process row (a stuck client, a session left in a
    transaction) made every operation on that case wait for ever, each holding a web worker
    until gunicorn killed it, and the statement went on waiting in PostgreSQL. The web
    process's statements stop after DB_STATEMENT_TIMEOUT_SECONDS: the request answers 503 with
    its reason, nothing is written, and the same request succeeds once the row is free."""
    worker, chair = _token(web.url, "worker1"), _token(web.url, "chair1")
    status, _headers, raw = _request(
        web.url,
        "POST",
        "/api/v1/sample-cases/",
        token=worker,
        body={"title": "Roof", "amount": "100.00"},
    )
    assert status == 201, raw
    case_id = json.loads(raw)["id"]
    with psycopg.connect(web.cluster.url("unionflow")) as conn:
        [(task_id, process_id)] = conn.execute(
            "SELECT t.id, t.process_id FROM viewflow_task t JOIN approvals_casetask c "
            "ON c.task_ptr_id = t.id WHERE c.case_id = %s AND t.flow_task_type = 'HUMAN' "
            "AND t.status = 'NEW'",
            [case_id],
        ).fetchall()

    def trail_length():
        with psycopg.connect(web.cluster.url("unionflow")) as conn:
            return conn.execute(
                f"SELECT count(*) FROM {TrailEvent._meta.db_table} WHERE case_id = %s", [case_id]
            ).fetchone()[0]

    def assignee():
        with psycopg.connect(web.cluster.url("unionflow")) as conn:
            return conn.execute(
                "SELECT owner_id FROM viewflow_task WHERE id = %s", [task_id]
            ).fetchone()[0]

    events = trail_length()
    cookie = _login(web.url, "chair1")
    csrf = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    stuck = psycopg.connect(web.cluster.url("unionflow"))
    try:
        stuck.execute("SELECT 1 FROM viewflow_process WHERE id = %s FOR UPDATE", [process_id])
        started = time.monotonic()
        status, headers, raw = _request(
            web.url, "POST", f"/api/v1/tasks/{task_id}/claim/", token=chair, timeout=30
        )
        waited = time.monotonic() - started
        assert status == 503, raw
        body = json.loads(raw)
        assert body["code"] == "timeout" and "未做任何更改" in body["detail"], body
        assert headers.get("Retry-After")
        assert STATEMENT_TIMEOUT - 0.5 < waited < STATEMENT_TIMEOUT + 5, waited

        # The page's claim: a short page saying so, not gunicorn's kill nor a traceback.
        status, headers, raw = _request(
            web.url,
            "POST",
            "/tasks/claim/",
            body=None,
            headers={
                "Cookie": cookie,
                "Accept": "text/html",
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": csrf,
                "Referer": f"{web.url}/tasks/",
            },
            raw_body=urlencode({"task": task_id}).encode(),
            timeout=30,
        )
        assert status == 503, raw[:300]
        assert headers.get("Content-Type", "").startswith("text/html")
        assert b"Traceback" not in raw and "未做任何更改".encode() in raw, raw[:500]
        assert assignee() is None and trail_length() == events
    finally:
        stuck.rollback()
        stuck.close()

    status, _headers, raw = _request(
        web.url, "POST", f"/api/v1/tasks/{task_id}/claim/", token=chair
    )
    assert status == 200, raw
    assert assignee() is not None and trail_length() == events + 1
