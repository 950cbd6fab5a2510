"""Tasks whose holder or queue no longer fits go to those who may act on them now (the beat:
approvals.services.settle_holders), and until then the holder's decision is refused.
- An account switched off: a queue task it claimed goes back to the queue; a task named for
  it goes to the queue the step falls back to when its people may not act, unless its process
  declares a way of its own (a mediator's: the head assigns another mediator,
  tests/mediation/test_mediator_inactive.py). The applicant's own step still waits for the
  applicant.
- A role taken away: the task its former holder claimed goes back to the queue.
- A union moved under another town: its open tasks go to the new town's officers."""

import threading

import pytest
from django.db import connection

from approvals.models import CaseTask
from approvals.services import settle_holders
from cases import trail
from notifications.models import Notification
from organizations.demo import DONGHU, DONGHU_MACHINERY, XISHAN
from organizations.models import Membership, Organization, Role, User
from tests.helpers import complete, open_tasks, post, submit
from tests.mediation.helpers import accept, assign, filed, task

pytestmark = pytest.mark.django_db


def _in_english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _switch_off(user):
    User.objects.filter(pk=user.pk).update(is_active=False)


def _mediation_with(demo, api, mediator):
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case, mediator=mediator.username)
    held = task(case, "mediation")
    assert held.owner == mediator
    return case, held


def _in_sequence(demo, api):
    """A modes_sample case at its sequential step, named for town_aid2 (then county_aid)."""
    case = submit("modes_sample", demo.worker1)
    for officer, investigation in zip(
        (demo.town_aid1, demo.town_aid2), open_tasks(case, "investigation"), strict=True
    ):
        assert complete(api(officer), investigation, data={"findings": "a"}).status_code == 200
    held = {t.owner: t for t in open_tasks(case, "any_one")}
    assert complete(api(demo.town_aid1), held[demo.town_aid1]).status_code == 200
    held = {t.owner: t for t in open_tasks(case, "two_of_three")}
    for officer in (demo.town_aid1, demo.county_aid):
        assert complete(api(officer), held[officer]).status_code == 200
    [named] = open_tasks(case, "in_sequence")
    assert named.owner == demo.town_aid2 and named.candidate_organization is None
    return case, named


def test_a_named_task_goes_to_the_steps_fallback_queue_when_its_account_is_switched_off(demo, api):
    """A process that declares no way of its own (mediation does: the head assigns another
    mediator, tests/mediation/test_mediator_inactive.py)."""
    case, held = _in_sequence(demo, api)
    _switch_off(demo.town_aid2)

    assert settle_holders() == 1
    offered = CaseTask.objects.get(pk=held.pk)
    assert offered.owner is None and offered.status == "NEW"
    town = Organization.objects.get(name=DONGHU)
    assert (offered.candidate_role, offered.candidate_organization) == ("aid_officer", town)
    event = case.trail.filter(action="task.moved").last()
    assert event.actor is None
    assert event.data == {
        "from": "town_aid2",
        "reason": "account_inactive",
        "role": "aid_officer",
        "organization": DONGHU,
    }
    told = Notification.objects.filter(case=case, verb="task_created", data__task=held.pk)
    assert demo.town_aid1 in [n.recipient for n in told]
    assert trail.verify(case).valid
    assert settle_holders() == 0  # once

    # Another aid officer of the town takes it on and decides it.
    other = api(demo.town_aid1)
    assert post(other, f"/api/v1/tasks/{held.pk}/claim/").status_code == 200
    assert complete(other, CaseTask.objects.get(pk=held.pk)).status_code == 200


def test_a_named_task_held_by_an_active_account_stays_put(demo, api):
    _case, held = _mediation_with(demo, api, demo.mediator1)
    _switch_off(demo.mediator2)
    assert settle_holders() == 0
    assert CaseTask.objects.get(pk=held.pk).owner == demo.mediator1


def test_the_applicants_own_step_still_waits_for_the_applicant(demo, api):
    case = submit("sample", demo.worker1)
    complete(api(demo.chair1), open_tasks(case)[0])
    [approval] = open_tasks(case, "approval")
    officer = api(demo.town_aid1)
    assert post(officer, f"/api/v1/tasks/{approval.pk}/claim/").status_code == 200
    sent = post(
        officer,
        f"/api/v1/tasks/{approval.pk}/send-back/",
        {"to_step": "applicant", "comment": "add the bill"},
    )
    assert sent.status_code == 200
    [supplement] = open_tasks(case)
    _switch_off(demo.worker1)

    assert settle_holders() == 0
    supplement.refresh_from_db()
    assert supplement.owner == demo.worker1 and supplement.status == "ASSIGNED"


def test_a_queue_task_held_by_an_account_switched_off_goes_back_to_the_queue(demo, api):
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "a"})
    assert post(api(demo.town_aid2), f"/api/v1/tasks/{second.pk}/claim/").status_code == 200
    User.objects.filter(pk=demo.town_aid2.pk).update(is_active=False)
    assert settle_holders() == 1
    task = CaseTask.objects.get(pk=second.pk)
    assert task.owner is None and task.status == "NEW"
    event = case.trail.filter(action="task.released").last()
    assert event.actor is None and event.data["reason"] == "account_inactive"
    assert settle_holders() == 0


def _claimed_review(demo, api):
    case = submit("sample", demo.worker1)
    [review] = open_tasks(case, "review")
    assert post(api(demo.chair1), f"/api/v1/tasks/{review.pk}/claim/").status_code == 200
    return case, review


def _remove_chair(demo):
    Membership.objects.filter(user=demo.chair1, role=Role.CHAIR).delete()  # the admin's change


def test_a_holder_whose_role_was_taken_away_may_not_decide_and_the_task_goes_back(demo, api):
    case, review = _claimed_review(demo, api)
    _remove_chair(demo)

    refused = complete(_in_english(api(demo.chair1)), review, data={"note": "still mine"})
    assert refused.status_code == 403
    assert "no longer hold the role" in refused.json()["detail"]
    transfer = post(api(demo.chair1), f"/api/v1/tasks/{review.pk}/transfer/", {"to": "chair2"})
    assert transfer.status_code == 403

    assert settle_holders() == 1
    task = CaseTask.objects.get(pk=review.pk)
    assert task.owner is None and task.status == "NEW" and task.decision == ""
    event = case.trail.filter(action="task.released").last()
    assert event.data["reason"] == "role_removed" and event.data["from"] == "chair1"
    assert settle_holders() == 0

    # Given the role again, they take it from the queue like anyone holding it.
    Membership.objects.create(
        user=demo.chair1, organization=task.candidate_organization, role=Role.CHAIR
    )
    assert complete(api(demo.chair1), task).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_meeting_the_roles_removal_does_not_keep_the_task(demo, api, monkeypatch):
    """The role is taken away while the claim, past its check, still runs: the claim commits,
    and then its decision is refused and the beat gives the task back."""
    case = submit("sample", demo.worker1)
    [task] = open_tasks(case, "review")
    checked, removed = threading.Event(), threading.Event()
    append = trail.append

    def paused(case_, action, *args, **kwargs):
        if action == "task.claimed" and not checked.is_set():
            checked.set()
            removed.wait(10)
        return append(case_, action, *args, **kwargs)

    monkeypatch.setattr(trail, "append", paused)
    result = {}

    def claim():
        try:
            result["claim"] = post(api(demo.chair1), f"/api/v1/tasks/{task.pk}/claim/")
        finally:
            connection.close()

    thread = threading.Thread(target=claim)
    thread.start()
    assert checked.wait(10), "the claim never got past its checks"
    _remove_chair(demo)
    removed.set()
    thread.join(30)
    monkeypatch.setattr(trail, "append", append)
    assert result["claim"].status_code == 200

    assert complete(api(demo.chair1), task, data={"note": "x"}).status_code == 403
    assert settle_holders() == 1
    task.refresh_from_db()
    assert task.owner is None and task.status == "NEW"
    assert trail.verify(case).valid


def _at_the_town(demo, api):
    """A case of 东湖机械厂工会 waiting for 东湖镇's aid officers."""
    case = submit("sample", demo.worker1)
    [review] = open_tasks(case, "review")
    assert complete(api(demo.chair1), review).status_code == 200
    [approval] = open_tasks(case, "approval")
    assert approval.candidate_organization.name == DONGHU
    return case, approval


def _move_the_union():
    union = Organization.objects.get(name=DONGHU_MACHINERY)
    Organization.objects.move(union, Organization.objects.get(name=XISHAN), "sorted-child")


@pytest.mark.parametrize("claimed_before", [False, True])
def test_after_a_union_moves_its_open_tasks_go_to_the_new_towns_officers(demo, api, claimed_before):
    case, approval = _at_the_town(demo, api)
    old_town, new_town = _in_english(api(demo.town_aid1)), api(demo.xs_aid1)
    if claimed_before:
        assert post(old_town, f"/api/v1/tasks/{approval.pk}/claim/").status_code == 200
    _move_the_union()

    # Before the beat: the old town may no longer decide it, nor take it.
    refused = complete(old_town, approval, data={"approved_amount": "100.00"})
    assert refused.status_code in (403, 409)
    assert "moved to another organization" in refused.json()["detail"]

    assert settle_holders() == 1
    task = CaseTask.objects.get(pk=approval.pk)
    assert (task.status, task.owner, task.candidate_organization.name) == ("NEW", None, XISHAN)
    event = case.trail.filter(action="task.moved").last()
    assert event.data["reason"] == "organization_moved"
    assert event.data["from_organization"] == DONGHU and event.data["organization"] == XISHAN
    if claimed_before:
        assert event.data["from"] == "town_aid1"
    assert Notification.objects.filter(
        recipient=demo.xs_aid1, case=case, verb="task_created", data__task=task.pk
    ).exists()
    assert settle_holders() == 0

    decided = complete(new_town, task, data={"approved_amount": "100.00"})
    assert decided.status_code == 200, decided.json()
    assert trail.verify(case).valid


def test_a_task_named_for_someone_is_neither_released_to_a_queue_nor_transferred(demo, api, client):
    """A mediator's task carries the step's role but no queue: the head assigns mediators, so
    it is neither released nor transferred, and the page offers neither; a task claimed from a
    queue offers both."""
    _case, named = _mediation_with(demo, api, demo.mediator1)
    refused = post(
        _in_english(api(demo.mediator1)), f"/api/v1/tasks/{named.pk}/transfer/", {"to": "mediator2"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "named_task"
    assert "cannot be transferred" in refused.json()["detail"]
    assert CaseTask.objects.get(pk=named.pk).owner == demo.mediator1
    client.force_login(demo.mediator1)
    page = client.get(f"/tasks/{named.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="transfer"' not in page and 'value="release"' not in page
    assert 'value="cc"' in page  # the other operations stay

    _case, review = _claimed_review(demo, api)
    client.force_login(demo.chair1)
    page = client.get(f"/tasks/{review.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="transfer"' in page and 'value="release"' in page


def test_a_named_task_whose_holder_lost_the_role_goes_to_the_steps_fallback_queue(demo, api):
    """Named for town_aid2, who is then no longer an aid officer (still active): their
    decision is refused, and the beat offers the task where the step falls back to."""
    case, held = _in_sequence(demo, api)
    Membership.objects.filter(user=demo.town_aid2, role=Role.AID_OFFICER).delete()

    client = api(demo.town_aid2)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    refused = complete(client, held)
    assert refused.status_code == 403
    assert "no longer hold the role" in refused.json()["detail"]
    assert settle_holders() == 1
    offered = CaseTask.objects.get(pk=held.pk)
    assert offered.owner is None and offered.status == "NEW"
    assert offered.candidate_organization == Organization.objects.get(name=DONGHU)
    event = case.trail.filter(action="task.moved").last()
    assert (event.data["reason"], event.data["from"]) == ("role_removed", "town_aid2")
    assert settle_holders() == 0  # once
    other = api(demo.town_aid1)
    assert post(other, f"/api/v1/tasks/{held.pk}/claim/").status_code == 200
    assert complete(other, CaseTask.objects.get(pk=held.pk)).status_code == 200


def test_a_named_task_whose_holder_holds_the_role_above_the_case_stays_put(demo, api):
    """county_aid is an aid officer of the county, above the case's union: theirs to decide."""
    case, held = _in_sequence(demo, api)
    Membership.objects.filter(user=demo.town_aid2, role=Role.AID_OFFICER).update(
        organization=Organization.objects.get(name=XISHAN)  # moved to another town
    )
    assert settle_holders() == 1  # town_aid2 no longer holds it over this case
    assert complete(api(demo.town_aid1), CaseTask.objects.get(pk=held.pk)).status_code == 200
    [then] = open_tasks(case, "in_sequence")
    assert then.owner == demo.county_aid
    assert settle_holders() == 0
    assert CaseTask.objects.get(pk=then.pk).owner == demo.county_aid
