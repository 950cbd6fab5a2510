"""Writes of the notifications app: `notify` (inbox + outbox, inside the caller's transaction),
marking as read, and the outbox machinery (one delivery attempt, the sweep, admin retry).

Delivery guarantees: a Delivery row is committed with the business change or not at all; it is
published to Celery after commit, and the periodic sweep resends whatever is still pending (a
broker that was down, a lost message). A row is locked while it is being sent and only a pending
row is sent, so concurrent or repeated runs send it once. The one window left is a crash
between a successful send and the commit that marks it sent; receivers can drop such a repeat
by the Message-ID / Idempotency-Key, which is the same on every attempt."""

import contextvars
import functools
import logging
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.constants import OnConflict
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import memo, queue
from core.errors import NotFound
from core.i18n import reader_language

from . import channels
from .models import Channel, Delivery, DeliveryStatus, Notification, WebhookEndpoint

logger = logging.getLogger(__name__)

EVENT_MAX_LENGTH = Notification._meta.get_field("event").max_length


def outbox_settings():
    return settings.UNIONFLOW_OUTBOX


def dedupe_key(event, channel, target_id):
    return f"{event}|{channel}|{target_id}"


# --- notify -----------------------------------------------------------------------------------


def notify(*, event, recipients, verb, title, body="", case=None, data=None):
    """Tell `recipients` (users) about `event`: an inbox row each, an email each (when the user
    has an address), and one post per active webhook endpoint covering the case's organization.

    `event` is a stable ASCII key of the domain event (e.g. "case:12:approved"); calling again
    with the same key adds nothing for users and endpoints already notified. Must be called
    inside the business transaction: the rows commit or roll back with it, and sending starts
    after commit. Returns the Delivery ids created; inside `batched()` the rows are written when
    the batch ends, and None is returned.

    `title` and `body` are put into words in each reader's language (core.i18n): pass
    `deferred(gettext_lazy("…"), {…})`, not text already translated for whoever acts."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify() must run inside the business transaction (atomic block).")
    if not event or not event.isascii() or len(event) > EVENT_MAX_LENGTH:
        raise ValueError(f"event must be 1-{EVENT_MAX_LENGTH} ASCII characters: {event!r}")

    users = list({u.pk: u for u in recipients if u is not None and u.is_active}.values())
    data = data or {}
    now = timezone.now()
    words = _Words(title, body)

    notifications = []
    deliveries = []
    for u in users:
        u_title, u_body = words.read_by(u)
        notifications.append(
            Notification(
                recipient=u,
                case=case,
                event=event,
                verb=verb,
                title=u_title,
                body=u_body,
                data=data,
                created_at=now,
            )
        )
        if u.email:
            with translation.override(reader_language(u)):
                payload = _email_payload(u, u_title, u_body, case, data)
            deliveries.append(
                Delivery(
                    event=event,
                    channel=Channel.EMAIL,
                    recipient=u,
                    dedupe_key=dedupe_key(event, Channel.EMAIL, u.pk),
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    if case is not None:
        # Read by machines: in the site's language.
        webhook_title, webhook_body = words.read_in(settings.LANGUAGE_CODE)
        webhook_payload = _webhook_payload(event, verb, webhook_title, webhook_body, case, data)
        deliveries += [
            Delivery(
                event=event,
                channel=Channel.WEBHOOK,
                endpoint=endpoint,
                dedupe_key=dedupe_key(event, Channel.WEBHOOK, endpoint.pk),
                payload=webhook_payload,
                created_at=now,
                next_attempt_at=now,
            )
            for endpoint in endpoints_covering(case.organization)
        ]
    batch = _batch.get()
    if batch is not None:
        batch.add(notifications, deliveries)
        return None
    return _write(notifications, deliveries)


class _Words:
    """A notification's title and body, put into words once per language among its readers
    (they may be lazy: core.i18n.deferred, gettext_lazy)."""

    TITLE_MAX = Notification._meta.get_field("title").max_length

    def __init__(self, title, body):
        self.title, self.body = title, body
        self.cache = {}

    def read_in(self, language):
        if language not in self.cache:
            with translation.override(language):
                self.cache[language] = (str(self.title)[: self.TITLE_MAX], str(self.body))
        return self.cache[language]

    def read_by(self, user):
        return self.read_in(reader_language(user))


def _write(notifications, deliveries):
    """Insert the inbox rows and the deliveries (what is there already is skipped), and hand the
    new deliveries to Celery after commit; returns their ids."""
    if notifications and deliveries and connection.vendor == "postgresql":
        ids = _insert_both(notifications, deliveries)
    else:
        Notification.objects.bulk_create(
            notifications,
            ignore_conflicts=True,  # the repeat of an event is a no-op, also under a race
        )
        if not deliveries:
            return []
        ids = _insert_new(deliveries)
    if not ids:
        return []
    # robust: a broker that is down must not turn a committed change into an error; the
    # rows stay pending and the sweep sends them.
    transaction.on_commit(functools.partial(enqueue, ids), robust=True)
    return ids


class _Batch:
    """The notifications of one operation, written together when it ends. Each carries a no-op
    on-commit marker registered when it was made: Django drops the marker when a savepoint
    around the notify() rolls back, and the flush leaves out what such a rollback undid (as
    cases.trail does for the heads it remembers)."""

    def __init__(self, connection):
        self.connection = connection
        self.entries = []

    def add(self, notifications, deliveries):
        def marker():
            pass

        self.connection.on_commit(marker)
        self.entries.append((marker, notifications, deliveries))

    def flush(self):
        markers = {id(func) for _sids, func, _robust in self.connection.run_on_commit}
        kept = [(n, d) for marker, n, d in self.entries if id(marker) in markers]
        self.entries = []
        notifications = [row for n, _d in kept for row in n]
        deliveries = [row for _n, d in kept for row in d]
        if notifications or deliveries:
            _write(notifications, deliveries)


_batch = contextvars.ContextVar("notify_batch", default=None)


@contextmanager
def batched():
    """Within a transaction: collect what notify() writes until the block ends, then write it in
    two statements (the inbox rows, the deliveries) instead of two per notify(). Nothing is
    written if the block raises. A nested batched() joins the outer one."""
    if _batch.get() is not None:
        yield
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("batched() must run inside the business transaction (atomic block).")
    batch = _Batch(connection)
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    batch.flush()


def _insert_new(deliveries):
    """Insert the deliveries whose dedupe key is not taken yet, in one statement
    (`INSERT … ON CONFLICT DO NOTHING RETURNING id`: a repeated event, also one notified
    concurrently, adds nothing); returns the new rows' ids. bulk_create(ignore_conflicts=True)
    would not return them, hence its lower-level insert."""
    opts = Delivery._meta
    fields = [f for f in opts.concrete_fields if f is not opts.auto_field]
    rows = Delivery.objects._insert(
        deliveries,
        fields=fields,
        returning_fields=[opts.pk],
        on_conflict=OnConflict.IGNORE,
    )
    return [row[0] for row in rows if row]  # a single row that conflicted reads back None


def _insert_statement(model, rows, *, returning):
    """The ORM's `INSERT … ON CONFLICT DO NOTHING` of `rows` (one statement: PostgreSQL takes
    the rows as arrays), with its parameters; `returning`: the new rows' ids come back."""
    opts = model._meta
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values([f for f in opts.concrete_fields if f is not opts.auto_field], rows)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [opts.pk] if returning else None
    [(sql, params)] = compiler.as_sql()
    return sql, params


def _insert_both(notifications, deliveries):
    """The inbox rows and the deliveries in one statement, the first insert a WITH query of
    the second (each skips what is there already, as `_write` does in two); returns the new
    deliveries' ids."""
    inbox_sql, inbox_params = _insert_statement(Notification, notifications, returning=False)
    outbox_sql, outbox_params = _insert_statement(Delivery, deliveries, returning=True)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(f"WITH inbox AS ({inbox_sql}) {outbox_sql}", [*inbox_params, *outbox_params])
        return [row[0] for row in cursor.fetchall()]


def endpoints_covering(organization):
    """Active endpoints of the organization itself, and of its ancestors that asked for the
    events of their subtree (read once per operation)."""
    return memo.configuration(
        ("webhook_endpoints", organization.pk), lambda: _endpoints_covering(organization)
    )


def _endpoints_covering(organization):
    steplen = organization.steplen
    ancestor_paths = [
        organization.path[:i] for i in range(steplen, len(organization.path), steplen)
    ]
    return list(
        WebhookEndpoint.objects.filter(is_active=True).filter(
            Q(organization_id=organization.pk)
            | Q(include_descendants=True, organization__path__in=ancestor_paths)
        )
    )


def _email_payload(user, title, body, case, data=None):
    subject = " ".join(title.split())  # a header: no line breaks
    text = body or title
    if case is not None:
        if case.number not in subject:
            subject = f"[{case.number}] {subject}"
        text += "\n\n" + _("Case: %(number)s") % {"number": case.number}
        if settings.SITE_URL:  # where the reader acts: the task, else the case
            task = (data or {}).get("task")
            path = f"/tasks/{task}/" if task else f"/cases/{case.pk}/"
            text += "\n" + settings.SITE_URL.rstrip("/") + path
    return {"to": [user.email], "subject": subject, "body": text}


def _webhook_payload(event, verb, title, body, case, data):
    return {
        "event": event,
        "verb": verb,
        "title": title,
        "body": body,
        "case": {"id": case.pk, "number": case.number} if case is not None else None,
        "data": data,
    }


def enqueue(delivery_ids):
    """Hand an operation's deliveries to Celery, after its commit. One delivery is one
    `deliver` message; several are one `deliver_each` message that a worker fans out, so the
    officer's request publishes once (each publish to Redis costs about a millisecond) and
    every delivery is still its own task, retried on its own."""
    from .tasks import deliver, deliver_each  # the tasks module imports this one

    ids = list(delivery_ids)
    if len(ids) == 1:
        queue.publish(lambda: deliver.delay(ids[0]), f"outbox delivery {ids[0]}")
    elif ids:
        queue.publish(lambda: deliver_each.delay(ids), f"{len(ids)} outbox deliveries")


def publish_each(delivery_ids):
    """A `deliver` message per delivery, from a worker (`deliver_each`). Stops at the first
    publish error: with the broker down every further try would only wait for its own timeout,
    and the sweep will send them all."""
    from .tasks import deliver

    published = 0
    try:
        # One producer (one broker connection from the pool) for all of them.
        with deliver.app.producer_or_acquire() as producer:
            for pk in delivery_ids:
                deliver.apply_async((pk,), producer=producer)
                published += 1
    except Exception:
        logger.warning(
            "Could not publish %d outbox deliveries; the sweep will send them.",
            len(delivery_ids) - published,
            exc_info=True,
        )


# --- inbox ------------------------------------------------------------------------------------


def mark_read(*, user, notification_id):
    """Mark one of the user's notifications as read (again is fine: the first time is kept).
    Another user's notification is NotFound."""
    with transaction.atomic():
        Notification.objects.filter(
            pk=notification_id, recipient=user, read_at__isnull=True
        ).update(read_at=timezone.now())
        notification = (
            Notification.objects.select_related("case")
            .filter(pk=notification_id, recipient=user)
            .first()
        )
    if notification is None:
        raise NotFound()
    return notification


def mark_all_read(*, user):
    """Mark every unread notification of the user as read; returns how many."""
    with transaction.atomic():
        return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
            read_at=timezone.now()
        )


# --- outbox -----------------------------------------------------------------------------------


class Outcome:
    SENT = "sent"
    RETRY = "retry"  # failed, will be tried again at next_attempt_at
    FAILED = "failed"  # failed for the last time
    SKIPPED = "skipped"  # not pending, not due, or being sent by someone else


def backoff_seconds(attempts, cfg=None):
    cfg = cfg or outbox_settings()
    return min(cfg["BACKOFF_BASE_SECONDS"] * 2 ** (attempts - 1), cfg["BACKOFF_MAX_SECONDS"])


def attempt_delivery(delivery_id):
    """Send one delivery if it is pending and due. Returns (outcome, seconds until the retry
    or None). Safe to call any number of times, also concurrently."""
    cfg = outbox_settings()
    with transaction.atomic():
        if connection.vendor == "sqlite":
            # SQLite ignores FOR UPDATE; a write as the first statement takes the database's
            # write lock, so a concurrent attempt waits here and then sees the row sent.
            Delivery.objects.filter(pk=delivery_id).update(attempts=F("attempts"))
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        now = timezone.now()
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return Outcome.SKIPPED, None
        if delivery.next_attempt_at > now:
            # A retry is already scheduled for later; going early would defeat the backoff.
            return Outcome.SKIPPED, None

        started = _count_start(delivery)
        if started - delivery.attempts > cfg["MAX_ATTEMPTS"]:
            # Earlier starts that never recorded their attempt: something killed the worker
            # while sending, every time. Sending again would only kill the next one.
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = (
                f"The worker stopped during {started - 1 - delivery.attempts} sending "
                "attempts; given up."
            )
            delivery.save(update_fields=["status", "last_error"])
            logger.error("Delivery %s given up: %s", delivery.dedupe_key, delivery.last_error)
            return Outcome.FAILED, None

        delivery.attempts += 1
        try:
            channels.send(delivery)
        except Exception as exc:
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if delivery.attempts >= cfg["MAX_ATTEMPTS"]:
                delivery.status = DeliveryStatus.FAILED
                outcome, retry_in = Outcome.FAILED, None
                logger.error(
                    "Delivery %s failed for good: %s", delivery.dedupe_key, delivery.last_error
                )
            else:
                retry_in = backoff_seconds(delivery.attempts, cfg)
                delivery.next_attempt_at = now + timedelta(seconds=retry_in)
                outcome = Outcome.RETRY
                logger.warning(
                    "Delivery %s failed (attempt %d), retry in %ss: %s",
                    delivery.dedupe_key,
                    delivery.attempts,
                    retry_in,
                    delivery.last_error,
                )
            delivery.save(update_fields=["attempts", "status", "next_attempt_at", "last_error"])
            return outcome, retry_in

        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.save(update_fields=["attempts", "status", "sent_at"])
        return Outcome.SENT, None


def _starts_key(pk, created_at):
    # The creation time too: ids start over in a new database, a cache may outlive it.
    return f"outbox:starts:{pk}:{created_at.timestamp()}"


def _count_start(delivery):
    """Count a start of sending in the cache, outside the database transaction: a worker
    killed mid-send rolls back the attempt it was recording (and Celery redelivers the message,
    acks_late), so only this count tells a message that kills every worker taking it. A lost
    count only means more tries."""
    key = _starts_key(delivery.pk, delivery.created_at)
    cache.add(key, 0, timeout=STARTS_TTL_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=STARTS_TTL_SECONDS)
        return 1


STARTS_TTL_SECONDS = 7 * 24 * 3600


def due_deliveries(limit=None):
    """Ids of pending deliveries that are due and old enough that the after-commit path has
    had its chance (so the sweep does not race it)."""
    cfg = outbox_settings()
    now = timezone.now()
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            created_at__lte=now - timedelta(seconds=cfg["SWEEP_GRACE_SECONDS"]),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: limit or cfg["SWEEP_BATCH_SIZE"]]
    )


def sweep_outbox():
    """Send what the after-commit path did not (broker down, message lost, retry not
    published). Returns how many were sent."""
    sent = 0
    for pk in due_deliveries():
        outcome, _retry_in = attempt_delivery(pk)
        sent += outcome == Outcome.SENT
    if sent:
        logger.info("Outbox sweep sent %d deliveries.", sent)
    return sent


def retry_deliveries(*, delivery_ids):
    """Give failed deliveries a fresh round of attempts, starting now. Returns how many."""
    with transaction.atomic():
        rows = list(
            Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.FAILED).values_list(
                "pk", "created_at"
            )
        )
        ids = [pk for pk, _created_at in rows]
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        cache.delete_many([_starts_key(pk, created_at) for pk, created_at in rows])
        if ids:
            transaction.on_commit(functools.partial(enqueue, ids), robust=True)
    return len(ids)
