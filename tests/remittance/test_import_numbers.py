"""A bulk import declares all its rows in one long transaction. Its case numbers are reserved
first, in a short transaction of their own, so that treasurers declaring by hand meanwhile get
their numbers at once instead of waiting behind the import's lock on the counter (and, on the
web, giving up after the statement timeout)."""

import threading

import pytest
from django.db import close_old_connections

from cases.models import Case, CaseNumberCounter
from cases.remittance import services
from cases.remittance.models import Remittance
from cases.remittance.tasks import run_import
from cases.services import numbers_reserved
from core.errors import Conflict
from organizations.models import User
from tests.remittance.helpers import declarations_csv
from tests.remittance.test_remittance import at, declare

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROWS = [
    ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
    ["东湖纺织公司工会", "2026-01", "50000", "60", "50"],
]


@pytest.fixture
def people():
    from organizations.demo import seed_demo

    seed_demo()
    return {u.username: u for u in User.objects.filter(username__in=["town_finance", "treasurer3"])}


def _start_import(api, user):
    response = api(user).post(
        "/api/v1/fee-remittances/imports/", {"file": declarations_csv(ROWS)}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def _run_in_thread(job_id, result):
    def run():
        try:
            result["status"] = run_import.run(job_id)
        finally:
            close_old_connections()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _pause_the_import_after_its_first_row(monkeypatch):
    """The import's transaction stays open after declaring its first row until `go` is set."""
    declare_one, paused, go = services.declare, threading.Event(), threading.Event()

    def declare_and_pause(**kwargs):
        case = declare_one(**kwargs)
        if kwargs.get("bulk") and not paused.is_set():
            paused.set()
            assert go.wait(30), "never released"
        return case

    monkeypatch.setattr(services, "declare", declare_and_pause)
    return paused, go


def _number(case_number):
    return int(case_number.rsplit("-", 1)[1])


def test_a_hand_declaration_is_not_held_behind_a_running_import(people, api, monkeypatch):
    paused, go = _pause_the_import_after_its_first_row(monkeypatch)
    with at(2026, 2, 5, 10):
        job_id = _start_import(api, people["town_finance"])
        result = {}
        importing = _run_in_thread(job_id, result)
        try:
            assert paused.wait(30), "the import never declared its first row"
            # The import's transaction is open, its first case written but not committed.
            hand = {}

            def by_hand():
                try:
                    hand["response"] = declare(api(people["treasurer3"]))
                finally:
                    close_old_connections()

            declaring = threading.Thread(target=by_hand)
            declaring.start()
            declaring.join(15)
            held = declaring.is_alive()
        finally:
            go.set()
            importing.join(60)
            declaring.join(60)
        assert not held, "the hand declaration waited for the import to finish"
        assert hand["response"].status_code == 201, hand["response"].json()
    assert result["status"] == "done"

    imported = sorted(
        _number(n)
        for n in Case.objects.exclude(pk=hand["response"].json()["id"]).values_list(
            "number", flat=True
        )
    )
    by_hand_number = _number(hand["response"].json()["number"])
    # The import's numbers are one consecutive block; the hand declaration's comes after it.
    assert imported == [imported[0], imported[0] + 1]
    assert by_hand_number == imported[-1] + 1
    assert CaseNumberCounter.objects.get(prefix="JF", year=2026).last == by_hand_number


def test_numbers_of_an_import_that_declared_nothing_are_given_back(people, api, monkeypatch):
    """Its second row is refused while it runs (someone declared the period meanwhile): the
    import declares nothing, and the next declaration gets the number the import would have
    given its first row — no gap."""
    declare_one = services.declare

    def refuse_the_second(**kwargs):
        if kwargs.get("bulk") and Remittance.objects.filter(voided=False).count() == 1:
            raise Conflict("This period is already declared.", code="already_declared")
        return declare_one(**kwargs)

    monkeypatch.setattr(services, "declare", refuse_the_second)
    with at(2026, 2, 5, 10):
        job_id = _start_import(api, people["town_finance"])
        assert run_import.run(job_id) == "failed"
        assert not Case.objects.exists()
        response = declare(api(people["treasurer3"]))
        assert response.status_code == 201, response.json()
    assert response.json()["number"] == "JF-2026-000001"


def test_numbers_left_unused_stay_a_gap_once_others_were_taken(people):
    """Given back only while nobody took a number after the block: never a number twice."""
    with at(2026, 2, 5, 10):
        with numbers_reserved("JF", 3) as block:
            assert (block.first, block.last) == (1, 3)
            from cases.services import allocate_number

            # Taken outside the block's context (another request): after the block.
            outside = {}
            thread = threading.Thread(
                target=lambda: (outside.update(n=allocate_number("JF")), close_old_connections())
            )
            thread.start()
            thread.join(30)
            assert outside["n"] == "JF-2026-000004"
            assert allocate_number("JF") == "JF-2026-000001"  # from the block
        # 2 and 3 were never used, but 4 was taken since: they stay a gap.
        assert CaseNumberCounter.objects.get(prefix="JF", year=2026).last == 4
        with numbers_reserved("JF", 2) as block:
            pass
        assert block.first == 5
        assert CaseNumberCounter.objects.get(prefix="JF", year=2026).last == 4  # given back
        assert allocate_number("JF") == "JF-2026-000005"


def test_a_bulk_submission_numbers_in_its_block_past_new_year(people):
    """An import running across midnight on 31 December keeps its block (its cases bear the
    year it started in) instead of taking, and holding, the new year's counter."""
    from cases.services import allocate_number

    with at(2026, 12, 31, 23, 59), numbers_reserved("JF", 2), at(2027, 1, 1, 0, 1):
        assert allocate_number("JF") == "JF-2026-000001"
    assert not CaseNumberCounter.objects.filter(prefix="JF", year=2027).exists()
