from celery import shared_task

from . import services


@shared_task
def open_due_reviews():
    """Hourly (beat): open the review case of every register entry whose review is due."""
    return services.open_due_reviews()
