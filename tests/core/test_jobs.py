"""Imports and exports are never left waiting or running for ever (core.jobs): a job whose
message never reached the broker is queued again by beat; one whose worker died (its lock let
go with the worker's connection) is taken over and finishes once; one that stops its worker
every time fails with a message; an import that breaks fails, not left running."""

import logging
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from cases.models import Case
from cases.remittance import imports
from cases.remittance.models import ImportJob
from cases.remittance.tasks import requeue_imports, run_import
from core import jobs
from organizations.demo import seed_demo
from organizations.models import User
from reports import services as report_services
from reports.models import ExportJob
from reports.tasks import requeue_exports, run_export
from tests.reliability.services import current_database_url, wait_until
from tests.remittance.helpers import declarations_csv

ROWS = [
    ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
    ["西山食品厂工会", "2026-01", "55000.50", "60", "60"],
]


def an_import():
    return imports.start(
        user=User.objects.get(username="county_finance"), upload=declarations_csv(ROWS)
    )


@pytest.fixture
def queued(monkeypatch):
    """Ids that beat queued again, by kind."""
    sent = {"imports": [], "exports": []}
    monkeypatch.setattr(imports, "enqueue", sent["imports"].append)
    monkeypatch.setattr(report_services, "enqueue", sent["exports"].append)
    return sent


def later(seconds):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


@pytest.mark.django_db
def test_a_job_left_waiting_is_queued_again_after_a_minute_and_runs_once(demo, queued):
    job = an_import()  # its after-commit publish never ran: as if the broker had been down
    export = report_services.start_export(
        user=demo.county_auditor, kind="cases", fmt="csv", params={"figure": "opened"}
    )
    assert requeue_imports() == requeue_exports() == 0  # a message may still be on its way
    with later(61):
        assert requeue_imports() == 1 and requeue_exports() == 1
    assert queued == {"imports": [job.pk], "exports": [export.pk]}

    assert run_import.run(job.pk) == "done"
    assert run_export.run(export.pk) == "done"
    # Queued twice, run once.
    assert run_import.run(job.pk) is None and run_export.run(export.pk) is None
    assert Case.objects.filter(process="remittance").count() == len(ROWS)
    with later(61):
        assert requeue_imports() == requeue_exports() == 0


@override_settings(UNIONFLOW_JOBS={"REQUEUE_AFTER_SECONDS": 120, "MAX_ATTEMPTS": 3})
@pytest.mark.django_db
def test_how_long_a_job_waits_is_configuration(demo, queued):
    an_import()
    with later(61):
        assert requeue_imports() == 0
    with later(121):
        assert requeue_imports() == 1


@pytest.mark.django_db
def test_an_import_that_breaks_fails_with_a_message_and_declares_nothing(demo, monkeypatch, caplog):
    job = an_import()
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(**kwargs)

    original = imports.services.declare
    monkeypatch.setattr(imports.services, "declare", broken)
    with caplog.at_level(logging.ERROR, logger="cases.remittance.imports"):
        assert run_import.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert [e["field"] for e in job.errors] == ["file"] and job.created_cases == []
    assert "disk full" in caplog.text
    assert not Case.objects.filter(process="remittance").exists()


# --- a worker that died (PostgreSQL: the job's advisory lock) -----------------------------------


@contextmanager
def a_worker_running(model, pk):
    """A worker elsewhere, on its own connection: it holds the job's lock and marked the job
    running. Leaving the block ends its connection, as the worker's death would."""
    worker = psycopg.connect(current_database_url(), autocommit=True)
    try:
        worker.execute("SELECT pg_advisory_lock(%s, %s)", jobs._lock_key(model, pk))
        worker.execute(
            f"UPDATE {model._meta.db_table} SET status = 'running', attempts = attempts + 1,"
            " started_at = now() WHERE id = %s",
            [pk],
        )
        yield
    finally:
        pid = worker.info.backend_pid
        worker.close()
        # The server lets go of the lock when its backend sees the connection gone, a moment
        # after the close: wait for that, as beat (a minute later) would.
        assert wait_until(lambda: not _backend_alive(pid), 10)


def _backend_alive(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_died_is_taken_over_and_declares_once(queued, caplog):
    seed_demo()
    job = an_import()
    queued["imports"].clear()  # its first message, after commit
    with a_worker_running(ImportJob, job.pk):
        # Running, and its worker alive: neither queued again nor taken by a second message.
        with later(3600):
            assert requeue_imports() == 0
        assert run_import.run(job.pk) is None
        assert ImportJob.objects.get(pk=job.pk).status == "running"
    # The worker is gone: beat queues the job again, and the next worker takes it over.
    assert requeue_imports() == 1 and queued["imports"] == [job.pk]
    with caplog.at_level(logging.WARNING, logger="core.jobs"):
        assert run_import.run(job.pk) == "done"
    assert "lost its worker" in caplog.text
    job.refresh_from_db()
    assert job.attempts == 2 and len(job.created_cases) == len(ROWS)
    assert Case.objects.filter(process="remittance").count() == len(ROWS)
    assert requeue_imports() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_export_whose_worker_died_is_taken_over(queued):
    seed_demo()
    auditor = User.objects.get(username="county_auditor")
    export = report_services.start_export(
        user=auditor, kind="cases", fmt="csv", params={"figure": "opened"}
    )
    queued["exports"].clear()  # its first message, after commit
    with a_worker_running(ExportJob, export.pk):
        assert requeue_exports() == 0 and run_export.run(export.pk) is None
    assert requeue_exports() == 1 and queued["exports"] == [export.pk]
    assert run_export.run(export.pk) == "done"
    export.refresh_from_db()
    assert export.attempts == 2 and export.file


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_job_that_stops_its_worker_every_time_fails_with_a_message(queued):
    seed_demo()
    job = an_import()
    for _attempt in range(3):
        with a_worker_running(ImportJob, job.pk):
            pass
    assert run_import.run(job.pk) is None  # taken a fourth time: given up
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None and job.attempts == 4
    assert job.errors[0]["field"] == "file" and job.errors[0]["message"]
    assert not Case.objects.filter(process="remittance").exists()
    assert requeue_imports() == 0


@pytest.mark.django_db
def test_without_advisory_locks_a_running_job_is_left_to_its_worker(demo, queued, monkeypatch):
    """SQLite (the embedded setup) cannot tell a dead worker from a slow one."""
    monkeypatch.setattr(jobs, "_locks", lambda: False)
    job = an_import()
    ImportJob.objects.filter(pk=job.pk).update(status="running")
    with later(3600):
        assert requeue_imports() == 0
    assert run_import.run(job.pk) is None


@pytest.mark.django_db
def test_the_admin_lists_jobs_with_their_attempts(demo, admin_client, queued):
    job = an_import()
    export = report_services.start_export(
        user=demo.county_auditor, kind="cases", fmt="csv", params={"figure": "opened"}
    )
    for listing, change in (
        ("/admin/remittance/importjob/", f"/admin/remittance/importjob/{job.pk}/change/"),
        ("/admin/reports/exportjob/", f"/admin/reports/exportjob/{export.pk}/change/"),
    ):
        page = admin_client.get(listing)
        assert page.status_code == 200 and 'column-attempts"' in page.content.decode()
        assert admin_client.get(change).status_code == 200
