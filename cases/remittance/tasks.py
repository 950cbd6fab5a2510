from celery import shared_task

from . import imports, reminders


@shared_task(acks_late=True)
def run_import(job_id):
    """Bulk declaration import (all rows or none)."""
    job = imports.run(job_id)
    return job.status if job else None


@shared_task
def send_reminders():
    """Due-date and overdue reminders to unions that have not paid (hourly; once a day each)."""
    return reminders.send_due_reminders()
