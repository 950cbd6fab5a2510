"""The trail's seals (cases.trail.seal): someone who can write to the database but does not
hold TRAIL_SEAL_KEYS cannot change a case's story and re-chain it unseen."""

import hmac
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from cases import trail
from cases.models import TrailEvent
from core import sensitive
from tests.cases.test_trail import _drive_to_approval
from tests.cases.test_trail_fast import _fast_verdicts, _orm_verdicts, _unguarded
from tests.helpers import submit_sample

seals_migration = importlib.import_module("cases.migrations.0008_trail_seals")


def _rechain(case, *, edit_seq, comment, seal=None):
    """What a forger with write access to the database does: change one event, then recompute
    every later hash so that the chain links up again (and, given `seal`, seal them with it)."""
    events = list(TrailEvent.objects.filter(case=case).order_by("seq"))
    prev = events[edit_seq - 2].hash if edit_seq > 1 else trail.GENESIS_HASH
    for event in events[edit_seq - 1 :]:
        if event.seq == edit_seq:
            event.comment = comment
        event.prev_hash = prev
        event.hash = prev = trail.compute_hash(prev, event)
        _unguarded(
            "UPDATE cases_trailevent SET comment = %s, prev_hash = %s, hash = %s, seal = %s "
            "WHERE id = %s",
            [
                event.comment,
                event.prev_hash,
                event.hash,
                seal(event.hash) if seal else event.seal,
                event.pk,
            ],
        )


def _chain_alone_verifies(case):
    """The chain of hashes, checked without the seals: what verification was before them."""
    prev = trail.GENESIS_HASH
    for event in TrailEvent.objects.filter(case=case).order_by("seq"):
        if event.prev_hash != prev or trail.compute_hash(prev, event) != event.hash:
            return False
        prev = event.hash
    return True


@pytest.mark.tampers_trail
def test_an_edited_event_re_chained_by_hand_is_caught_by_its_seal(demo, api):
    case = _drive_to_approval(demo)
    other = _drive_to_approval(demo)
    _rechain(case, edit_seq=4, comment="approved after a phone call")

    assert _chain_alone_verifies(case), "the forgery links up: the chain alone cannot tell"
    expected = {"valid": False, "events": 8, "broken_at": 4}
    assert trail.verify(case).as_dict() == expected
    assert _fast_verdicts()[case.pk] == _orm_verdicts()[case.pk] == expected
    assert trail.verify(other).valid
    response = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/verify/")
    assert response.status_code == 200 and response.json() == expected


@pytest.mark.tampers_trail
def test_seals_made_with_another_key_do_not_match(demo, settings):
    """A forger who seals the re-chained events with a key of their own — here the one the
    development settings derive from SECRET_KEY — is caught; only the key in force passes."""
    settings.TRAIL_SEAL_KEYS = ["the-real-key-lives-only-in-the-environment"]
    case = _drive_to_approval(demo)
    guessed = sensitive._derive(b"unionflow trail seal")
    _rechain(
        case,
        edit_seq=7,
        comment="",
        seal=lambda hash_: hmac.digest(guessed, hash_.encode(), "sha256").hex(),
    )
    assert _chain_alone_verifies(case)
    assert trail.verify(case).broken_at == 7

    _rechain(case, edit_seq=7, comment="", seal=trail.seal)  # with the key itself
    assert trail.verify(case).valid


@pytest.mark.tampers_trail  # its events are sealed with keys that go with the test
def test_a_rotated_key_keeps_verifying_the_events_it_sealed(demo, settings):
    settings.TRAIL_SEAL_KEYS = ["old-key"]
    before = submit_sample(demo.worker1)
    sealed_before = set(before.trail.values_list("seal", flat=True))

    settings.TRAIL_SEAL_KEYS = ["new-key", "old-key"]
    after = submit_sample(demo.worker1)
    assert trail.verify(before).valid and trail.verify(after).valid
    # New events are sealed with the newest key only.
    assert not sealed_before & set(after.trail.values_list("seal", flat=True))
    assert all(trail.seal_matches(e.hash, e.seal) for e in after.trail.all())
    settings.TRAIL_SEAL_KEYS = ["old-key"]
    assert trail.verify(after).broken_at == 1


@pytest.mark.tampers_trail
def test_a_key_dropped_from_the_list_leaves_its_events_unverifiable(demo, settings):
    """Dropping a key is not a way to re-key the trail: what it sealed is reported."""
    settings.TRAIL_SEAL_KEYS = ["old-key"]
    case = submit_sample(demo.worker1)
    settings.TRAIL_SEAL_KEYS = ["new-key"]
    assert trail.verify(case).as_dict() == {
        "valid": False,
        "events": case.trail.count(),
        "broken_at": 1,
    }


@pytest.mark.tampers_trail
def test_an_event_stripped_of_its_seal_is_reported(demo):
    case = submit_sample(demo.worker1)
    last = case.trail.count()
    _unguarded(
        "UPDATE cases_trailevent SET seal = '' WHERE case_id = %s AND seq = %s", [case.pk, last]
    )
    assert trail.verify(case).broken_at == last
    assert _fast_verdicts()[case.pk] == _orm_verdicts()[case.pk]


def test_the_upgrade_seals_the_events_written_before_it(demo):
    """Migration 0008 seals every event that has none, in batches, and leaves the trail
    append-only again."""
    cases = [submit_sample(demo.worker1, title=f"case {n}") for n in range(3)]
    _unguarded("UPDATE cases_trailevent SET seal = ''", [])
    assert not any(trail.verify(c).valid for c in cases)

    seals_migration.BATCH, batch = 4, seals_migration.BATCH
    try:
        seals_migration.seal_existing_events(None, SimpleNamespace(connection=connection))
    finally:
        seals_migration.BATCH = batch
    assert not TrailEvent.objects.filter(seal="").exists()
    assert all(trail.verify(c).valid for c in cases)
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE cases_trailevent SET comment = 'x'")
