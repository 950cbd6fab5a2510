"""The trail's checkpoints (cases.trail.held_to): events removed from the end of a chain leave a
whole, sealed, shorter chain, which only the sealed length of the chain the nightly
verification found whole can show."""

import pytest
from django.db import connection

from cases import trail
from cases.models import TrailCheckpoint, TrailEvent
from reports.services import verify_all_trails
from tests.cases.test_trail import _drive_to_approval
from tests.cases.test_trail_fast import _unguarded


def _remove_from(case, seq):
    _unguarded("DELETE FROM cases_trailevent WHERE case_id = %s AND seq >= %s", [case.pk, seq])


@pytest.mark.tampers_trail
def test_events_removed_from_the_end_of_a_chain_are_caught(demo, api, client):
    case = _drive_to_approval(demo)
    other = _drive_to_approval(demo)
    verify_all_trails(record=True)
    assert TrailCheckpoint.objects.get(case=case).seq == 8

    _remove_from(case, 7)  # the town's decision and the approval, gone
    remaining = list(TrailEvent.objects.filter(case=case).order_by("seq"))
    assert trail.verify_events(remaining).valid, "the shorter chain is whole by itself"
    expected = {"valid": False, "events": 6, "broken_at": 7}
    assert trail.verify(case).as_dict() == expected
    response = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/verify/")
    assert response.json() == expected
    assert verify_all_trails(record=True).broken == [
        {"case": case.pk, "number": case.number, "broken_at": 7}
    ]
    assert TrailCheckpoint.objects.get(case=case).seq == 8  # never moved back
    assert trail.verify(other).valid
    client.force_login(demo.county_auditor)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'class="verify broken"' in page


@pytest.mark.tampers_trail
def test_a_case_stripped_of_every_event_is_caught(demo):
    case = _drive_to_approval(demo)
    verify_all_trails(record=True)
    _remove_from(case, 1)
    assert trail.verify(case).as_dict() == {"valid": False, "events": 0, "broken_at": 1}
    assert verify_all_trails(record=False).broken == [
        {"case": case.pk, "number": case.number, "broken_at": 1}
    ]


@pytest.mark.tampers_trail
def test_a_checkpoint_moved_back_by_hand_is_not_believed(demo):
    case = _drive_to_approval(demo)
    verify_all_trails(record=True)
    _remove_from(case, 7)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_trailcheckpoint SET seq = 6 WHERE case_id = %s", [case.pk])
    assert trail.verify(case).broken_at == 7


def test_checkpoints_follow_the_chains_forward_and_only_when_recording(demo):
    from django.db import transaction

    case = _drive_to_approval(demo)
    verify_all_trails(record=False)
    assert not TrailCheckpoint.objects.exists()
    verify_all_trails(record=True)
    with transaction.atomic():
        trail.append(case, "case.noted", actor=demo.chair1)
    assert trail.verify(case).valid
    verify_all_trails(record=True)
    assert TrailCheckpoint.objects.get(case=case).seq == 9
    assert trail.verify(case).as_dict() == {"valid": True, "events": 9, "broken_at": None}
