from celery import shared_task

from core import jobs

from . import imports, reminders
from .models import ImportJob


@shared_task(acks_late=True)
def run_import(job_id):
    """Bulk declaration import (all rows or none)."""
    job = imports.run(job_id)
    return job.status if job else None


@shared_task
def requeue_imports():
    """Every minute (beat): queue again the imports left waiting or without a worker."""
    return jobs.requeue(ImportJob, imports.enqueue)


@shared_task
def send_reminders():
    """Due-date and overdue reminders to unions that have not paid (hourly; once a day each)."""
    return reminders.send_due_reminders()
