"""The fast walk of the trail (cases.trail.verify_range, verify_rows, canonical_row): the same
bytes as `canonical`, the same verdicts as `verify_events`, and the whole-table check that
`verify_trail --all` and the nightly task run on it."""

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from cases import trail
from cases.models import TrailEvent
from reports.services import verify_all_trails
from tests.helpers import submit_sample

ROW_FIELDS = trail.VERIFIED_FIELDS

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
ids = st.none() | st.integers(min_value=1, max_value=2**62)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)


@settings(max_examples=300, deadline=None)
@given(
    case=st.integers(min_value=1, max_value=2**62),
    seq=st.integers(min_value=1, max_value=2**31),
    at=moments,
    actor=ids,
    actor_role=st.text(max_size=20),
    on_behalf_of=ids,
    action=st.text(max_size=60),
    task=ids,
    step=st.text(max_size=60),
    comment=st.text(),
    data=json_values,
    source_ip=st.none() | st.sampled_from(["127.0.0.1", "10.1.2.3/24", "2001:db8::1", "::1"]),
)
def test_a_row_is_written_as_canonical_writes_the_event(
    case, seq, at, actor, actor_role, on_behalf_of, action, task, step, comment, data, source_ip
):
    """Quotes, backslashes, control characters, any Unicode, nested data with numbers of every
    size: the bytes are the same, so the hash of an event is the same either way."""
    stored = json.dumps(data)  # `data` as the database hands it back: JSON text
    event = SimpleNamespace(
        case_id=case,
        seq=seq,
        at=at,
        actor_id=actor,
        actor_role=actor_role,
        on_behalf_of_id=on_behalf_of,
        action=action,
        task_id=task,
        step=step,
        comment=comment,
        data=json.loads(stored),
        source_ip=source_ip,
    )
    row = (case, seq, at, actor, actor_role, on_behalf_of, action, task, step, comment, stored)
    row += (source_ip, "p" * 64, "h" * 64)
    cache = {}
    assert trail.canonical_row(row, cache) == trail.canonical(event)
    assert trail.canonical_row(row, cache) == trail.canonical(event)  # served from the cache


def _orm_verdicts():
    """What `verify_events` says of every chain, reading model values through the ORM."""
    events = trail.event_rows(TrailEvent.objects.order_by("case_id", "seq"))
    return {
        case_id: trail.verify_events(chain).as_dict()
        for case_id, chain in itertools.groupby(events, key=lambda e: e.case_id)
    }


def _fast_verdicts():
    return {case_id: v.as_dict() for case_id, v in trail.verify_range(0, 2**62)}


def _unguarded(sql, params):
    """Change stored events the way only someone with DDL rights could (inside the test's
    transaction)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("ALTER TABLE cases_trailevent DISABLE TRIGGER cases_trailevent_append_only")
            cur.execute(sql, params)
            cur.execute("ALTER TABLE cases_trailevent ENABLE TRIGGER cases_trailevent_append_only")
        else:
            cur.execute("DROP TRIGGER IF EXISTS cases_trailevent_no_update")
            cur.execute("DROP TRIGGER IF EXISTS cases_trailevent_no_delete")
            cur.execute(sql, params)


def _cases_with_varied_events(demo, count):
    cases = []
    for n in range(count):
        case = submit_sample(demo.worker1, title=f"case {n}")
        with transaction.atomic(), trail.acting(actor=demo.chair1, source_ip="192.0.2.7"):
            trail.append(
                case,
                "case.noted",
                actor_role="chair",
                on_behalf_of=demo.town_aid1,
                task=123456789,
                step="review",
                comment='引号 " 反斜杠 \\ tab\t line\n \u2028 end',
                data={"z": [1, 2.5, None, True], "a": {"金额": "12.30", "n": 10**20}, "": ""},
            )
        with transaction.atomic(), trail.acting(source_ip="2001:db8::42"):
            trail.append(case, "case.noted", data={"decision": "approve"})
        cases.append(case)
    return cases


def test_events_written_through_append_verify_on_the_fast_walk(demo):
    cases = _cases_with_varied_events(demo, 3)
    verdicts = _fast_verdicts()
    assert verdicts == _orm_verdicts()
    for case in cases:
        events = case.trail.count()
        assert verdicts[case.pk] == {"valid": True, "events": events, "broken_at": None}
        assert trail.verify(case).as_dict() == verdicts[case.pk]


@pytest.mark.tampers_trail
@pytest.mark.parametrize(
    "sql, seq, broken_at",
    [
        (
            "UPDATE cases_trailevent SET comment = comment || '.' WHERE case_id = %s AND seq = %s",
            3,
            3,
        ),
        ("UPDATE cases_trailevent SET data = '{\"z\": 1}' WHERE case_id = %s AND seq = %s", 2, 2),
        (
            "UPDATE cases_trailevent SET at = at + interval '1 microsecond' "
            "WHERE case_id = %s AND seq = %s",
            1,
            1,
        ),
        # The same address with a network mask is another value (and other text).
        (
            "UPDATE cases_trailevent SET source_ip = '192.0.2.7/24' WHERE case_id = %s AND seq = %s",
            -2,
            -2,
        ),
        ("UPDATE cases_trailevent SET actor_id = NULL WHERE case_id = %s AND seq = %s", -2, -2),
        ("DELETE FROM cases_trailevent WHERE case_id = %s AND seq = %s", 2, 3),
        ("UPDATE cases_trailevent SET hash = md5(hash) WHERE case_id = %s AND seq = %s", -1, -1),
    ],
)
def test_tampering_is_found_where_verify_events_finds_it(demo, sql, seq, broken_at):
    if connection.vendor != "postgresql" and ("interval" in sql or "md5(" in sql):
        pytest.skip("PostgreSQL SQL")
    good, bad, other = _cases_with_varied_events(demo, 3)
    events = bad.trail.count()
    at_seq = seq if seq > 0 else events + 1 + seq
    _unguarded(sql, [bad.pk, at_seq])
    verdicts = _fast_verdicts()
    assert verdicts == _orm_verdicts()
    expected = broken_at if broken_at > 0 else events + 1 + broken_at
    assert verdicts[bad.pk]["broken_at"] == expected
    assert verdicts[good.pk]["valid"] and verdicts[other.pk]["valid"]
    assert trail.verify(bad).broken_at == expected


@pytest.mark.tampers_trail
def test_the_full_walk_names_the_broken_case_and_event(demo):
    _good, bad, _other = _cases_with_varied_events(demo, 3)
    _unguarded(
        "UPDATE cases_trailevent SET step = 'forged' WHERE case_id = %s AND seq = %s", [bad.pk, 2]
    )
    seen = []
    result = verify_all_trails(record=False, progress=lambda done, total: seen.append(done))
    assert result.broken == [{"case": bad.pk, "number": bad.number, "broken_at": 2}]
    assert result.events == TrailEvent.objects.count()
    assert result.cases == 3
    assert seen[-1] == 3


def test_the_walk_without_the_fast_path_says_the_same(demo, monkeypatch):
    _cases_with_varied_events(demo, 2)
    fast = _fast_verdicts()
    monkeypatch.setattr(trail, "fast_walk_available", lambda: False)
    assert _fast_verdicts() == fast
    assert all(v["valid"] for v in fast.values())


def test_a_case_without_events_verifies(demo):
    assert list(trail.verify_range(10**9, 10**9 + 5)) == []
    assert trail.verify(10**9).as_dict() == {"valid": True, "events": 0, "broken_at": None}
