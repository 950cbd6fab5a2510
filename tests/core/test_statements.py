"""core.statements: hot reads built once per process and run with each call's values. Every
key the code base uses must compile to what the ORM builds for real values, and give the same
rows; a read whose SQL text depends on its values is refused when it is learned."""

import json
import re
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import selectors, services
from approvals.services import rounds
from approvals.services.delegations import create_delegation
from approvals.services.tasks import _human_task_read, _locked_read
from cases.hardship import services as hardship
from cases.mediation import services as mediation
from core import statements
from organizations.models import Organization, User
from organizations.selectors import _memberships, users_with_role
from tests.hardship import helpers as hardship_helpers
from tests.helpers import open_task, submit_sample
from tests.mediation import helpers as mediation_helpers

# Every statement the code base learns: key, build, and how to get real values for it.
KEYS = {
    "locked_task": (_locked_read, lambda demo, task, user: (task.pk,)),
    "human_task": (_human_task_read, lambda demo, task, user: (task.pk,)),
    ("inbox_page", 0, 20): (
        lambda owner_id: selectors.inbox_page(owner_id, 0, 20),
        lambda demo, task, user: (user.pk,),
    ),
    ("inbox_page", 1, 5): (
        lambda owner_id: selectors.inbox_page(owner_id, 1, 5),
        lambda demo, task, user: (user.pk,),
    ),
    "round_of": (selectors._round, lambda demo, task, user: (task.batch,)),
    "memberships_of": (_memberships, lambda demo, task, user: (user.pk,)),
    "covered_by": (
        selectors._covered_by,
        lambda demo, task, user: (demo.county_aid.pk, timezone.now()),
    ),
    # Excluding no task (0), so that the rounds and cases of one task show rows.
    "round_others": (selectors._round_others, lambda demo, task, user: (task.batch, 0)),
    "case_others": (selectors._case_others, lambda demo, task, user: (task.case_id, 0)),
    "round_and_case_others": (
        selectors._round_and_case_others,
        lambda demo, task, user: (task.batch, task.case_id, 0),
    ),
    "deciders_of_other_levels": (
        rounds._deciders_of_other_levels,
        lambda demo, task, user: (task.case_id, "level:no.such.level"),
    ),
    "holders": (
        users_with_role,
        lambda demo, task, user: ("aid_officer", demo.org("东湖镇总工会").pk),
    ),
    "holders_away": (
        rounds._delegations_of_holders,
        lambda demo, task, user: ("aid_officer", demo.org("东湖镇总工会").pk, timezone.now()),
    ),
}


# The mediation service's reads, on a filed and accepted case (its assignment step open).
MEDIATION_KEYS = {
    "mediation_case": (mediation._case_read, lambda case: (case.pk,)),
    "mediation_record_locked": (mediation._locked_record_read, lambda case: (case.pk,)),
    "mediation_open_task": (
        mediation._open_task_read,
        lambda case: (case.pk, selectors.step_ref(mediation._flow().assignment)),
    ),
}


# The hardship service's reads, on a submitted application.
HARDSHIP_KEYS = {"hardship_record": (hardship._record_read, lambda case: (case.pk,))}


def _learned_as_the_orm_builds(key, build, values_of, cases):
    """Learn `key` on the first case; for each case, the learned SQL and parameters are the
    ORM's, and so are the rows read (inside a transaction: some reads lock). The rows read."""
    statement = statements.learn(key, build, values_of(cases[0]))
    read = []
    for case in cases:
        values = values_of(case)
        sql, params = build(*values).query.get_compiler(using="default").as_sql()
        assert (statement.sql, statement.bind(values)) == (sql, list(params))
        with transaction.atomic():
            expected = list(build(*values))
            got = statements.rows(key, build, *values)
        assert got and [_fields(r) for r in got] == [_fields(r) for r in expected]
        read.append((got, expected))
    return read


@pytest.mark.postgres
@pytest.mark.parametrize("key", list(HARDSHIP_KEYS))
def test_every_hardship_key_compiles_to_what_the_orm_builds(demo, api, key):
    build, values_of = HARDSHIP_KEYS[key]
    cases = [
        hardship_helpers.submit(api, worker, id_number=hardship_helpers.ric_number(seq))
        for seq, worker in ((1, demo.worker1), (2, demo.worker2))
    ]
    for got, expected in _learned_as_the_orm_builds(key, build, values_of, cases):
        assert got[0].id_number == expected[0].id_number  # decrypted as the ORM decrypts it


# As PostgreSQL receives them: SQLite gets UUIDs and datetimes as text, and for those keys the
# ORM builds the statement (the refusal tests below).
@pytest.mark.postgres
@pytest.mark.parametrize("key", list(MEDIATION_KEYS))
def test_every_mediation_key_compiles_to_what_the_orm_builds(demo, api, key):
    build, values_of = MEDIATION_KEYS[key]
    cases = []
    for _ in range(2):
        case = mediation_helpers.filed(api, demo.worker1, demo)
        mediation_helpers.accept(api, demo, case)
        cases.append(case)
    _learned_as_the_orm_builds(key, build, values_of, cases)


def _claimed_tasks(demo, count):
    tasks = []
    for i in range(count):
        task = open_task(submit_sample(demo.worker1, title=f"Sample {i}"))
        services.claim(task_id=task.pk, user=demo.chair1)
        tasks.append(task)
    return tasks


def _fields(obj, depth=2):
    """A model instance's loaded values, and those of the related rows it carries (values
    and value lists as they are)."""
    if not hasattr(obj, "_state"):
        return obj
    values = {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}
    if depth:
        for name, related in obj._state.fields_cache.items():
            values[name] = None if related is None else _fields(related, depth - 1)
    return values


@pytest.mark.postgres
@pytest.mark.parametrize("key", list(KEYS), ids=str)
def test_every_key_compiles_to_what_the_orm_builds_and_reads_the_same_rows(demo, key):
    build, values_of = KEYS[key]
    tasks = _claimed_tasks(demo, 3)
    # A decided step, for the reads of who decided what.
    services.complete(task_id=tasks[0].pk, user=demo.chair1, decision="approve")
    now = timezone.now()
    create_delegation(
        user=demo.town_aid2,
        delegate="county_aid",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=3),
    )
    statement = statements.learn(key, build, values_of(demo, tasks[0], demo.chair1))
    read_rows = False
    for task in tasks:
        for user in (demo.chair1, demo.chair2):
            values = values_of(demo, task, user)
            sql, params = build(*values).query.get_compiler(using="default").as_sql()
            assert (statement.sql, statement.bind(values)) == (sql, list(params))
            expected = list(build(*values))
            got = statements.rows(key, build, *values)
            assert [_fields(t) for t in got] == [_fields(t) for t in expected]
            read_rows = read_rows or bool(expected)
    assert read_rows, "a key checked on no rows proves little"


def test_a_learned_read_needs_no_more_statements_for_its_related_rows(demo):
    [task] = _claimed_tasks(demo, 1)
    statements.rows("locked_task", _locked_read, task.pk)
    with CaptureQueriesContext(connection) as queries:
        [read] = statements.rows("locked_task", _locked_read, task.pk)
        shown = (read.case.organization.name, read.owner.username, read.process.pk)
        shown += (read.case.applicant.username, read.candidate_organization.name)
    assert len(queries) == 1
    assert shown[:2] == (task.case.organization.name, "chair1")


def test_values_and_flat_lists_come_out_as_the_orm_gives_them(demo):
    def names(kind):
        return (
            Organization.objects.filter(kind=kind).order_by("path").values_list("name", flat=True)
        )

    def rows(kind):
        return Organization.objects.filter(kind=kind).order_by("path").values("pk", "name")

    for kind in ("grassroots", "town"):
        assert statements.rows("t_names", names, kind) == list(names(kind))
        assert statements.rows("t_rows", rows, kind) == list(rows(kind))
    assert statements.rows("t_names", names, "no such kind") == []


@pytest.mark.parametrize(
    "build, value, why",
    [
        # The value becomes text: LIMIT is written into the SQL.
        (lambda n: Organization.objects.order_by("pk")[:n], 3, "not a parameter"),
        # The ORM wraps the value: `%…%` is what is sent, not the value.
        (lambda name: Organization.objects.filter(name__contains=name), "湖", "not a parameter"),
        # No stand-in for dates (or model instances).
        (lambda day: User.objects.filter(date_joined__date=day), date(2024, 1, 1), "date"),
        # A statement the ORM would not even send has no SQL to learn.
        (lambda pk: Organization.objects.filter(pk=pk, name__in=[]), 1, "empty"),
        # More statements than one.
        (lambda pk: User.objects.filter(pk=pk).prefetch_related("memberships"), 1, "prefetch"),
    ],
    ids=["limit", "contains", "date", "empty", "prefetch"],
)
def test_a_read_whose_text_depends_on_its_values_is_not_learned_but_still_answered(
    demo, build, value, why, caplog, request
):
    key = f"t_refused_{request.node.callspec.id}"
    with pytest.raises(statements.NotPrecompilable, match=why):
        statements.learn(key, build, (value,))
    with caplog.at_level("WARNING", logger="core.statements"):
        for _ in range(2):
            assert statements.rows(key, build, value) == list(build(value))
    [warning] = caplog.records
    assert warning.getMessage().startswith(f"Statement '{key}' is built by the ORM: ")
    assert why in warning.getMessage()


def test_a_value_of_another_type_than_learned_is_answered_by_the_orm(demo):
    def by_pk(pk):
        return Organization.objects.filter(pk=pk)

    org = demo.org("东湖镇总工会")
    statement = statements.learn("t_by_pk", by_pk, (org.pk,))
    with pytest.raises(statements.NotPrecompilable, match="types"):
        statement.bind([str(org.pk)])
    assert statements.rows("t_by_pk", by_pk, str(org.pk)) == [org]
    assert statements.rows("t_by_pk", by_pk, org.pk) == [org]
    # Beyond 64 bits the ORM knows no row can match; PostgreSQL would compare a numeric.
    with pytest.raises(statements.NotPrecompilable, match="64 bits"):
        statement.bind([2**63])
    assert statements.rows("t_by_pk", by_pk, 2**63) == []


def test_every_key_in_the_code_base_is_checked_here():
    """The tests above hold each learned key equal to the ORM: a new key must join them."""
    root = Path(__file__).resolve().parents[2]
    used = set()
    for path in root.glob("*/**/*.py"):
        if path.parts[len(root.parts)] in ("tests", ".venv", "bench"):
            continue
        text = path.read_text()
        used |= set(re.findall(r'statements\.rows\(\s*"(\w+)"', text))
        used |= {f"({k}" for k in re.findall(r'statements\.rows\(\s*\(\s*"(\w+)"', text)}
    checked = {
        k if isinstance(k, str) else f"({k[0]}" for k in [*KEYS, *MEDIATION_KEYS, *HARDSHIP_KEYS]
    }
    assert used and used <= checked, used - checked


def test_the_learned_statements_are_bounded(db, monkeypatch):
    monkeypatch.setattr(statements, "MAX_STATEMENTS", 3)
    for pk in range(10):
        statements.learn(("t_bounded", pk), lambda v: Organization.objects.filter(pk=v), (pk,))
        assert len(statements._learned) <= 3


@pytest.mark.django_db(transaction=True)
def test_each_thread_runs_a_learned_statement_on_its_own_connection(demo):
    """Learned in one thread, run in another inside its own transaction: the run sees that
    transaction's uncommitted row, so it went through that thread's connection."""

    def by_name(name):
        return Organization.objects.filter(name=name)

    assert statements.rows("t_by_name", by_name, "未提交的工会") == []
    seen, errors = [], []

    def other_thread():
        try:
            with transaction.atomic():
                Organization.objects.add_root({"name": "未提交的工会", "kind": "grassroots"})
                seen.append([o.name for o in statements.rows("t_by_name", by_name, "未提交的工会")])
                transaction.set_rollback(True)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert errors == []
    assert seen == [["未提交的工会"]]
    assert statements.rows("t_by_name", by_name, "未提交的工会") == []


# --- saving a row that exists (save_row) ------------------------------------------------


def _rows_of(task_id):
    """Both rows of a task, every column, as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(t)::text, row_to_json(c)::text FROM viewflow_task t"
            " JOIN approvals_casetask c ON c.task_ptr_id = t.id WHERE t.id = %s",
            [task_id],
        )
        return cursor.fetchone()


def _columns(task_id, *unlike):
    """Both rows of a task as dicts, without the columns that differ between two tasks."""
    rows = [json.loads(row) for row in _rows_of(task_id)]
    for row in rows:
        for column in ("id", "task_ptr_id", *unlike):
            row.pop(column, None)
    return rows


def _saved_both_ways(learned, by_orm, **orm_only):
    """Save `learned` (the learned statement) and `by_orm` (any argument: the ORM's own save);
    for each statement the learned save sent, the tables it writes, in order."""
    with CaptureQueriesContext(connection) as ctx:
        learned.save()
    by_orm.save(**orm_only)
    return [re.findall(r'(?:INSERT INTO|UPDATE) ("\w+")', q["sql"]) for q in ctx.captured_queries]


def _changed(task, demo):
    """The same changes of every kind of column: a person, a status, text, JSON, a time."""
    task.owner = demo.chair1
    task.status = "ASSIGNED"
    task.comment = "看过了"
    task.data = {**task.data, "note": "家访", "amount": "800.00"}
    task.due_at = timezone.now().replace(microsecond=0) + timedelta(days=3)
    task.decision = ""
    task.completed_by = None
    task._trail_handled = True  # as the services mark it: no engine event in the trail
    return task


@pytest.mark.postgres
def test_saving_a_task_writes_what_the_orms_save_writes(demo):
    """A task saved through the learned statements holds the same columns as one saved by
    Model.save(), in both of its rows, written by one statement."""
    from approvals.models import CaseTask

    learned = CaseTask.objects.get(pk=open_task(submit_sample(demo.worker1)).pk)
    by_orm = CaseTask.objects.get(pk=open_task(submit_sample(demo.worker2)).pk)
    due = timezone.now().replace(microsecond=0) + timedelta(days=3)
    for task in (learned, by_orm):
        _changed(task, demo).due_at = due
    assert _saved_both_ways(learned, by_orm, force_update=True) == [
        ['"viewflow_task"', '"approvals_casetask"']
    ]
    unlike = ("process_id", "case_id", "batch", "created")
    assert _columns(learned.pk, *unlike) == _columns(by_orm.pk, *unlike)
    fresh = CaseTask.objects.get(pk=learned.pk)
    assert (fresh.owner_id, fresh.status, fresh.flow_status, fresh.comment) == (
        demo.chair1.pk,
        "ASSIGNED",
        "ASSIGNED",
        "看过了",
    )
    assert fresh.data["note"] == "家访" and fresh.due_at == due


@pytest.mark.postgres
def test_a_new_task_is_written_as_the_orms_save_writes_it(demo):
    """A new task's two rows, written through the learned statements, hold what Model.save()
    writes for the same task, in one statement; its id comes back from the database and links
    both rows."""
    import uuid

    from approvals.models import CaseTask

    model = CaseTask.objects.get(pk=open_task(submit_sample(demo.worker1)).pk)
    batch, created = uuid.uuid4(), timezone.now()

    def new_task():
        task = CaseTask(
            process_id=model.process_id,
            flow_task=model.flow_task,
            case_id=model.case_id,
            candidate_organization_id=model.candidate_organization_id,
            candidate_role=model.candidate_role,
            batch=batch,
            created=created,
            data={"note": "补充材料"},
            due_at=created + timedelta(days=5),
        )
        task._trail_handled = True
        return task

    learned, by_orm = new_task(), new_task()
    assert _saved_both_ways(learned, by_orm, force_insert=True) == [
        ['"viewflow_task"', '"approvals_casetask"']
    ]
    assert learned.pk and learned.id == learned.task_ptr_id == learned.pk != by_orm.pk
    assert learned._state.adding is False and learned._state.db == "default"

    assert _columns(learned.pk) == _columns(by_orm.pk)
    assert CaseTask.objects.get(pk=learned.pk).flow_task_type == model.flow_task_type


@pytest.mark.postgres
def test_a_learned_save_sends_the_signals_save_sends(demo):
    from django.db.models.signals import post_save, pre_save

    from approvals.models import CaseTask

    task = CaseTask.objects.get(pk=open_task(submit_sample(demo.worker1)).pk)
    heard = []

    def listen(signal):
        def receiver(sender, instance, **kwargs):
            heard.append((signal, sender, instance, kwargs.get("created")))

        return receiver

    receivers = {pre_save: listen("pre"), post_save: listen("post")}
    for signal, receiver in receivers.items():
        signal.connect(receiver, sender=CaseTask)
    _changed(task, demo)
    try:
        with CaptureQueriesContext(connection) as ctx:
            task.save()
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver, sender=CaseTask)
    assert len(ctx.captured_queries) == 1  # the learned path
    assert heard == [("pre", CaseTask, task, None), ("post", CaseTask, task, False)]

    heard.clear()
    copy = CaseTask(process_id=task.process_id, flow_task=task.flow_task, case_id=task.case_id)
    copy._trail_handled = True
    for signal, receiver in receivers.items():
        signal.connect(receiver, sender=CaseTask)
    try:
        copy.save()
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver, sender=CaseTask)
    assert heard == [("pre", CaseTask, copy, None), ("post", CaseTask, copy, True)]


@pytest.mark.postgres
def test_what_a_learned_save_does_not_apply_to_is_saved_by_the_orm(demo):
    """A new task with its key set is saved as save() saves it (an UPDATE first); a partly
    loaded task writes only what was loaded; a row that is gone is written again (as save()
    does); a value that is an expression is computed by the database."""
    from django.db.models import F

    from approvals.models import CaseTask
    from core.models import Parameter

    task = open_task(submit_sample(demo.worker1))
    assert statements.save_row(CaseTask(id=task.pk + 10**6, task_ptr_id=task.pk + 10**6)) is False
    partial = CaseTask.objects.only("comment").get(pk=task.pk)
    assert statements.save_row(partial) is False
    partial.comment = "只改这一项"
    with CaptureQueriesContext(connection) as ctx:
        partial.save()
    assert all('"owner_id"' not in q["sql"] for q in ctx.captured_queries)
    assert CaseTask.objects.get(pk=task.pk).comment == "只改这一项"

    whole = CaseTask.objects.get(pk=task.pk)
    whole.position = F("position") + 1
    assert statements.save_row(whole) is False
    whole.save()
    assert CaseTask.objects.get(pk=task.pk).position == task.position + 1

    gone = CaseTask(process_id=task.process_id, flow_task=task.flow_task, case_id=task.case_id)
    gone._trail_handled = True
    gone.save()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM approvals_casetask WHERE task_ptr_id = %s", [gone.pk])
        cursor.execute("DELETE FROM viewflow_task WHERE id = %s", [gone.pk])
    gone.comment = "已删除"
    assert statements.save_row(gone) is False  # both rows gone: neither is written again
    assert _rows_of(gone.pk) is None and not CaseTask.objects.filter(pk=gone.pk).exists()

    parameter = Parameter.objects.create(key="test.gone", value=1, effective_from=date(2000, 1, 1))
    Parameter.objects.filter(pk=parameter.pk).delete()
    parameter.value = 2
    assert statements.save_row(parameter) is False  # nothing matched: nothing written
    assert not Parameter.objects.filter(pk=parameter.pk).exists()
    parameter.save()
    assert Parameter.objects.get(pk=parameter.pk).value == 2
