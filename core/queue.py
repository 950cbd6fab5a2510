"""Handing work to Celery after a commit without making anyone wait on a broker that is down.

What is handed over is already a row (an outbox delivery, an import or export job), and a
periodic sweep sends what never reached the broker. So a publish that fails is logged and
dropped, and for `BROKER_PAUSE_SECONDS` after it this process does not try again: with the
broker's host not answering, every request would otherwise wait for the broker's timeouts."""

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_paused_until = 0.0


def publish(send, what):
    """`send()` (a task's `delay`), unless the broker failed within the pause; whether it was
    sent. `what` names it in the log."""
    global _paused_until
    if time.monotonic() < _paused_until:
        logger.info("Not queueing %s: the broker failed moments ago; the sweep will.", what)
        return False
    try:
        send()
    except Exception:
        _paused_until = time.monotonic() + settings.BROKER_PAUSE_SECONDS
        logger.warning(
            "Could not queue %s; the sweep will. Not trying again for %s s.",
            what,
            settings.BROKER_PAUSE_SECONDS,
            exc_info=True,
        )
        return False
    return True
