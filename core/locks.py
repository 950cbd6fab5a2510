"""Locks on names rather than rows: for checks keyed by something no single row stands for (a
child's resident ID number, shared by two parents' accounts), so that two transactions
checking the same name at once take turns.

On PostgreSQL each name is a transaction-scoped advisory lock (`pg_advisory_xact_lock`) on a
stable 64-bit hash of the name, held until the surrounding transaction ends. Elsewhere (SQLite,
the embedded development setup) the whole database is locked by each write transaction, so
nothing is taken."""

import hashlib

from django.db import connection


def name_key(name):
    """A stable signed 64-bit key for `name` (the same in every process, unlike hash())."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_names(*names):
    """Lock each of `names` until the surrounding transaction ends, always in the same order
    (sorted by key), so that two transactions locking overlapping names cannot deadlock."""
    assert connection.in_atomic_block, "name locks belong to a transaction"
    if connection.vendor != "postgresql":
        return
    keys = sorted({name_key(name) for name in names if name})
    if not keys:
        return
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
