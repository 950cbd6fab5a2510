"""The outbox: each delivery is sent once, retried with backoff, and nothing is lost when the
broker is down."""

import threading
import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from redis import Redis

from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.services import notify
from notifications.tasks import deliver, deliver_each, sweep_outbox
from tests.conftest import celery_broker
from tests.reliability.services import SilentServer

pytestmark = pytest.mark.django_db


def _notify(case, recipients, event="case:1:approved"):
    with transaction.atomic():
        return notify(
            event=event, recipients=recipients, verb="case_approved", title="已批准", case=case
        )


@pytest.fixture
def redis_prefix():
    """A Redis key prefix of the test's own: neither its worker nor another process on the
    same Redis takes the other's messages. Its keys are removed afterwards."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://…")
    prefix = f"unionflow-test-{uuid.uuid4().hex}:"
    yield prefix
    redis = Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(redis.scan_iter(match=f"{prefix}*"))
    if keys:
        redis.delete(*keys)
    redis.close()


def _past_grace(time_machine, seconds=1):
    grace = settings.UNIONFLOW_OUTBOX["SWEEP_GRACE_SECONDS"]
    time_machine.move_to(timezone.now() + timedelta(seconds=grace + seconds))


def _wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_an_email_is_sent_once_however_often_deliver_runs(make_case, make_user, mailoutbox):
    [pk] = _notify(make_case(), [make_user()])

    assert deliver(pk) == "sent"
    assert deliver(pk) == "skipped"

    assert len(mailoutbox) == 1
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == DeliveryStatus.SENT and delivery.sent_at is not None


def test_a_webhook_is_posted_once_however_often_deliver_runs(
    make_case, make_user, make_endpoint, webhook_receiver
):
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    [pk] = _notify(case, [make_user(email="")])

    deliver(pk)
    deliver(pk)

    assert len(webhook_receiver.requests) == 1
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.SENT


def test_a_failing_webhook_is_retried_with_backoff_then_given_up(
    make_case,
    make_user,
    make_endpoint,
    webhook_receiver,
    outbox_config,
    time_machine,
    celery_test_app,
):
    cfg = outbox_config(MAX_ATTEMPTS=4, BACKOFF_BASE_SECONDS=30, BACKOFF_MAX_SECONDS=100)
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    webhook_receiver.respond_with(*[500] * 10)
    time_machine.move_to(timezone.now(), tick=False)
    [pk] = _notify(case, [make_user(email="")])
    task = celery_test_app.tasks["notifications.tasks.deliver"]

    waits = []
    with mock.patch.object(task, "apply_async") as schedule:
        for _ in range(cfg["MAX_ATTEMPTS"]):
            deliver(pk)
            delivery = Delivery.objects.get(pk=pk)
            if delivery.status == DeliveryStatus.PENDING:
                wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
                waits.append(wait)
                # Not due yet: an early run (a duplicate message, the sweep) sends nothing.
                assert deliver(pk) == "skipped"
                time_machine.shift(timedelta(seconds=wait))

    assert waits == [30, 60, 100]  # doubling, capped
    assert [c.kwargs["countdown"] for c in schedule.call_args_list] == [30, 60, 100]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 4
    assert "500" in delivery.last_error
    assert len(webhook_receiver.requests) == 4

    time_machine.shift(timedelta(hours=2))
    assert sweep_outbox() == 0
    assert len(webhook_receiver.requests) == 4


def test_a_success_after_a_failure_is_sent_once(
    make_case, make_user, make_endpoint, webhook_receiver, time_machine
):
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    webhook_receiver.respond_with(503)
    [pk] = _notify(case, [make_user(email="")])

    assert deliver(pk) == "retry"
    time_machine.move_to(Delivery.objects.get(pk=pk).next_attempt_at + timedelta(seconds=1))
    assert deliver(pk) == "sent"
    assert deliver(pk) == "skipped"
    assert sweep_outbox() == 0

    assert len(webhook_receiver.requests) == 2  # the failed try and the one success
    delivery = Delivery.objects.get(pk=pk)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


def test_an_unreachable_webhook_counts_as_a_failure(make_case, make_user, make_endpoint):
    case = make_case()
    make_endpoint(case.organization, "http://127.0.0.1:1/hook")  # nothing listens there
    [pk] = _notify(case, [make_user(email="")])

    assert deliver(pk) == "retry"
    assert Delivery.objects.get(pk=pk).last_error


@pytest.mark.django_db(transaction=True)
def test_a_broker_down_at_commit_loses_nothing_and_the_sweep_sends_once(
    make_case, make_user, make_endpoint, webhook_receiver, mailoutbox, time_machine, caplog
):
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    member = make_user()

    # A closed port; and a real commit, so the after-commit publish really fails.
    with celery_broker("redis://127.0.0.1:1/0"), transaction.atomic():
        ids = notify(
            event="case:1:approved",
            recipients=[member],
            verb="case_approved",
            title="已批准",
            case=case,
        )

    # The publish really failed (and was only logged); the business transaction committed
    # and the deliveries wait in the outbox.
    assert "Could not queue 2 outbox deliveries; the sweep will." in caplog.text
    assert Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).count() == 2
    assert mailoutbox == [] and webhook_receiver.requests == []
    # Fresh rows are left to the after-commit path for a while.
    assert sweep_outbox() == 0

    _past_grace(time_machine)
    assert sweep_outbox() == 2
    assert sweep_outbox() == 0

    assert len(mailoutbox) == 1
    assert len(webhook_receiver.requests) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_after_commit_the_delivery_is_sent_without_calling_deliver(
    make_case, make_user, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [pk] = _notify(make_case(), [make_user()])

    assert len(mailoutbox) == 1
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.SENT


def _published(app):
    """(task name, args) of every message waiting in the in-memory broker's queue."""
    messages = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.conf.task_default_queue)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            messages.append((message.headers["task"], message.decode()[0]))
            message.ack()
        queue.close()
    return messages


def test_an_operations_deliveries_leave_as_one_message_a_worker_fans_out(
    make_case, make_user, make_endpoint, celery_test_app, django_capture_on_commit_callbacks
):
    _published(celery_test_app)  # the in-memory broker keeps what earlier tests published
    case = make_case()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")
    with django_capture_on_commit_callbacks(execute=True):
        ids = _notify(case, [make_user(), make_user()])
    assert len(ids) == 3  # an email to each, one webhook for the event
    assert _published(celery_test_app) == [("notifications.tasks.deliver_each", [ids])]

    # The worker's side: one `deliver` message per delivery.
    deliver_each(ids)
    assert sorted(_published(celery_test_app)) == sorted(
        ("notifications.tasks.deliver", [pk]) for pk in ids
    )

    # A single delivery goes straight to `deliver`.
    with django_capture_on_commit_callbacks(execute=True):
        [pk] = _notify(case, [make_user(email="")], event="case:1:other")
    assert ("notifications.tasks.deliver", [pk]) in _published(celery_test_app)


def test_a_fan_out_with_the_broker_down_leaves_the_deliveries_to_the_sweep(
    make_case, make_user, mailoutbox, caplog, time_machine
):
    ids = _notify(make_case(), [make_user(), make_user()])
    with celery_broker("redis://127.0.0.1:1/0"):
        deliver_each(ids)
    assert "Could not publish 2 outbox deliveries; the sweep will send them." in caplog.text
    assert Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).count() == 2

    _past_grace(time_machine)
    assert sweep_outbox() == 2
    assert len(mailoutbox) == 2


def test_admin_retry_now_gives_a_failed_delivery_another_round(
    make_case,
    make_user,
    make_endpoint,
    webhook_receiver,
    outbox_config,
    admin_client,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    outbox_config(MAX_ATTEMPTS=1)
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    webhook_receiver.respond_with(500)
    [pk] = _notify(case, [make_user(email="")])
    deliver(pk)
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:notifications_delivery_changelist"),
            {"action": "retry_now", "_selected_action": [pk]},
        )

    assert response.status_code == 302
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.SENT
    assert len(webhook_receiver.requests) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_once(
    make_case, make_user, make_endpoint, webhook_receiver, time_machine
):
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)
    [pk] = _notify(case, [make_user(email="")])
    _past_grace(time_machine)  # so the sweep competes too
    webhook_receiver.delay = 0.5  # keep the row locked while the others arrive
    start = threading.Barrier(3)

    def run(job):
        try:
            start.wait()
            job()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(job,))
        for job in (lambda: deliver(pk), lambda: deliver(pk), sweep_outbox)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert len(webhook_receiver.requests) == 1
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_after_commit(
    make_case, make_user, make_endpoint, webhook_receiver, mailoutbox, redis_prefix
):
    case = make_case()
    make_endpoint(case.organization, webhook_receiver.url)

    with (
        celery_broker(settings.CELERY_BROKER_URL, global_keyprefix=redis_prefix) as app,
        start_worker(app, perform_ping_check=False, shutdown_timeout=30),
    ):
        with transaction.atomic():
            notify(
                event="case:1:approved",
                recipients=[make_user()],
                verb="case_approved",
                title="已批准",
                case=case,
            )
        assert _wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2)

    assert len(mailoutbox) == 1
    assert len(webhook_receiver.requests) == 1
    assert set(Delivery.objects.values_list("channel", flat=True)) == {
        Channel.EMAIL,
        Channel.WEBHOOK,
    }


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-send: nothing catches it, the transaction that
    was recording the attempt rolls back, and Celery (acks_late) redelivers the message."""


def test_a_message_that_kills_every_worker_is_given_up(
    make_case, make_user, outbox_config, mailoutbox
):
    outbox_config(MAX_ATTEMPTS=3)
    [pk] = _notify(make_case(), [make_user()])

    with mock.patch("notifications.channels.send", side_effect=WorkerKilled):
        for _redelivery in range(3):
            with pytest.raises(WorkerKilled):
                deliver(pk)
            assert Delivery.objects.get(pk=pk).attempts == 0  # the attempt rolled back
        # The fourth delivery of the message does not send again: it gives up, once.
        assert deliver(pk) == "failed"
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == DeliveryStatus.FAILED
    assert "stopped during 3 sending attempts" in delivery.last_error
    assert deliver(pk) == "skipped"
    assert mailoutbox == []


def test_a_worker_killed_once_still_leaves_the_delivery_to_the_next(
    make_case, make_user, outbox_config, mailoutbox
):
    outbox_config(MAX_ATTEMPTS=3)
    [pk] = _notify(make_case(), [make_user()])
    with (
        mock.patch("notifications.channels.send", side_effect=WorkerKilled),
        pytest.raises(WorkerKilled),
    ):
        deliver(pk)
    assert deliver(pk) == "sent"
    assert len(mailoutbox) == 1


def test_retry_now_forgets_the_killed_starts(make_case, make_user, outbox_config, mailoutbox):
    from notifications.services import retry_deliveries

    outbox_config(MAX_ATTEMPTS=1)
    [pk] = _notify(make_case(), [make_user()])
    with (
        mock.patch("notifications.channels.send", side_effect=WorkerKilled),
        pytest.raises(WorkerKilled),
    ):
        deliver(pk)
    assert deliver(pk) == "failed"

    assert retry_deliveries(delivery_ids=[pk]) == 1
    assert deliver(pk) == "sent"
    assert len(mailoutbox) == 1


@pytest.fixture
def hung_mail_server():
    """A mail server that accepts connections and never greets: its port."""
    with SilentServer() as server:
        yield server.port


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_does_not_answer_is_given_up_on_and_retried(
    make_case, make_user, hung_mail_server, settings
):
    """Django's SMTP backend waited for ever on it, holding the worker's process (and the
    delivery's row): EMAIL_TIMEOUT_SECONDS (10) ends the attempt, and the delivery waits for
    its next one."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hung_mail_server
    settings.EMAIL_TIMEOUT = 1
    [pk] = _notify(make_case(), [make_user()])
    outcome = []

    # In a thread, so that a hanging attempt fails the test rather than stalling the suite.
    def send():
        try:
            outcome.append(deliver(pk))
        finally:
            connection.close()  # the thread's own

    attempt = threading.Thread(target=send, daemon=True)
    attempt.start()
    attempt.join(15)
    assert outcome == ["retry"]
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "timed out" in delivery.last_error
