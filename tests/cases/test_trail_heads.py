"""A transaction that appends several events to one case locks the case and reads the chain's
head once; the head it remembers is dropped whenever what it saw may be undone (a savepoint
rolled back, the transaction committed or rolled back), so every chain still verifies."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import trail
from cases.models import TrailEvent
from tests.helpers import submit_sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _head_reads(queries):
    """Times the case was locked for its chain's head (the lock, then the read of the head)."""
    return sum("FOR UPDATE" in q["sql"] and "cases_case" in q["sql"] for q in queries)


def _chain(case):
    return list(TrailEvent.objects.filter(case=case).order_by("seq").values_list("seq", "action"))


def test_several_events_of_one_transaction_lock_and_read_the_head_once(demo):
    case = submit_sample(demo.worker1)
    chair = demo.chair1
    before = case.trail.count()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        for n in range(4):
            trail.append(case, "case.noted", actor=chair, data={"n": n})
    assert _head_reads(queries.captured_queries) == 1
    assert len(queries.captured_queries) == 2 + 4  # lock, head, then one insert per event
    assert [seq for seq, _ in _chain(case)] == list(range(1, before + 5))
    assert trail.verify(case).valid


def test_an_event_undone_by_a_savepoint_is_not_the_next_events_predecessor(demo):
    case = submit_sample(demo.worker1)
    chair = demo.chair1
    before = case.trail.count()
    with transaction.atomic():
        trail.append(case, "case.noted", actor=chair, comment="kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            trail.append(case, "case.noted", actor=chair, comment="undone")
            raise RuntimeError("the step failed")
        with CaptureQueriesContext(connection) as queries:
            trail.append(case, "case.noted", actor=chair, comment="after")
    assert _head_reads(queries.captured_queries) == 1  # read again, not taken from memory
    comments = list(case.trail.order_by("seq").values_list("seq", "comment"))
    assert comments[before:] == [(before + 1, "kept"), (before + 2, "after")]
    assert trail.verify(case).valid


def test_an_event_inside_a_released_savepoint_is_remembered(demo):
    case = submit_sample(demo.worker1)
    chair = demo.chair1
    with transaction.atomic():
        with transaction.atomic():
            trail.append(case, "case.noted", actor=chair)
        with CaptureQueriesContext(connection) as queries:
            trail.append(case, "case.noted", actor=chair)
    assert _head_reads(queries.captured_queries) == 0  # still this transaction's event
    assert trail.verify(case).valid


def test_a_rolled_back_transaction_leaves_no_remembered_head(demo):
    case = submit_sample(demo.worker1)
    chair = demo.chair1
    with pytest.raises(RuntimeError), transaction.atomic():
        trail.append(case, "case.noted", actor=chair, comment="rolled back")
        trail.append(case, "case.noted", actor=chair, comment="rolled back too")
        raise RuntimeError("the operation failed")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        trail.append(case, "case.noted", actor=chair, comment="next")
    assert _head_reads(queries.captured_queries) == 1
    assert "rolled back" not in set(case.trail.values_list("comment", flat=True))
    assert trail.verify(case).valid


def test_a_committed_transaction_leaves_no_remembered_head(demo):
    """Another transaction may append between two of ours: the next one reads the head."""
    case = submit_sample(demo.worker1)
    chair = demo.chair1
    with transaction.atomic():
        trail.append(case, "case.noted", actor=chair, comment="first")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        trail.append(case, "case.noted", actor=chair, comment="second")
    assert _head_reads(queries.captured_queries) == 1
    assert trail.verify(case).valid
