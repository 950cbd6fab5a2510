"""A transaction that appends several events to one case locks the chain's head row and reads
it once, in one statement; the head it remembers is dropped whenever what it saw may be undone (a savepoint
rolled back, the transaction committed or rolled back), so every chain still verifies."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import trail
from cases.models import TrailEvent, TrailHead
from tests.helpers import submit_sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _head_reads(queries):
    """Times the chain's head row was locked and read."""
    return sum("FOR UPDATE" in q["sql"] and "cases_trailhead" in q["sql"] for q in queries)


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
    assert len(queries.captured_queries) == 1 + 4  # the head locked, then one insert per event
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


def _head(case):
    return TrailHead.objects.filter(case=case).values_list("seq", "hash").first()


def _last_event(case):
    return case.trail.order_by("-seq").values_list("seq", "hash").first()


def test_the_head_row_is_the_last_event_after_every_append(demo):
    case = submit_sample(demo.worker1)
    assert _head(case) == _last_event(case)
    with transaction.atomic():
        trail.append(case, "case.noted", actor=demo.chair1)
        trail.append(case, "case.noted", actor=demo.chair1)
    assert _head(case) == _last_event(case)
    with pytest.raises(RuntimeError), transaction.atomic():
        trail.append(case, "case.noted", actor=demo.chair1)
        raise RuntimeError("the operation failed")
    assert _head(case) == _last_event(case)  # rolled back with the event


def test_a_chain_without_a_head_row_goes_on_from_its_last_event(demo):
    """Events written before heads were kept (or a head row lost) are not a new chain: the
    next append writes the head from the events and continues them."""
    case = submit_sample(demo.worker1)
    before = case.trail.count()
    TrailHead.objects.filter(case=case).delete()
    with transaction.atomic():
        event = trail.append(case, "case.noted", actor=demo.chair1)
    assert event.seq == before + 1
    assert _head(case) == _last_event(case) == (event.seq, event.hash)
    assert trail.verify(case).valid


def test_appending_to_a_case_that_does_not_exist_is_refused(demo):
    from cases.models import Case

    with pytest.raises(Case.DoesNotExist), transaction.atomic():
        trail.append(10**9, "case.noted", actor=demo.chair1)
    assert not TrailHead.objects.filter(case_id=10**9).exists()


@pytest.mark.parametrize("head_row", ["kept", "missing"])
def test_twenty_appends_at_once_take_consecutive_numbers(demo, head_row):
    """Twenty transactions append to one case at the same moment, each on its own connection:
    the head row's lock orders them, also when the first of them has to write it."""
    case = submit_sample(demo.worker1)
    before = case.trail.count()
    if head_row == "missing":
        TrailHead.objects.filter(case=case).delete()
    barrier = threading.Barrier(20)
    failures = []

    def append(n):
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                trail.append(case.pk, "case.noted", actor=demo.chair1, data={"n": n})
        except Exception as exc:  # noqa: BLE001  (reported below)
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [seq for seq, _ in _chain(case)] == list(range(1, before + 21))
    assert sorted(case.trail.filter(action="case.noted").values_list("data__n", flat=True)) == list(
        range(20)
    )
    assert _head(case) == _last_event(case)
    assert trail.verify(case).valid


@pytest.mark.tampers_trail
def test_events_written_by_others_move_the_head_too(demo):
    """An event inserted without the trail's code (a bulk load, an application server still
    running the code from before heads were kept) moves the head all the same, so the next
    append follows it instead of taking its number. Written without the key, it has no seal:
    verification names it (tests/cases/test_trail_seals.py)."""
    case = submit_sample(demo.worker1)
    head_seq, head_hash = _head(case)
    event = TrailEvent(
        case=case, seq=head_seq + 1, action="case.noted", prev_hash=head_hash, data={}
    )
    event.hash = trail.compute_hash(head_hash, event)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cases_trailevent (case_id, seq, at, actor_role, action, step, comment,"
            " data, prev_hash, hash) VALUES (%s, %s, %s, '', %s, '', '', %s, %s, %s)",
            [case.pk, event.seq, event.at, event.action, "{}", event.prev_hash, event.hash],
        )
    assert _head(case) == (event.seq, event.hash)
    with transaction.atomic():
        after = trail.append(case, "case.noted", actor=demo.chair1)
    assert after.seq == event.seq + 1 and after.prev_hash == event.hash
    assert trail.verify(case).as_dict() == {
        "valid": False,
        "events": after.seq,
        "broken_at": event.seq,
    }
