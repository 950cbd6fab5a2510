"""Hot reads whose SQL is built once per process and then run with each call's values, and
saves of rows through statements written once per model (`save_row`, at the end).

The ORM builds a statement afresh on every call: a task read with its case, organization and
people (ten tables, about a hundred columns) costs about 2.5 ms of Python to build and 0.5 ms
for PostgreSQL to run. For reads whose shape never changes, only their values, `rows()` builds
the queryset once per key with stand-in values, finds where those values landed among the
statement's parameters, and afterwards runs the same SQL with the values put in their place.
Model instances come out as the ORM makes them (its own iterable, with `select_related`).

A statement qualifies only if its text does not depend on the values, which is checked when it
is learned: every stand-in must be found among the parameters, exactly, and never in the text
(a `LIMIT` is text: put the page in the key). tests/core/test_statements.py holds the SQL and
parameters of every key used in the code base equal to what the ORM builds for real values."""

import copy
import functools
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_save, pre_save

# Stand-ins: no key, id or word the system stores looks like these. The number fits a 32-bit
# column: the ORM leaves out a comparison with a number out of its column's range.
_INT_STAND_IN = 2**31 - 7_919
_TEXT_STAND_IN = "\x1fstand-in {}\x1f"
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
_UUID_STAND_IN = "5a4d1e00-57a4-4d00-a000-{:012x}"
_DATETIME_STAND_IN = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)
# Keys include page offsets and sizes; a process keeps at most this many statements.
MAX_STATEMENTS = 512

_learned = {}
_unlearnable = set()  # keys whose statement cannot be learned: the ORM builds them
_warned = set()
_lock = threading.Lock()
logger = logging.getLogger(__name__)


class NotPrecompilable(ValueError):
    """The statement's text depends on a value, or a value's type has no stand-in."""


def _stand_in(value, index):
    kind = type(value)
    if kind is int:
        return _INT_STAND_IN - index
    if kind is str:
        return _TEXT_STAND_IN.format(index)
    if kind is uuid.UUID:
        return uuid.UUID(_UUID_STAND_IN.format(index))
    if kind is datetime and value.tzinfo is not None:
        return _DATETIME_STAND_IN + timedelta(seconds=index)
    raise NotPrecompilable(
        f"value {index} is {kind.__name__}: only whole numbers, text, UUIDs and aware "
        "datetimes have stand-ins"
    )


def _texts_of(stand_in):
    """How a stand-in would read if the ORM wrote it into the SQL."""
    return (str(stand_in), stand_in.hex) if isinstance(stand_in, uuid.UUID) else (str(stand_in),)


class _Statement:
    """What one key compiled to: the SQL, the parameters with the slots the values go in, and
    the compiler's description of the columns (what the ORM's iterable reads)."""

    def __init__(self, queryset, stand_ins, using):
        if queryset._prefetch_related_lookups:
            raise NotPrecompilable("prefetch_related runs outside the statement")
        compiler = queryset.query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet) as exc:
            raise NotPrecompilable("a stand-in value left the statement empty or whole") from exc
        slots = []
        for position, param in enumerate(params):
            for index, stand_in in enumerate(stand_ins):
                if type(param) is type(stand_in) and param == stand_in:
                    slots.append((position, index))
        found = {index for _position, index in slots}
        for index, stand_in in enumerate(stand_ins):
            if index not in found or any(text in sql for text in _texts_of(stand_in)):
                raise NotPrecompilable(
                    f"value {index} is not a parameter of the statement as it stands"
                )
        self.sql = sql
        self.params = tuple(params)
        self.slots = tuple(slots)
        self.types = tuple(type(stand_in) for stand_in in stand_ins)
        self.queryset = queryset
        # What turns each column's value into Python (JSON, a step's node, …), asked of every
        # column on every run otherwise. They take the connection as an argument when they run;
        # the backend's own converters are the vendor's, the same for every connection.
        self.converters = compiler.get_converters(
            [column[0] for column in compiler.select[: compiler.col_count]]
        )
        compiler.connection = None  # each run takes its own thread's connection
        self.compiler = compiler

    def bind(self, values):
        if tuple(map(type, values)) != self.types:
            raise NotPrecompilable(
                f"values of types {[type(v).__name__ for v in values]} for a statement learned "
                f"with {[t.__name__ for t in self.types]}"
            )
        if any(type(v) is int and not _BIGINT_MIN <= v <= _BIGINT_MAX for v in values):
            # The ORM knows such a number matches no row of its column; the database would
            # compare it as a numeric, or refuse it.
            raise NotPrecompilable("a whole number beyond 64 bits")
        params = list(self.params)
        for position, index in self.slots:
            params[position] = values[index]
        return params


class _Run:
    """What the ORM's iterables ask of a queryset, for one run of a learned statement: the
    queryset the statement was learned from, but with a query whose compiler gives the SQL
    and this run's parameters."""

    def __init__(self, statement, values, using):
        self.statement = statement
        self.db = using
        self.query = _Query(statement, statement.bind(values), using)

    def __getattr__(self, name):
        return getattr(self.statement.queryset, name)


class _Query:
    def __init__(self, statement, params, using):
        self.statement = statement
        self.params = params
        self.db = using

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        compiler = copy.copy(self.statement.compiler)
        compiler.connection = connections[self.db]
        sql, params = self.statement.sql, self.params
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        converters = self.statement.converters
        compiler.get_converters = lambda expressions: converters
        return compiler

    def __getattr__(self, name):
        return getattr(self.statement.queryset.query, name)


def whole_number(value):
    """An id as a caller may pass it (a number, or its digits) as an int, or None when it is
    neither or does not fit a 64-bit column: such an id names no row."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if type(value) is int and _BIGINT_MIN <= value <= _BIGINT_MAX:
        return value
    return None


def learn(key, build, values, using=DEFAULT_DB_ALIAS):
    """The statement `build(*values)` compiles to, learned once per process and key."""
    statement = _learned.get((using, key))
    if statement is None:
        stand_ins = [_stand_in(value, i) for i, value in enumerate(values)]
        statement = _Statement(build(*stand_ins), stand_ins, using)
        with _lock:
            if len(_learned) >= MAX_STATEMENTS:
                _learned.clear()
            _learned[using, key] = statement
    return statement


def rows(key, build, *values, using=DEFAULT_DB_ALIAS):
    """What `build(*values)` would give, as a list. `build` takes the values and returns a
    queryset whose SQL depends on them only as parameters; the values are whole numbers, text,
    UUIDs or aware datetimes, valid for their columns (pass a row's id, not the row). `key`
    names the read among every such read.

    Where the database adapts a value before sending it (SQLite sends UUIDs and datetimes as
    text), or a call passes a value of another type than the one learned or a number beyond
    64 bits, the ORM builds the statement (a warning says why, once per key)."""
    if (using, key) in _unlearnable:
        return list(build(*values))
    try:
        statement = learn(key, build, values, using)
    except NotPrecompilable as exc:
        _unlearnable.add((using, key))
        _warn_once(using, key, exc)
        return list(build(*values))
    try:
        run = _Run(statement, values, using)
    except NotPrecompilable as exc:  # this call's values only
        _warn_once(using, key, exc)
        return list(build(*values))
    return list(statement.queryset._iterable_class(run))


def _warn_once(using, key, exc):
    if (using, key) not in _warned:
        _warned.add((using, key))
        logger.warning("Statement %r is built by the ORM: %s", key, exc)


# --- saving a row ----------------------------------------------------------------------------
#
# Model.save() builds its INSERT or UPDATE afresh on every call (a task is two rows, viewflow's
# and ours: two statements of twenty-odd columns each). `save_row` writes the same rows from SQL
# written once per model, in one statement however many tables hold the row (each parent's
# write is a data-modifying WITH query the next table's write follows): every column, as save()
# writes them, with the values the fields prepare as save() prepares them, and the same signals
# around them.


def _tables(model):
    """The models whose tables hold a row of `model`, parents first, when each table links to
    the one before it by its key (a single line of parents); None otherwise."""
    tables = [*reversed(model._meta.get_parent_list()), model]
    for parent, child in zip(tables, tables[1:], strict=False):
        link = child._meta.parents.get(parent)
        if list(child._meta.parents) != [parent] or link is None or not link.primary_key:
            return None
    return tables


def _written_fields(meta, *, skip):
    fields = [f for f in meta.local_concrete_fields if f not in skip and not f.generated]
    if any(hasattr(f, "get_placeholder") for f in fields):
        return None  # a field that writes its value through its own placeholder
    return fields


class _Write:
    """One statement that writes a row's every table: its SQL and the fields whose prepared
    values are its parameters, in order."""

    def __init__(self, sql, fields, links=()):
        self.sql = sql
        self.fields = fields
        self.links = links  # the key fields that take the first table's key


@functools.cache
def _insert_statement(model, using):
    """The INSERT of a new row of `model` whose key the database makes (returned); None when the
    key is not an automatic one or a field writes its value through its own placeholder."""
    quote = connections[using].ops.quote_name
    tables = _tables(model)
    if tables is None or tables[0]._meta.auto_field is None:
        return None
    root_key = tables[0]._meta.auto_field
    parts, fields, links = [], [], []
    for position, table_model in enumerate(tables):
        meta = table_model._meta
        link = meta.pk if position else None
        own = _written_fields(meta, skip=(root_key, link))
        if own is None:
            return None
        columns = [quote(f.column) for f in own]
        values = ["%s"] * len(own)
        if link is not None:  # the parent's key, from the WITH query that wrote its row
            columns.insert(0, quote(link.column))
            previous = tables[position - 1]._meta.pk.column
            values.insert(0, f"(SELECT {quote(previous)} FROM {quote(f'_row{position - 1}')})")
            links.append(link)
        returned = quote((link or root_key).column)
        parts.append(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
            f"VALUES ({', '.join(values)}) RETURNING {quote(meta.db_table)}.{returned}"
        )
        fields.extend(own)
    return _Write(_with(parts, quote), fields, [root_key, *links])


@functools.cache
def _update_statement(model, using):
    """The UPDATE of every column of an existing row of `model`, returning how many of its
    parents' rows it updated; None when a field writes its value through its own placeholder."""
    quote = connections[using].ops.quote_name
    tables = _tables(model)
    if tables is None:
        return None
    parts, fields = [], []
    for position, table_model in enumerate(tables):
        meta = table_model._meta
        own = _written_fields(meta, skip=(meta.pk,))
        if own is None:
            return None
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in own)
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
        last = position == len(tables) - 1
        counted = " + ".join(f"(SELECT count(*) FROM {quote(f'_row{i}')})" for i in range(position))
        parts.append(f"{sql} RETURNING {counted or 0}" if last else f"{sql} RETURNING 1")
        fields.extend([*own, meta.pk])
    return _Write(_with(parts, quote), fields)


def _with(parts, quote):
    """The last statement, after the others as its WITH queries `_row0`, `_row1`, …"""
    *parents, last = parts
    if not parents:
        return last
    queries = ", ".join(f"{quote(f'_row{i}')} AS ({sql})" for i, sql in enumerate(parents))
    return f"WITH {queries} {last}"


def save_row(instance, using=DEFAULT_DB_ALIAS):
    """Save every field of `instance` as `Model.save()` would — a new row (its key made by the
    database) or one that exists — through one statement written once per model. False when it
    does not apply (another database, a partly loaded instance, a new one with its key set, a
    value that is an expression, or a row that is gone): the caller saves through the ORM,
    which then does what save() does in those cases."""
    connection = connections[using]
    if connection.vendor != "postgresql" or instance._state.db not in (None, using):
        return False
    model = type(instance)
    adding = instance._state.adding
    if adding:
        if instance.pk is not None:
            return False
        write = _insert_statement(model, using)
    else:
        if instance.pk is None or instance.get_deferred_fields():
            return False
        write = _update_statement(model, using)
    if write is None or any(
        hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save")
        for value in (getattr(instance, f.attname) for f in write.fields)
    ):
        return False
    instance._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=instance, raw=False, using=using, update_fields=None)
    params = [f.get_db_prep_save(f.pre_save(instance, adding), connection) for f in write.fields]
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(write.sql, params)
        row = cursor.fetchone()
    if adding:
        for key in write.links:  # the row's key, in each of its tables' key fields
            setattr(instance, key.attname, row[0])
    elif row is None or row[0] != len(_tables(model)) - 1:
        # Gone: save() inserts it again (pre_save, which nothing here listens to, is sent
        # twice). A row is gone from all of its tables or none, so nothing was written.
        return False
    instance._state.db = using
    instance._state.adding = False
    post_save.send(
        sender=model, instance=instance, created=adding, update_fields=None, raw=False, using=using
    )
    return True
