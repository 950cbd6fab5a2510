"""Two verifications at once (the nightly run and `manage.py verify_trail --all`): a run that read
the chains before the other one, which found them longer, records last. The checkpoints and the
tally it records must not move back to what it read — else removing the events between the two
lengths from a chain's end, or a case made between the two reads, would pass."""

import threading

import pytest
from django.db import connection

from approvals import services
from cases import trail
from cases.models import TrailCheckpoint, TrailTally
from reports.services import verify_all_trails
from tests.cases.test_trail import _drive_to_approval
from tests.cases.test_trail_fast import _unguarded
from tests.helpers import open_task, submit_sample


def _remove_from(case, seq):
    _unguarded("DELETE FROM cases_trailevent WHERE case_id = %s AND seq >= %s", [case.pk, seq])


def _remove_whole(case):
    TrailCheckpoint.objects.filter(case=case).delete()
    _unguarded("DELETE FROM cases_trailevent WHERE case_id = %s", [case.pk])


def _decide_the_rest(demo, case):
    services.complete(
        task_id=open_task(case).pk,
        user=demo.town_aid1,
        decision="approve",
        data={"approved_amount": "80"},
    )


def _half_way(demo):
    """A case verified once (its checkpoint and the tally recorded), then moved on: the chain
    is longer than its checkpoint; returns it and its length."""
    case = submit_sample(demo.worker1)
    verify_all_trails(record=True)
    services.complete(task_id=open_task(case).pk, user=demo.chair1, decision="approve")
    return case, case.trail.count()


def _b_records_while_a_waits(monkeypatch, meanwhile):
    """Run A walks the chains; before it records, `meanwhile()` (events appended, cases made)
    and run B, which walks and records; then A records what it read. Returns B's result."""
    real = trail.record_checkpoints
    b = {}

    def a_then_b(lengths):
        if not b:
            b["run"] = None  # B records with the real function
            meanwhile()
            b["run"] = verify_all_trails(record=True)
        return real(lengths)

    monkeypatch.setattr(trail, "record_checkpoints", a_then_b)
    verify_all_trails(record=True)  # A
    return b["run"]


@pytest.mark.django_db
@pytest.mark.tampers_trail
def test_a_run_that_read_a_shorter_chain_leaves_the_longer_checkpoint(demo, monkeypatch):
    case, read_by_a = _half_way(demo)

    b = _b_records_while_a_waits(monkeypatch, lambda: _decide_the_rest(demo, case))

    assert b.valid
    length = case.trail.count()
    assert length > read_by_a
    checkpoint = TrailCheckpoint.objects.get(case=case)
    assert checkpoint.seq == length, "A recorded last; the checkpoint stays at B's length"
    assert trail.checkpoint_matches(case.pk, checkpoint.seq, checkpoint.seal), "sealed as moved"

    # The events B saw after A's read, removed from the chain's end: still caught.
    _remove_from(case, read_by_a + 1)
    assert trail.verify(case).as_dict() == {
        "valid": False,
        "events": read_by_a,
        "broken_at": read_by_a + 1,
    }
    assert verify_all_trails(record=True).broken == [
        {"case": case.pk, "number": case.number, "broken_at": read_by_a + 1}
    ]
    assert TrailCheckpoint.objects.get(case=case).seq == length


@pytest.mark.django_db
@pytest.mark.tampers_trail
def test_a_run_that_counted_fewer_cases_leaves_the_higher_tally(demo, monkeypatch):
    case, _read_by_a = _half_way(demo)
    made = []

    def meanwhile():
        _decide_the_rest(demo, case)
        made.append(_drive_to_approval(demo))

    b = _b_records_while_a_waits(monkeypatch, meanwhile)
    [newer] = made

    assert b.valid
    latest = trail.latest_tally()
    assert (latest.last_case, latest.chains, latest.events) == (
        newer.pk,
        2,
        case.trail.count() + newer.trail.count(),
    ), "A recorded last; the tally stays at B's count"
    assert TrailTally.objects.count() == 2, "the first run's and B's: A's is not recorded"

    # The case made between the two reads, removed whole: still missed.
    _remove_whole(newer)
    result = verify_all_trails(record=True)
    assert result.missing == {"chains": 1, "events": 8, "since": latest.sealed_at.isoformat()}
    assert not result.valid


def test_a_tally_behind_the_latest_in_any_count_is_not_recorded(db):
    def latest():
        tally = trail.latest_tally()
        return tally.last_case, tally.chains, tally.events

    trail.record_tally(10, 3, 30)
    for behind in [(9, 3, 30), (10, 2, 30), (10, 3, 29), (20, 4, 29)]:
        trail.record_tally(*behind)
        assert latest() == (10, 3, 30), behind
    assert TrailTally.objects.count() == 1
    trail.record_tally(10, 3, 30)
    assert TrailTally.objects.count() == 2, "a run that found the same still records"
    trail.record_tally(11, 4, 31)
    assert latest() == (11, 4, 31)
    assert trail.tally_holds(trail.latest_tally())


@pytest.mark.tampers_trail  # checkpoints longer than the chains
def test_checkpoints_move_forward_only_and_new_ones_are_made(demo):
    first, second = submit_sample(demo.worker1), submit_sample(demo.worker2)
    trail.record_checkpoints({first.pk: 6})
    trail.record_checkpoints({first.pk: 2, second.pk: 2})
    trail.record_checkpoints({first.pk: 7, second.pk: 1})
    seqs = dict(TrailCheckpoint.objects.values_list("case", "seq"))
    assert seqs == {first.pk: 7, second.pk: 2}
    for checkpoint in TrailCheckpoint.objects.all():
        assert trail.checkpoint_matches(checkpoint.case_id, checkpoint.seq, checkpoint.seal)


# --- real runs in threads (PostgreSQL: each its own connection) --------------------------------


@pytest.mark.postgres
@pytest.mark.tampers_trail
@pytest.mark.django_db(transaction=True)
def test_two_verifications_at_once_never_move_a_checkpoint_or_the_tally_back(demo, monkeypatch):
    """The reviewer's interleaving with real connections: run A (a thread) has walked the chains
    and waits before recording; events are appended, a case is made and run B records; then A
    records, against B's committed rows."""
    case, read_by_a = _half_way(demo)
    walked, go_on = threading.Event(), threading.Event()
    real = trail.record_checkpoints

    def a_waits(lengths):
        if threading.current_thread().name == "run-a":
            walked.set()
            assert go_on.wait(30)
        return real(lengths)

    monkeypatch.setattr(trail, "record_checkpoints", a_waits)
    out = {}

    def run_a():
        try:
            out["a"] = verify_all_trails(record=True)
        except Exception as exc:  # noqa: BLE001  (reported to the test)
            out["a"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run_a, name="run-a")
    thread.start()
    try:
        assert walked.wait(30)
        _decide_the_rest(demo, case)
        newer = _drive_to_approval(demo)
        assert verify_all_trails(record=True).valid  # B
        length = case.trail.count()
        tally = trail.latest_tally()
    finally:
        go_on.set()
        thread.join(60)
    assert not thread.is_alive()
    assert not isinstance(out["a"], Exception), out["a"]

    assert TrailCheckpoint.objects.get(case=case).seq == length > read_by_a
    assert trail.latest_tally().pk == tally.pk
    _remove_from(case, read_by_a + 1)
    _remove_whole(newer)
    result = verify_all_trails(record=False)
    assert result.broken == [{"case": case.pk, "number": case.number, "broken_at": read_by_a + 1}]
    assert result.missing["chains"] == 1


@pytest.mark.postgres
@pytest.mark.tampers_trail  # checkpoints longer than the chains
@pytest.mark.django_db(transaction=True)
def test_recorders_released_together_keep_the_longest(demo):
    cases = [submit_sample(demo.worker1) for _ in range(3)]
    for attempt in range(5):
        lengths = [{c.pk: n + attempt * 10 for c in cases} for n in (2, 9, 5, 7)]
        tallies = [(cases[-1].pk, 3, n + attempt * 10) for n in (2, 9, 5, 7)]
        barrier = threading.Barrier(len(lengths))
        errors = []

        def record(these, tally, barrier=barrier, errors=errors):
            try:
                barrier.wait(30)
                trail.record_checkpoints(these)
                trail.record_tally(*tally)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=record, args=(these, tally))
            for these, tally in zip(lengths, tallies, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        best = 9 + attempt * 10
        assert set(TrailCheckpoint.objects.values_list("seq", flat=True)) == {best}
        assert trail.latest_tally().events == best
