"""Retention of export files: a daily sweep deletes the export jobs — row and file, which hold
personal data — once EXPORT_RETENTION_DAYS have passed since they finished (or, stuck waiting
or running, since they were started); a purged job is simply not found any more."""

import logging
import os
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.test import Client, override_settings
from django.utils import timezone

from reports import services
from reports.models import ExportJob
from reports.tasks import purge_expired_exports, run_export
from tests.helpers import post

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(settings.BASE_DIR) / "project" / "settings.py"


def days_ago(days, now=None):
    return (now or timezone.now()) - timedelta(days=days)


def stored_job(user, *, status=ExportJob.Status.DONE, created_at, finished_at=None, content=b"1"):
    """A job as the worker leaves it, with its file on disk (`content=None`: no file)."""
    job = ExportJob(
        created_by=user,
        kind=ExportJob.Kind.CASES,
        format="csv",
        status=status,
        created_at=created_at,
        finished_at=finished_at,
    )
    if content is not None:
        job.file.save("cases.csv", ContentFile(content), save=False)
        job.filename, job.content_type = "案件清单.csv", services.CONTENT_TYPES["csv"]
    job.save()
    return job


def on_disk(job):
    return Path(settings.MEDIA_ROOT, job.file.name).exists()


def sweep(capture, now=None):
    """The sweep, with its after-commit file deletions run (the test is one transaction)."""
    with capture(execute=True):
        return services.purge_expired_exports(now=now)


def exported(api, user, when):
    """A summary export started through the API and built by the worker at `when`."""
    with time_machine.travel(when, tick=False):
        response = post(api(user), "/api/v1/reports/exports/", {"kind": "summary", "format": "csv"})
        assert response.status_code == 202, response.json()
        assert run_export.run(response.json()["id"]) == "done"
    return ExportJob.objects.get(pk=response.json()["id"])


def test_an_old_export_is_deleted_and_a_recent_one_still_downloads(
    demo, api, django_capture_on_commit_callbacks
):
    old = exported(api, demo.town_auditor, days_ago(8))
    recent = exported(api, demo.town_auditor, days_ago(1))
    assert on_disk(old) and on_disk(recent)

    assert sweep(django_capture_on_commit_callbacks) == 1

    assert not ExportJob.objects.filter(pk=old.pk).exists()
    assert not on_disk(old)
    assert on_disk(recent)
    client = api(demo.town_auditor)
    download = client.get(f"/api/v1/reports/exports/{recent.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == Path(recent.file.path).read_bytes()
    # The purged job: the usual "not found", from the API and from the page.
    for url in (
        f"/api/v1/reports/exports/{old.pk}/",
        f"/api/v1/reports/exports/{old.pk}/download/",
    ):
        gone = client.get(url)
        assert gone.status_code == 404, url
        assert gone.json() == {"detail": "未找到该导出。", "code": "not_found"}
    browser = Client()
    browser.force_login(demo.town_auditor)
    assert browser.get(f"/reports/exports/{old.pk}/download/").status_code == 404
    assert client.get("/api/v1/reports/exports/").json()["count"] == 1


def test_a_failed_export_goes_after_the_retention_too(demo, django_capture_on_commit_callbacks):
    failed = stored_job(
        demo.town_auditor,
        status=ExportJob.Status.FAILED,
        created_at=days_ago(9),
        finished_at=days_ago(9),
        content=None,
    )
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert not ExportJob.objects.filter(pk=failed.pk).exists()


def test_stuck_jobs_older_than_the_retention_are_purged(demo, django_capture_on_commit_callbacks):
    user = demo.town_auditor
    stuck_pending = stored_job(
        user, status=ExportJob.Status.PENDING, created_at=days_ago(8), content=None
    )
    stuck_running = stored_job(
        user, status=ExportJob.Status.RUNNING, created_at=days_ago(30), content=None
    )
    waiting = stored_job(
        user, status=ExportJob.Status.PENDING, created_at=days_ago(6), content=None
    )
    # Started long ago but finished recently: kept for the days after it finished.
    slow = stored_job(user, created_at=days_ago(10), finished_at=days_ago(2))

    assert sweep(django_capture_on_commit_callbacks) == 2

    assert set(ExportJob.objects.values_list("pk", flat=True)) == {waiting.pk, slow.pk}
    assert not ExportJob.objects.filter(pk__in=[stuck_pending.pk, stuck_running.pk]).exists()
    assert on_disk(slow)


def test_a_job_whose_file_is_already_gone_is_purged_without_error(
    demo, django_capture_on_commit_callbacks, caplog
):
    user = demo.town_auditor
    missing = stored_job(user, created_at=days_ago(9), finished_at=days_ago(9))
    other = stored_job(user, created_at=days_ago(9), finished_at=days_ago(9))
    Path(missing.file.path).unlink()

    with caplog.at_level(logging.WARNING, logger="reports.services"):
        assert sweep(django_capture_on_commit_callbacks) == 2

    assert not ExportJob.objects.exists()
    assert not on_disk(other)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_file_that_cannot_be_deleted_is_logged_and_the_sweep_goes_on(
    demo, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    user = demo.town_auditor
    stubborn = stored_job(user, created_at=days_ago(9), finished_at=days_ago(9))
    other = stored_job(user, created_at=days_ago(9), finished_at=days_ago(9))
    storage = ExportJob._meta.get_field("file").storage
    delete = storage.delete

    def refuse(name):
        if name == stubborn.file.name:
            raise PermissionError(13, "Permission denied", name)
        delete(name)

    monkeypatch.setattr(storage, "delete", refuse)
    with caplog.at_level(logging.WARNING, logger="reports.services"):
        assert sweep(django_capture_on_commit_callbacks) == 2

    assert not ExportJob.objects.exists()  # the rows are gone either way
    assert not on_disk(other)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert stubborn.file.name in warning.getMessage()


def _aged(path, days):
    moment = days_ago(days).timestamp()
    os.utime(path, (moment, moment))


def test_a_file_that_could_not_be_deleted_goes_with_a_later_sweep(
    demo, django_capture_on_commit_callbacks, monkeypatch
):
    stubborn = stored_job(demo.town_auditor, created_at=days_ago(9), finished_at=days_ago(9))
    _aged(stubborn.file.path, 9)
    storage = ExportJob._meta.get_field("file").storage
    with monkeypatch.context() as refusing:
        refusing.setattr(storage, "delete", lambda name: (_ for _ in ()).throw(PermissionError()))
        assert sweep(django_capture_on_commit_callbacks) == 1
    assert on_disk(stubborn) and not ExportJob.objects.exists()

    assert sweep(django_capture_on_commit_callbacks) == 0  # no job left; its file goes now
    assert not on_disk(stubborn)


def test_a_file_no_job_names_goes_once_older_than_the_retention(
    demo, django_capture_on_commit_callbacks
):
    """A worker that finished writing after its job's row was purged leaves a file nobody
    names: it goes once it is older than the retention, like the jobs. Files of live jobs, and
    unnamed files younger than that (a worker may be about to name it), stay."""
    storage = ExportJob._meta.get_field("file").storage
    orphan = storage.save("exports/2026/01/orphan.csv", ContentFile(b"personal data"))
    fresh = storage.save("exports/2026/01/fresh.csv", ContentFile(b"being written"))
    kept = stored_job(demo.town_auditor, created_at=days_ago(2), finished_at=days_ago(2))
    _aged(storage.path(orphan), 8)
    _aged(kept.file.path, 30)  # an old file, but its job is within the retention

    assert sweep(django_capture_on_commit_callbacks) == 0

    assert not storage.exists(orphan)
    assert storage.exists(fresh) and on_disk(kept)
    storage.delete(fresh)


def test_the_setting_moves_the_cut_off(demo, django_capture_on_commit_callbacks):
    user = demo.town_auditor
    now = timezone.now()
    ten = stored_job(user, created_at=days_ago(10, now), finished_at=days_ago(10, now))
    three = stored_job(user, created_at=days_ago(3, now), finished_at=days_ago(3, now))

    with override_settings(EXPORT_RETENTION_DAYS=30):
        assert sweep(django_capture_on_commit_callbacks, now) == 0
    with override_settings(EXPORT_RETENTION_DAYS=3):  # exactly 3 days: not more than 3
        assert sweep(django_capture_on_commit_callbacks, now) == 1
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [three.pk]
    assert not on_disk(ten) and on_disk(three)
    with override_settings(EXPORT_RETENTION_DAYS=2):
        assert sweep(django_capture_on_commit_callbacks, now) == 1
    assert not ExportJob.objects.exists()
    assert not on_disk(three)


def test_thousands_of_jobs_go_in_batches_with_a_fixed_number_of_queries(
    demo, django_capture_on_commit_callbacks, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 10)
    user = demo.town_auditor
    old, recent = days_ago(9), days_ago(1)
    ExportJob.objects.bulk_create(
        [
            ExportJob(
                created_by=user,
                kind="cases",
                format="csv",
                status="done",
                created_at=old,
                finished_at=old,
                file=f"exports/2026/01/{n:032x}.csv",
            )
            for n in range(25)
        ]
        + [
            ExportJob(
                created_by=user,
                kind="cases",
                format="csv",
                status="done",
                created_at=recent,
                finished_at=recent,
            )
            for n in range(3)
        ]
    )
    # Three batches of 10, 10 and 5, each a savepoint around one read (locking) and one delete.
    with django_assert_max_num_queries(3 * 4):
        assert sweep(django_capture_on_commit_callbacks) == 25
    assert ExportJob.objects.count() == 3


def test_beat_runs_the_sweep_daily_through_the_task(demo, django_capture_on_commit_callbacks):
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == purge_expired_exports.name
    ]
    assert entry["task"] == "reports.tasks.purge_expired_exports"
    assert isinstance(entry["schedule"], crontab)
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {15}

    old = stored_job(demo.town_auditor, created_at=days_ago(9), finished_at=days_ago(9))
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_exports.apply().get() == 1
    assert not ExportJob.objects.exists()
    assert not on_disk(old)


def test_beat_reads_its_hours_in_the_local_time_of_the_people_served():
    """ "Nightly at 02:30" is 02:30 in Beijing, not 10:30."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from project.celery import app

    nightly = settings.CELERY_BEAT_SCHEDULE["nightly-trail-verification"]["schedule"]
    beijing = ZoneInfo("Asia/Shanghai")
    yesterday = datetime(2026, 3, 1, 2, 30, tzinfo=beijing)

    def due_at(hour, minute):
        moment = datetime(2026, 3, 2, hour, minute, 5, tzinfo=beijing)
        schedule = nightly.__class__(
            hour=nightly.hour, minute=nightly.minute, nowfun=lambda: moment, app=app
        )
        return schedule.is_due(yesterday).is_due

    assert due_at(2, 30)
    assert not due_at(2, 29)


# (environment variable, setting): whole numbers of 1 or more, read when the settings load.
RETENTION = ("EXPORT_RETENTION_DAYS", "EXPORT_RETENTION_DAYS")
DIRECT_LIMIT = ("EXPORT_SYNC_MAX_ROWS", "REPORTS_EXPORT_SYNC_MAX_ROWS")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (RETENTION, None, 7),
        (RETENTION, "", 7),
        (RETENTION, "14", 14),
        (RETENTION, " 30 ", 30),
        (RETENTION, "1", 1),
        (DIRECT_LIMIT, None, 2000),
        (DIRECT_LIMIT, "", 2000),
        (DIRECT_LIMIT, "500", 500),
    ],
)
def test_retention_and_direct_export_limit_come_from_the_environment(
    monkeypatch, tmp_path, variable, value, expected
):
    name, setting = variable
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, value)
    assert runpy.run_path(str(SETTINGS_FILE))[setting] == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [(RETENTION, v) for v in ("0", "-3", "seven", "1.5")]
    + [(DIRECT_LIMIT, v) for v in ("0", "-1", "many", "1e3")],
)
def test_a_value_below_one_or_not_a_number_refuses_to_start(monkeypatch, tmp_path, variable, value):
    name, _setting = variable
    monkeypatch.setenv("UNIONFLOW_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=f"{name} must be a whole number"):
        runpy.run_path(str(SETTINGS_FILE))
