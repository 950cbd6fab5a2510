"""Background jobs a person waits for (a declaration import, an export): each is a row that a
worker takes, runs and finishes, and none may be left waiting or running for ever.

Two ways a job was left behind: its message never reached the broker (Redis down when it was
queued), or the worker running it died (killed, restarted by a deploy, out of memory) after
marking it running — a message Celery delivers again then finds the job running and, without
this module, did nothing. On PostgreSQL a running job holds a session-level advisory lock on its
row for as long as its worker runs it, and the database lets go of the lock when the worker's
connection ends, however it ends: a job marked running whose lock is free has lost its worker.
`take` (in the worker) takes such a job over, and `left_behind` (a beat task per kind of job)
finds them and the waiting ones to queue again. A job that has stopped its worker
`MAX_ATTEMPTS` times is failed with a message, not retried for ever.

Elsewhere (SQLite, the embedded development setup) there is no such lock: a waiting job is
queued again, a running one is left to its worker."""

import logging
import zlib
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

PENDING, RUNNING = "pending", "running"


def job_settings():
    return settings.UNIONFLOW_JOBS


def _lock_key(model, pk):
    """The advisory lock of a job's row: (the table's checksum, the row's id)."""
    table = model._meta.db_table
    return zlib.crc32(table.encode()) & 0x7FFFFFFF, int(pk) & 0x7FFFFFFF


def _locks():
    return connection.vendor == "postgresql"


def _try_lock(model, pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _lock_key(model, pk))
        return cursor.fetchone()[0]


def _unlock(model, pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _lock_key(model, pk))


@contextmanager
def take(model, pk, *, give_up):
    """Inside: the job `pk` of `model`, marked running (with `attempts` counted), or None when
    someone else runs it or it is not waiting. Its lock is held until the block ends, whatever
    happens inside. `give_up(job)` fails a job taken more than MAX_ATTEMPTS times (it is saved
    here and None is yielded)."""
    locked = _locks()
    if locked and not _try_lock(model, pk):
        yield None
        return
    try:
        # Holding the lock, a running job is one whose worker died: take it over.
        statuses = (PENDING, RUNNING) if locked else (PENDING,)
        with transaction.atomic():
            job = model.objects.select_for_update().filter(pk=pk, status__in=statuses).first()
            if job is not None:
                if job.status == RUNNING:
                    logger.warning(
                        "%s %s lost its worker while running; running it again",
                        model._meta.object_name,
                        pk,
                    )
                job.attempts += 1
                if job.attempts > job_settings()["MAX_ATTEMPTS"]:
                    give_up(job)
                    job.finished_at = timezone.now()
                    job.save()
                    job = None
                else:
                    job.status = RUNNING
                    job.started_at = timezone.now()
                    job.save(update_fields=["status", "started_at", "attempts"])
        yield job
    finally:
        if locked:
            _unlock(model, pk)


def left_behind(model):
    """Ids of `model`'s jobs to queue again: waiting since before REQUEUE_AFTER_SECONDS (their
    message may never have reached the broker; one that did and is queued twice runs once), and,
    on PostgreSQL, running without a worker."""
    cutoff = timezone.now() - timedelta(seconds=job_settings()["REQUEUE_AFTER_SECONDS"])
    waiting = list(
        model.objects.filter(status=PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not _locks():
        return waiting
    orphans = []
    for pk in model.objects.filter(status=RUNNING).order_by("pk").values_list("pk", flat=True):
        if _try_lock(model, pk):  # nobody runs it
            _unlock(model, pk)
            orphans.append(pk)
    return waiting + orphans


def requeue(model, enqueue):
    """Queue `model`'s jobs left behind again (`enqueue(pk)` each); how many."""
    ids = left_behind(model)
    for pk in ids:
        enqueue(pk)
    if ids:
        logger.info("Queued %d %s again: %s", len(ids), model._meta.verbose_name_plural, ids)
    return len(ids)
