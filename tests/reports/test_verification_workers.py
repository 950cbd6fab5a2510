"""`verify_trail --all` walks the trails in one process per core (reports.services._walked):
what it finds and records is what one process finds and records."""

import pytest
from django.core.management import call_command

from cases.models import TrailCheckpoint
from reports import services
from reports.services import verify_all_trails
from tests.cases.test_trail_fast import _unguarded
from tests.helpers import submit_sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seven_cases(demo, monkeypatch):
    monkeypatch.setattr(services, "VERIFY_WINDOW", 2)  # four windows: a walk in parallel
    return [submit_sample(demo.worker1, title=f"Sample {i}") for i in range(7)]


@pytest.mark.tampers_trail
def test_several_processes_find_what_one_finds(seven_cases, monkeypatch):
    edited = seven_cases[3]
    _unguarded(
        "UPDATE cases_trailevent SET comment = 'edited' WHERE case_id = %s AND seq = 1",
        [edited.pk],
    )
    one = verify_all_trails(record=False, workers=1)
    pools = []
    real = services.ProcessPoolExecutor
    monkeypatch.setattr(
        services, "ProcessPoolExecutor", lambda *args, **kw: pools.append(args) or real(*args, **kw)
    )
    two = verify_all_trails(record=False, workers=2)
    assert pools == [(2,)]
    assert (two.cases, two.events, two.broken) == (one.cases, one.events, one.broken)
    assert [entry["case"] for entry in two.broken] == [edited.pk]
    assert two.cases == len(seven_cases) and two.events > len(seven_cases)


@pytest.mark.tampers_trail
def test_the_checkpoints_several_processes_record_hold_the_chains_after(seven_cases):
    verify_all_trails(record=True, workers=2)
    lengths = dict(TrailCheckpoint.objects.values_list("case_id", "seq"))
    assert lengths == {case.pk: case.trail.count() for case in seven_cases}

    shortened = seven_cases[5]
    _unguarded(
        "DELETE FROM cases_trailevent WHERE case_id = %s AND seq = %s",
        [shortened.pk, lengths[shortened.pk]],
    )
    again = verify_all_trails(record=False, workers=2)
    assert [entry["case"] for entry in again.broken] == [shortened.pk]


def test_the_command_takes_a_number_of_workers(seven_cases, capsys):
    call_command("verify_trail", "--all", "--workers", "2", "--no-progress")
    out = capsys.readouterr().out
    assert "7 case(s)" in out and "0 broken" in out
    with pytest.raises(Exception, match="--workers must be 1 or more"):
        call_command("verify_trail", "--all", "--workers", "0")
