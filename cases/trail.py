"""The audit trail: append one hash-chained event per state change, and verify a chain.

Services call `append` inside their transaction. The acting user and source IP of the
current request are taken from `current_context` when the caller does not pass them, so that
changes made deep inside the engine (a viewflow activation creating the next task) still say
who caused them.
"""

import contextvars
import functools
import hashlib
import hmac
import itertools
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.sensitive import trail_seal_keys

from .models import Case, TrailCheckpoint, TrailEvent, TrailHead, TrailTally

GENESIS_HASH = "0" * 64


@dataclass
class ActionContext:
    actor: object = None
    source_ip: str | None = None
    # task ids whose status changes the running service records itself
    covered_tasks: set = field(default_factory=set)


_context = contextvars.ContextVar("trail_context", default=None)


def current_context():
    ctx = _context.get()
    return ctx if ctx is not None else ActionContext()


@contextmanager
def acting(*, actor=None, source_ip=None):
    """Declare who is acting (and from where) for the trail events written inside."""
    outer = _context.get()
    ctx = ActionContext(
        actor=actor if actor is not None else (outer.actor if outer else None),
        source_ip=source_ip if source_ip is not None else (outer.source_ip if outer else None),
    )
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def normalize(data):
    """Data as it will read back from the database: plain JSON types only."""
    return json.loads(json.dumps(data or {}, default=_json_default))


def canonical(event):
    """The bytes an event's hash covers: every field that tells the story, sorted."""
    body = {
        "case": event.case_id,
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "actor_role": event.actor_role,
        "on_behalf_of": event.on_behalf_of_id,
        "action": event.action,
        "task": event.task_id,
        "step": event.step,
        "comment": event.comment,
        "data": event.data,
        "source_ip": event.source_ip,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash, event):
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()


# The seal. The chain alone shows an edited, inserted or removed event only to someone who
# does not recompute the hashes after it: whoever can write to the database (a DBA, a stolen
# database password, a restored and doctored backup) could re-chain a case's events and verify
# clean. Each event's hash is therefore also sealed with a key that never enters the database
# (TRAIL_SEAL_KEYS, newest first; core.sensitive): a re-chained event's seal does not match.


def _sealed(text):
    """HMAC-SHA256 of `text` under the newest key."""
    return hmac.digest(trail_seal_keys()[0], text.encode(), "sha256").hex()


def _seal_holds(text, stored):
    """Whether `stored` is the seal of `text` under one of the keys (older keys verify what
    was sealed before a rotation)."""
    return _sealed_by(trail_seal_keys(), text, stored)


def _sealed_by(keys, text, stored):
    message = text.encode()
    for key in keys:
        if hmac.compare_digest(hmac.digest(key, message, "sha256").hex(), stored):
            return True
    return False


def seal(hash_):
    """The seal of an event's hash."""
    return _sealed(hash_)


def seal_matches(hash_, stored):
    return _seal_holds(hash_, stored)


def append(
    case,
    action,
    *,
    actor=None,
    actor_role="",
    on_behalf_of=None,
    task=None,
    step="",
    comment="",
    data=None,
):
    """Append an event to the case's chain. Must run inside the business transaction; the
    chain's head row is locked so that concurrent appends take consecutive sequence numbers."""
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "trail events belong to a transaction"
    ctx = current_context()
    case_id = case.pk if isinstance(case, Case) else case
    last = _known_head(connection, case_id) or _lock_and_read_head(connection, case_id)
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    if actor is None:
        actor = ctx.actor
    event = TrailEvent(
        case_id=case_id,
        seq=seq,
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_role=actor_role or "",
        on_behalf_of=on_behalf_of,
        action=action,
        task_id=getattr(task, "pk", task),
        step=step or getattr(getattr(task, "flow_task", None), "name", "") or "",
        comment=comment or "",
        data=normalize(data),
        source_ip=ctx.source_ip,
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(prev_hash, event)
    event.seal = seal(event.hash)
    _insert(connection, event)
    _remember_head(connection, case_id, seq, event.hash)
    return event


# The head of a chain this transaction appended to, so that its next event on the same case
# skips the lock and the read: the head row stays locked until the transaction ends, so nobody
# else can append meanwhile. Each remembered head carries a no-op on-commit callback registered
# when the event was written; Django drops that callback when the transaction commits or rolls
# back, or when a savepoint around the event rolls back — exactly when the head is no longer
# ours to trust — so a head whose marker is gone is read again.
_HEADS_KEPT = 64


def _known_head(connection, case_id):
    heads = getattr(connection, "_trail_heads", None)
    if not heads or case_id not in heads:
        return None
    marker, seq, hash_ = heads[case_id]
    if any(func is marker for _sids, func, _robust in connection.run_on_commit):
        return seq, hash_
    del heads[case_id]
    return None


def _remember_head(connection, case_id, seq, hash_):
    heads = getattr(connection, "_trail_heads", None)
    if heads is None or len(heads) >= _HEADS_KEPT:
        heads = connection._trail_heads = {}

    def marker():
        pass

    connection.on_commit(marker)
    heads[case_id] = (marker, seq, hash_)


# The chain's head row (TrailHead, moved by a database trigger with every event inserted) is
# what appends lock. Locking it and reading it is one statement: under READ COMMITTED, a
# SELECT … FOR UPDATE that waited for a concurrent append returns the row as that append left
# it.
_HEAD_TABLE = TrailHead._meta.db_table
_LOCK_HEAD_SQL = f"SELECT seq, hash FROM {_HEAD_TABLE} WHERE case_id = %s FOR UPDATE"
# A chain without a head row (a new case): its head, from its last event if it has one, written,
# so locked, by this transaction. An append needs the head row, so nobody appends meanwhile; a
# concurrent first writer waits on the conflict, then writes nothing, and locks the row with
# the SELECT again. No row for a case that does not exist.
_NEW_HEAD_SQL = (
    f"INSERT INTO {_HEAD_TABLE} (case_id, seq, hash)"
    " SELECT c.id, coalesce(last.seq, 0), coalesce(last.hash, %s)"
    f" FROM {Case._meta.db_table} c LEFT JOIN LATERAL"
    f" (SELECT seq, hash FROM {TrailEvent._meta.db_table} e WHERE e.case_id = c.id"
    " ORDER BY seq DESC LIMIT 1) last ON true"
    " WHERE c.id = %s ON CONFLICT (case_id) DO NOTHING RETURNING seq, hash"
)


def _lock_and_read_head(connection, case_id):
    """(seq, hash) of the case's last event (None for an empty chain), the chain's head row
    locked so that concurrent appends take consecutive sequence numbers."""
    if connection.vendor != "postgresql":
        Case.objects.select_for_update().filter(pk=case_id).values_list("pk", flat=True).get()
        return (
            TrailEvent.objects.filter(case_id=case_id)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HEAD_SQL, [case_id])
        head = cursor.fetchone()
        if head is None:
            cursor.execute(_NEW_HEAD_SQL, [GENESIS_HASH, case_id])
            head = cursor.fetchone()
        if head is None:  # written by a concurrent first append, or no such case
            cursor.execute(_LOCK_HEAD_SQL, [case_id])
            head = cursor.fetchone()
    if head is None:
        raise Case.DoesNotExist(f"case {case_id}")
    return head if head[0] else None


_INSERT_FIELDS = [f for f in TrailEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_sql(vendor):
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _INSERT_FIELDS)
    placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
    return (
        f"INSERT INTO {TrailEvent._meta.db_table} ({columns}) VALUES ({placeholders}) RETURNING id"
    )


def _insert(connection, event):
    """The event's row, written without the model's save() machinery (an append-only table:
    no signals, no update path); the database moves the chain's head to it."""
    if connection.vendor != "postgresql":
        event.save(force_insert=True)
        return
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _INSERT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias


@dataclass
class Verification:
    valid: bool
    events: int
    broken_at: int | None

    def as_dict(self):
        return {"valid": self.valid, "events": self.events, "broken_at": self.broken_at}


# The checkpoint. Seals show an event changed, inserted or removed inside a chain, but not
# events removed from its end: what is left is a whole, sealed, shorter chain. The nightly
# verification therefore seals how long each chain it found whole was (TrailCheckpoint); a
# chain shorter than that has lost its last events. A checkpoint needs only the length: every
# event up to it carries its own seal, which no one without the key can make.


def checkpoint_seal(case_id, seq):
    return _sealed(f"checkpoint:{case_id}:{seq}")


def checkpoint_matches(case_id, seq, stored):
    return _seal_holds(f"checkpoint:{case_id}:{seq}", stored)


def held_to(result, checkpoint):
    """`result` of walking a case's events, held to the case's checkpoint (a TrailCheckpoint, or
    None): a chain shorter than its checkpoint, or whose checkpoint is not sealed, is broken
    after its last event."""
    if checkpoint is None or (
        checkpoint.seq <= result.events
        and checkpoint_matches(checkpoint.case_id, checkpoint.seq, checkpoint.seal)
    ):
        return result
    first_missing = result.events + 1
    broken_at = min(result.broken_at, first_missing) if result.broken_at else first_missing
    return Verification(False, result.events, broken_at)


# The tally. A checkpoint goes with its case: remove both, with the events, and nothing is
# left to miss. The nightly run therefore also seals how many chains and events the cases up
# to the highest id held (TrailTally); fewer later means some went. Its limit: a tally is
# itself rows in the database, so removing a case together with every tally sealed since the
# case began is seen only as the newest tally's age (reports show it).


def tally_seal(last_case, chains, events):
    return _sealed(f"tally:{last_case}:{chains}:{events}")


def latest_tally():
    return TrailTally.objects.order_by("-pk").first()


def tally_holds(tally):
    return _seal_holds(f"tally:{tally.last_case}:{tally.chains}:{tally.events}", tally.seal)


def record_tally(last_case, chains, events):
    """Seal a tally, moving it only forward: a run never counts fewer cases, chains or events
    than the run before it found whole, so a tally behind the latest one in any of them is a
    run that read before a concurrent one, which recorded first (the nightly run and
    `manage.py verify_trail --all` at once): it is not recorded, else the latest tally would
    stop covering the cases and events the other one saw. Returns the new tally, or None."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Concurrent recorders one at a time, each seeing what the one before committed;
            # readers are not held up.
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {TrailTally._meta.db_table} IN EXCLUSIVE MODE")
        latest = latest_tally()
        if latest is not None and (
            latest.last_case > last_case or latest.chains > chains or latest.events > events
        ):
            return None
        return TrailTally.objects.create(
            last_case=last_case,
            chains=chains,
            events=events,
            seal=tally_seal(last_case, chains, events),
        )


def checkpoint_of(case_id):
    return TrailCheckpoint.objects.filter(case_id=case_id).first()


def checkpoints_in(first, stop):
    """{case id: TrailCheckpoint} of the cases with an id in [first, stop)."""
    return {
        c.case_id: c for c in TrailCheckpoint.objects.filter(case_id__gte=first, case_id__lt=stop)
    }


_CHECKPOINT_COLUMNS = ("case", "seq", "seal", "sealed_at")
_CHECKPOINT_BATCH = 5000


def _checkpoints_sql(rows):
    """Insert `rows` checkpoints; one already there moves only forward, its length and seal
    together (the seal is of the length). PostgreSQL locks a conflicting row and checks the
    WHERE against it as committed, so of two runs at once the longer length stays."""
    quote = connection.ops.quote_name
    table = quote(TrailCheckpoint._meta.db_table)
    columns = [quote(TrailCheckpoint._meta.get_field(name).column) for name in _CHECKPOINT_COLUMNS]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)}"
        f" ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
        f" WHERE {table}.{columns[1]} < EXCLUDED.{columns[1]}"
    )


def record_checkpoints(lengths):
    """Seal the length of each chain found whole ({case id: events}), moving checkpoints only
    forward: a run that read a chain before a concurrent run, which found it longer and
    recorded first, leaves the longer checkpoint as it is (else removing the events between
    the two lengths from the chain's end would pass)."""
    if not lengths:
        return
    sealed_at = TrailCheckpoint._meta.get_field("sealed_at").get_db_prep_save(
        timezone.now(), connection
    )
    # In case order: concurrent runs lock the rows they move in the same order.
    rows = [
        (case_id, seq, checkpoint_seal(case_id, seq), sealed_at)
        for case_id, seq in sorted(lengths.items())
    ]
    batch = max(
        1, min(_CHECKPOINT_BATCH, connection.ops.bulk_batch_size(_CHECKPOINT_COLUMNS, rows))
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            cursor.execute(
                _checkpoints_sql(len(chunk)),
                [value for row in chunk for value in row],
            )


def verify_events(events, checkpoint=None):
    """Walk a case's events in order. `broken_at` is the first event whose sequence, link to the
    previous event, own hash or seal does not match — or, when the chain is shorter than its
    `checkpoint`, the first event missing from its end; `events` counts them all."""
    prev_hash = GENESIS_HASH
    count = 0
    broken_at = None
    for event in events:
        count += 1
        if broken_at is None and (
            event.seq != count
            or event.prev_hash != prev_hash
            or compute_hash(prev_hash, event) != event.hash
            or not seal_matches(event.hash, event.seal)
        ):
            broken_at = event.seq
        prev_hash = event.hash
    return held_to(Verification(broken_at is None, count, broken_at), checkpoint)


# What verification reads of an event: the hashed fields, the two hashes and the seal.
VERIFIED_FIELDS = (
    "case_id",
    "seq",
    "at",
    "actor_id",
    "actor_role",
    "on_behalf_of_id",
    "action",
    "task_id",
    "step",
    "comment",
    "data",
    "source_ip",
    "prev_hash",
    "hash",
    "seal",
)


def event_rows(queryset):
    """The events as named tuples of VERIFIED_FIELDS (what `canonical` and `verify_events`
    read), streamed: several times faster than model instances for a whole-table walk."""
    return queryset.values_list(*VERIFIED_FIELDS, named=True).iterator(chunk_size=5000)


# --- the fast walk (PostgreSQL) ---------------------------------------------------------------
#
# A whole-table walk spends its time turning rows into Python values and building the JSON
# that `canonical` defines, not in hashing. On PostgreSQL the walk reads plain rows through a
# server-side cursor (the timestamp as the text `canonical` writes, by the database) and writes
# the canonical text directly: the keys of `canonical` in
# sorted order, each value encoded by the very encoder `json.dumps` uses, and `data` — the
# one nested value — decoded and dumped as `canonical` would, cached by its stored text (most
# events carry one of a few small payloads). tests/cases/test_trail_fast.py checks the bytes
# against `canonical` on generated events and the verdicts against `verify_events`.

# `at` as `canonical` writes it (isoformat in UTC, to the microsecond), written by the database:
# parsing the timestamp and formatting it again was a tenth of the walk's time.
_AT_TEXT = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'"""
_EVENTS_SQL = (
    "SELECT "
    + ", ".join(_AT_TEXT if f == "at" else f for f in VERIFIED_FIELDS)
    + f" FROM {TrailEvent._meta.db_table} "
    "WHERE case_id >= %s AND case_id < %s ORDER BY case_id, seq"
)
_DATA_CACHE_SIZE = 4096
_encode_data = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_encode_string = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False


def _number(value):
    return "null" if value is None else int.__repr__(value)


def _string(value):
    return "null" if value is None else _encode_string(value)


def _data_text(raw, cache):
    """`data` of a row (the stored JSON text) as `canonical` writes it."""
    text = cache.get(raw)
    if text is None:
        text = _encode_data(json.loads(raw) if raw is not None else None)
        if len(cache) >= _DATA_CACHE_SIZE:
            cache.clear()
        cache[raw] = text
    return text


def canonical_row(row, cache=None):
    """`canonical` of an event read as a raw row (VERIFIED_FIELDS, `data` as stored JSON
    text): the same bytes, written without building the dict."""
    (case_id, seq, at, actor, role, on_behalf_of, action, task, step, comment, data) = row[:11]
    source_ip = row[11]
    if type(at) is not str:  # the fast walk reads it as text already (_AT_TEXT)
        at = at.astimezone(UTC).isoformat(timespec="microseconds")
    return (
        f'{{"action":{_encode_string(action)},"actor":{_number(actor)},'
        f'"actor_role":{_encode_string(role)},'
        f'"at":"{at}",'
        f'"case":{_number(case_id)},"comment":{_encode_string(comment)},'
        f'"data":{_data_text(data, {} if cache is None else cache)},'
        f'"on_behalf_of":{_number(on_behalf_of)},"seq":{_number(seq)},'
        f'"source_ip":{_string(source_ip)},"step":{_encode_string(step)},'
        f'"task":{_number(task)}}}'
    )


def verify_rows(rows):
    """Check a stream of raw rows (VERIFIED_FIELDS, ordered by case and sequence) as
    `verify_events` checks each case's events; yields (case id, Verification) per case."""
    sha256 = hashlib.sha256
    keys = trail_seal_keys()
    cache = {}
    case_id = None
    prev_hash, count, broken_at = GENESIS_HASH, 0, None
    for row in rows:
        if row[0] != case_id:
            if case_id is not None:
                yield case_id, Verification(broken_at is None, count, broken_at)
            case_id = row[0]
            prev_hash, count, broken_at = GENESIS_HASH, 0, None
        count += 1
        seq, stored_prev, stored_hash = row[1], row[12], row[13]
        if broken_at is None and (
            seq != count
            or stored_prev != prev_hash
            or sha256((prev_hash + canonical_row(row, cache)).encode()).hexdigest() != stored_hash
            or not _sealed_by(keys, stored_hash, row[14])
        ):
            broken_at = seq
        prev_hash = stored_hash
    if case_id is not None:
        yield case_id, Verification(broken_at is None, count, broken_at)


def _raw_rows(cursor, chunk):
    while rows := cursor.fetchmany(chunk):
        yield from rows


def fast_walk_available():
    return connection.vendor == "postgresql"


def _read_raw(cursor, first, stop):
    cursor.execute(_EVENTS_SQL, [first, stop])


def verify_range(first, stop, *, chunk=10_000):
    """Verify the trail of every case with an id in [first, stop) that has events, in id
    order: yields (case id, Verification). One query, streamed in chunks of `chunk` rows;
    on PostgreSQL through the fast walk, elsewhere through `verify_events`."""
    if not fast_walk_available():
        events = event_rows(
            TrailEvent.objects.filter(case_id__gte=first, case_id__lt=stop).order_by(
                "case_id", "seq"
            )
        )
        for case_id, case_events in itertools.groupby(events, key=lambda e: e.case_id):
            yield case_id, verify_events(case_events)
        return
    # A server-side cursor lives in a transaction: the walk reads one snapshot.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        _read_raw(cursor, first, stop)
        yield from verify_rows(_raw_rows(cursor, chunk))


def verify(case):
    case_id = case.pk if isinstance(case, Case) else case
    checkpoint = checkpoint_of(case_id)
    if not fast_walk_available():
        events = event_rows(TrailEvent.objects.filter(case_id=case_id).order_by("seq"))
        return verify_events(events, checkpoint)
    with connection.cursor() as cursor:
        _read_raw(cursor, case_id, case_id + 1)
        rows = cursor.fetchall()
    for _case_id, result in verify_rows(rows):
        return held_to(result, checkpoint)
    # No events: nothing to contradict — unless the case had some.
    return held_to(Verification(True, 0, None), checkpoint)
