from celery import shared_task

from . import services


@shared_task
def enforce_statutory_terms():
    """The 15-day mediation term (every minute): expire cases past it, remind before it,
    follow up performance deadlines. Idempotent; see services.enforce_statutory_terms."""
    return services.enforce_statutory_terms()
