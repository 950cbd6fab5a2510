from celery import shared_task

from . import services


@shared_task
def purge_idempotency_records():
    """Daily (beat): forget idempotent requests' first results past their retention."""
    return services.purge_idempotency_records()
