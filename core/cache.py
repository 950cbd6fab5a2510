"""The shared cache (Redis in production) as a help, not a dependency.

Nothing the cache holds is a record: the login throttle's recent attempts, an import's
progress, how often a delivery was started. So while Redis cannot be reached, the cache answers
as an empty one that keeps nothing, and the requests go on — a login, an import's progress page,
a delivery — where Django's own backend would raise and answer 500."""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


class RedisCache(DjangoRedisCache):
    """Django's Redis cache, answering a miss (and keeping nothing) while Redis is unreachable.

    After a failure it leaves Redis alone for `RETRY_SECONDS` (an option; 5 by default): a host
    that is down would otherwise cost every request its connect timeout. Django makes a cache
    per thread, so each thread finds out for itself, and says so once in the log."""

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self._down_until = None

    def _call(self, missing, operation, *args):
        """`operation(*args)`, or `missing()` when Redis cannot be reached."""
        if self._down_until is not None and time.monotonic() < self._down_until:
            return missing()
        try:
            result = operation(*args)
        except UNREACHABLE as exc:
            if self._down_until is None:
                logger.warning(
                    "The cache (Redis) cannot be reached; it answers as empty until it can: %s",
                    exc,
                )
            self._down_until = time.monotonic() + self.retry_seconds
            return missing()
        if self._down_until is not None:
            logger.warning("The cache (Redis) can be reached again.")
            self._down_until = None
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call(lambda: default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call(lambda: False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._call(dict, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call(lambda: False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        def missing():
            # What Django's caches raise for a key they do not hold.
            raise ValueError(f"Key {key!r} not found: the cache cannot be reached.")

        return self._call(missing, super().incr, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Django's contract: the keys that could not be set.
        return self._call(lambda: list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call(lambda: None, super().delete_many, keys, version)

    def clear(self):
        return self._call(lambda: False, super().clear)
