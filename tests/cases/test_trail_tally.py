"""The tally (cases.trail): a case removed whole — its events and its checkpoint with it —
leaves nothing of its own to miss; the sealed count of chains and events the nightly
verification last found shows it."""

import pytest

from cases import trail
from cases.models import Case, TrailCheckpoint, TrailTally
from reports.services import verify_all_trails
from tests.cases.test_trail import _drive_to_approval
from tests.cases.test_trail_fast import _unguarded


def _remove_whole(case):
    TrailCheckpoint.objects.filter(case=case).delete()
    _unguarded("DELETE FROM cases_trailevent WHERE case_id = %s", [case.pk])


@pytest.mark.tampers_trail
def test_a_case_removed_whole_is_missed_by_the_tally(demo, api, client):
    kept, removed = _drive_to_approval(demo), _drive_to_approval(demo)
    first = verify_all_trails(record=True)
    assert first.valid and first.missing == {}
    tally = TrailTally.objects.get()
    assert (tally.last_case, tally.chains, tally.events) == (removed.pk, 2, 16)

    _remove_whole(removed)
    assert trail.verify(removed).valid, "with its checkpoint gone, the case alone shows nothing"

    result = verify_all_trails(record=True)
    assert result.broken == []
    assert result.missing == {"chains": 1, "events": 8, "since": tally.sealed_at.isoformat()}
    assert not result.valid
    assert TrailTally.objects.count() == 1, "a run that misses something does not lower it"

    response = api(demo.county_auditor).get("/api/v1/reports/trail-verification/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["valid"] is False and body["missing"]["chains"] == 1
    client.force_login(demo.county_auditor)
    page = client.get("/reports/").content.decode()
    assert 'data-testid="trail-missing"' in page

    # The case row going too changes nothing: the tally counts chains, not rows.
    Case.objects.filter(pk=removed.pk).update(title="")
    assert verify_all_trails(record=False).missing["chains"] == 1
    assert trail.verify(kept).valid


@pytest.mark.tampers_trail
def test_a_tally_altered_or_removed_is_not_believed(demo):
    _drive_to_approval(demo)
    verify_all_trails(record=True)

    TrailTally.objects.update(chains=0, events=0)  # lowered by hand to hide a removal
    assert verify_all_trails(record=True).missing["tally"] == "unsealed"

    TrailTally.objects.all().delete()
    assert verify_all_trails(record=True).missing == {"tally": "gone"}


def test_new_cases_raise_the_tally(demo):
    _drive_to_approval(demo)
    verify_all_trails(record=True)
    newer = _drive_to_approval(demo)
    assert verify_all_trails(record=True).valid
    tally = TrailTally.objects.latest()
    assert (tally.last_case, tally.chains) == (newer.pk, 2)
    assert TrailTally.objects.count() == 2
