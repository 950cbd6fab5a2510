"""Reads remembered for the length of one operation.

A decision touches the same slowly changing rows many times: the parameters and the official
calendar for each deadline, the webhook endpoints for each notification, a person's
delegations and roles for each task opened. Inside `operation()` each such read runs once;
outside it every call reads afresh. Services open the scope around one transaction that does
not itself change what is remembered, so a value cannot go stale while it is in use.

Configuration (parameters, the calendar's overrides, webhook endpoints) is also kept across
operations of a process, but only under the generation the operation learned from the
database (`configuration()`, core.generation): any change gives the next operation a fresh
read.

Remembered values are shared: callers must not mutate them."""

import contextvars
from contextlib import contextmanager

_scope = contextvars.ContextVar("memo_scope", default=None)


@contextmanager
def operation():
    """Remember reads until the outermost `operation()` ends (a nested one shares it)."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def remembered(key, compute):
    """`compute()`, once per operation for the same `key` (every call outside one)."""
    scope = _scope.get()
    if scope is None:
        return compute()
    try:
        return scope[key]
    except KeyError:
        value = scope[key] = compute()
        return value


def active():
    """Whether an operation is remembering reads."""
    return _scope.get() is not None


def keep(key, value):
    """Remember `value` under `key` for the operation (read along with something else)."""
    scope = _scope.get()
    if scope is not None:
        scope.setdefault(key, value)


def forget(key):
    """Drop one remembered value (after the operation changed what it was read from)."""
    scope = _scope.get()
    if scope is not None:
        scope.pop(key, None)


# --- configuration, kept across operations ------------------------------------------------------
# (generation, {key: value}): what operations of this process read under the last generation
# one of them learned (core.generation); another generation starts afresh. One tuple, replaced
# whole, so that a thread never pairs one generation with another's values.
_GENERATION = object()
_kept = (None, {})


def learn_generation(value):
    """The configuration's generation as the current operation's transaction sees it."""
    scope = _scope.get()
    if scope is not None and value is not None:
        scope[_GENERATION] = value


def configuration(key, compute):
    """`remembered(key, compute)` for a read of configuration (core.generation lists what that
    is): when the operation knows the generation, an earlier operation's value read under the
    same generation is used, and this one's is kept for later ones."""
    scope = _scope.get()
    if scope is None:
        return compute()
    if key in scope:
        return scope[key]
    generation = scope.get(_GENERATION)
    kept_generation, kept = _kept
    if generation is not None and generation == kept_generation and key in kept:
        value = scope[key] = kept[key]
        return value
    value = scope[key] = compute()
    _keep(generation, key, value)
    return value


def reconfigure(key, value):
    """Replace a configuration value (read afresh, wider) for the operation and later ones."""
    scope = _scope.get()
    if scope is not None:
        scope[key] = value
        _keep(scope.get(_GENERATION), key, value)


def _keep(generation, key, value):
    global _kept
    if generation is None:
        return
    kept_generation, kept = _kept
    if generation != kept_generation:
        _kept = (generation, {key: value})
    else:
        kept[key] = value
