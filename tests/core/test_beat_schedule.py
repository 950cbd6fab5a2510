"""Every periodic job beat is told to run names a task a worker has: a misspelt or moved task
would only show as a KeyError in the worker's log, and the job would silently never run."""

from django.conf import settings


def test_every_beat_entry_is_a_registered_task(celery_test_app):
    celery_test_app.loader.import_default_modules()
    missing = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in celery_test_app.tasks
    }
    assert not missing
