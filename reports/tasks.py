from celery import shared_task

from core import jobs

from . import services
from .models import ExportJob


@shared_task(acks_late=True)
def run_export(job_id):
    """Build an export job's file (a job runs once however often it is queued)."""
    job = services.run_export(job_id)
    return job.status if job else None


@shared_task
def requeue_exports():
    """Every minute (beat): queue again the exports left waiting or without a worker."""
    return jobs.requeue(ExportJob, services.enqueue)


@shared_task
def verify_all_trails():
    """Nightly (beat): verify every case's hash chain and keep the result for the auditors."""
    result = services.verify_all_trails(source="beat")
    return {
        "cases": result.cases,
        "events": result.events,
        "broken": len(result.broken),
        "missing": result.missing,
    }


@shared_task
def purge_expired_exports():
    """Daily (beat): delete the export jobs and files past EXPORT_RETENTION_DAYS; the count."""
    return services.purge_expired_exports()
