from celery import shared_task

from . import services


@shared_task
def process_deadlines():
    """Reminders and escalations of task deadlines (every minute, from beat)."""
    return services.process_deadlines()


@shared_task
def return_delegated_tasks():
    """Tasks held for a colleague whose delegation has ended go back to them (every minute)."""
    return services.return_delegated_tasks()


@shared_task
def settle_holders():
    """Tasks whose holder or queue no longer fits (an account switched off, a role taken away,
    a union moved) go to those who may act on them now (every minute)."""
    return services.settle_holders()
