from celery import shared_task

from . import services


@shared_task
def process_deadlines():
    """Reminders and escalations of task deadlines (every minute, from beat)."""
    return services.process_deadlines()
