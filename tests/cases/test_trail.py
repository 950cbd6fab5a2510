import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from approvals import services
from cases import trail
from cases.models import TrailEvent
from tests.helpers import open_task, submit_sample


def _drive_to_approval(demo):
    case = submit_sample(demo.worker1)
    services.complete(task_id=open_task(case).pk, user=demo.chair1, decision="approve")
    services.complete(
        task_id=open_task(case).pk,
        user=demo.town_aid1,
        decision="approve",
        data={"approved_amount": "80"},
    )
    case.refresh_from_db()
    return case


def test_chain_of_a_finished_case_verifies_and_tells_the_story(demo):
    case = _drive_to_approval(demo)
    assert case.status == "approved"
    events = list(case.trail.order_by("seq"))
    assert [e.action for e in events] == [
        "case.submitted",
        "task.created",
        "task.claimed",
        "task.completed",
        "task.created",
        "task.claimed",
        "task.completed",
        "case.approved",
    ]
    assert [e.seq for e in events] == list(range(1, 9))
    assert events[0].prev_hash == trail.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    completed = events[6]
    assert completed.actor.username == "town_aid1" and completed.actor_role == "aid_officer"
    assert completed.data == {"decision": "approve", "approved_amount": "80.00"}
    assert trail.verify(case).as_dict() == {"valid": True, "events": 8, "broken_at": None}


@pytest.mark.parametrize(
    "sql", ["UPDATE cases_trailevent SET comment = 'x'", "DELETE FROM cases_trailevent"]
)
def test_database_refuses_update_and_delete(demo, sql):
    case = submit_sample(demo.worker1)
    before = case.trail.count()
    with (
        pytest.raises((DatabaseError, IntegrityError)),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(sql)
    assert case.trail.count() == before
    assert trail.verify(case).valid


def test_orm_delete_of_a_trail_row_is_refused(demo):
    case = submit_sample(demo.worker1)
    with pytest.raises(DatabaseError), transaction.atomic():
        TrailEvent.objects.filter(case=case).delete()


def _without_trigger(sql, params):
    """Tamper with the trail the way only someone with DDL rights could: drop the guard,
    change a row, put the guard back (all inside the test's transaction)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending FK checks
            cur.execute("ALTER TABLE cases_trailevent DISABLE TRIGGER cases_trailevent_append_only")
            cur.execute(sql, params)
            cur.execute("ALTER TABLE cases_trailevent ENABLE TRIGGER cases_trailevent_append_only")
        else:
            cur.execute("DROP TRIGGER cases_trailevent_no_update")
            cur.execute(sql, params)
            cur.execute(
                "CREATE TRIGGER cases_trailevent_no_update BEFORE UPDATE ON cases_trailevent "
                "BEGIN SELECT RAISE(ABORT, 'append-only'); END"
            )


@pytest.mark.tampers_trail
def test_tampered_row_breaks_verification_at_its_sequence_number(demo, api):
    case = _drive_to_approval(demo)
    _without_trigger(
        "UPDATE cases_trailevent SET comment = %s WHERE case_id = %s AND seq = %s",
        ["forged", case.pk, 4],
    )
    assert trail.verify(case).as_dict() == {"valid": False, "events": 8, "broken_at": 4}
    response = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/verify/")
    assert response.status_code == 200
    assert response.json() == {"valid": False, "events": 8, "broken_at": 4}


@pytest.mark.tampers_trail
def test_inserted_row_with_forged_chain_is_detected(demo):
    case = _drive_to_approval(demo)
    last = case.trail.order_by("-seq").first()
    # An extra event appended by hand, hash computed without the previous link.
    forged = TrailEvent(case=case, seq=last.seq + 1, action="case.approved", prev_hash="f" * 64)
    forged.hash = trail.compute_hash("f" * 64, forged)
    forged.save(force_insert=True)
    assert trail.verify(case).broken_at == last.seq + 1


@pytest.mark.tampers_trail
def test_removed_row_is_detected(demo):
    case = _drive_to_approval(demo)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("ALTER TABLE cases_trailevent DISABLE TRIGGER cases_trailevent_append_only")
        else:
            cur.execute("DROP TRIGGER cases_trailevent_no_delete")
        cur.execute("DELETE FROM cases_trailevent WHERE case_id = %s AND seq = 3", [case.pk])
    assert trail.verify(case).as_dict() == {"valid": False, "events": 7, "broken_at": 4}


@pytest.mark.tampers_trail
def test_verify_trail_command(demo, capsys):
    good = _drive_to_approval(demo)
    call_command("verify_trail", "--case", good.number)
    assert "0 broken" in capsys.readouterr().out
    bad = _drive_to_approval(demo)
    _without_trigger(
        "UPDATE cases_trailevent SET data = '{}' WHERE case_id = %s AND seq = %s", [bad.pk, 7]
    )
    with pytest.raises(CommandError):
        call_command("verify_trail")
    out = capsys.readouterr().out
    assert f"BROKEN {bad.number}: chain breaks at event 7" in out
    assert "2 case(s)" in out
    with pytest.raises(CommandError):
        call_command("verify_trail", "--case", "KN-1999-000001")


def test_engine_changes_outside_services_are_recorded(demo):
    """A task cancelled by viewflow itself (e.g. from its admin) still lands in the trail."""
    case = submit_sample(demo.worker1)
    task = open_task(case)
    with transaction.atomic(), task.flow_task.flow_class.lock(task.process_id):
        task.flow_task.activation_class(task).cancel()
    last = case.trail.order_by("-seq").first()
    assert last.action == "task.canceled" and last.step == "review" and last.data["engine"] is True
    assert trail.verify(case).valid
