"""Celery entry points of the outbox. Thin: the logic lives in services so that the sweep,
the admin and tests use the same code."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


# acks_late: a worker that dies mid-send gets the message redelivered; the row lock and the
# pending check make the redelivery harmless.
@shared_task(acks_late=True, ignore_result=True)
def deliver(delivery_id):
    outcome, retry_in = services.attempt_delivery(delivery_id)
    if outcome == services.Outcome.RETRY:
        try:
            deliver.apply_async((delivery_id,), countdown=retry_in)
        except Exception:
            # The row is pending with next_attempt_at set: the sweep will retry it.
            logger.warning(
                "Could not schedule the retry of delivery %s.", delivery_id, exc_info=True
            )
    return outcome


# acks_late: a worker that dies mid-fan-out gets the message again; deliveries published twice
# are sent once (see `deliver`).
@shared_task(acks_late=True, ignore_result=True)
def deliver_each(delivery_ids):
    services.publish_each(delivery_ids)


@shared_task(ignore_result=True)
def sweep_outbox():
    return services.sweep_outbox()
