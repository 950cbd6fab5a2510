"""Reads remembered for the length of one operation.

A decision touches the same slowly changing rows many times: the parameters and the official
calendar for each deadline, the webhook endpoints for each notification, a person's
delegations and roles for each task opened. Inside `operation()` each such read runs once;
outside it every call reads afresh. Services open the scope around one transaction that does
not itself change what is remembered, so a value cannot go stale while it is in use.

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
