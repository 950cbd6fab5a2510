"""An approver added to a step (加签) whose account is switched off is withdrawn from the round
by the beat (approvals.services.settle_holders), as if they had never been added:
- consulted before: the consulting task comes off hold and its holder decides;
- in parallel: the step no longer waits for them — decided at once when the others have
  decided, else when they do;
- after, still held: dropped; approving the step's task decides the step.
Whoever added them is told, the trail says so, and overlapping runs act once."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from approvals.models import CaseTask
from approvals.services import return_delegated_tasks, settle_holders
from cases.labels import action_label
from notifications.models import Notification
from organizations.models import User
from tests.helpers import complete, open_tasks, post, race, submit

pytestmark = pytest.mark.django_db

AMOUNT = {"approved_amount": "5"}


def _switch_off(user):
    User.objects.filter(pk=user.pk).update(is_active=False)


def _in_english(user):
    User.objects.filter(pk=user.pk).update(language="en")


def _claimed_approval(demo, api):
    """A sample case at its approval step, claimed by town_aid1."""
    case = submit("sample", demo.worker1)
    assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    [approval] = open_tasks(case, "approval")
    assert post(api(demo.town_aid1), f"/api/v1/tasks/{approval.pk}/claim/").status_code == 200
    return case, approval


def _add(api, demo, task, approver, position):
    added = post(
        api(demo.town_aid1),
        f"/api/v1/tasks/{task.pk}/add-approver/",
        {"user": approver, "position": position},
    )
    assert added.status_code == 200, added.json()
    return CaseTask.objects.filter(batch=task.batch).latest("pk")


def _status(task):
    return CaseTask.objects.get(pk=task.pk).status


def _withdrawn_told(case):
    return Notification.objects.filter(case=case, verb="approver_withdrawn")


def test_a_consulted_approver_switched_off_gives_the_task_back_to_its_holder(demo, api, client):
    case, approval = _claimed_approval(demo, api)
    consult = _add(api, demo, approval, "county_aid", "before")
    officer = api(demo.town_aid1)
    assert complete(officer, approval, data=AMOUNT).json()["code"] == "task_on_hold"
    _in_english(demo.town_aid1)
    _switch_off(demo.county_aid)

    assert settle_holders() == 1
    assert _status(consult) == "CANCELED"
    assert CaseTask.objects.get(pk=consult.pk).decision == ""
    shown = officer.get(f"/api/v1/tasks/{approval.pk}/").json()
    assert shown["on_hold"] is False and shown["decisions"]

    # The trail says who was withdrawn and why; nobody acted: the system did.
    event = case.trail.get(action="task.approver_withdrawn")
    assert event.actor is None and event.task_id == consult.pk
    assert event.data == {
        "reason": "account_inactive",
        "approver": "county_aid",
        "position": "before",
    }
    with translation.override("en"):
        assert str(action_label("task.approver_withdrawn")) == "Added approver withdrawn"

    # The holder, who consulted them, is told in their language, with a link to their task.
    [told] = _withdrawn_told(case)
    assert told.recipient == demo.town_aid1
    assert told.title == (
        f"李帮扶 can no longer act (account switched off): Approval ({case.number}) no longer "
        "waits for their opinion and is back with you"
    )
    assert told.data["task"] == approval.pk and told.data["approver"] == "county_aid"

    # The task page shows the officer their decision again.
    client.force_login(demo.town_aid1)
    page = client.get(f"/tasks/{approval.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="decide"' in page and "waiting for the approver you consulted" not in page

    assert complete(officer, approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


def test_a_consulting_task_transferred_meanwhile_goes_back_to_its_new_holder(demo, api):
    """The one holding the task now is told it is back with them; the officer who consulted
    them only that they were withdrawn."""
    case, approval = _claimed_approval(demo, api)
    _add(api, demo, approval, "county_aid", "before")
    moved = post(api(demo.town_aid1), f"/api/v1/tasks/{approval.pk}/transfer/", {"to": "town_aid2"})
    assert moved.status_code == 200
    _switch_off(demo.county_aid)
    _in_english(demo.town_aid1)
    _in_english(demo.town_aid2)

    assert settle_holders() == 1
    told = {n.recipient.username: n for n in _withdrawn_told(case)}
    assert set(told) == {"town_aid1", "town_aid2"}
    assert told["town_aid2"].title.endswith("is back with you")
    assert told["town_aid2"].data["task"] == approval.pk
    assert told["town_aid1"].title == (
        f"李帮扶 can no longer act (account switched off) and was withdrawn as an approver of "
        f"Approval ({case.number})"
    )
    assert "task" not in told["town_aid1"].data
    assert complete(api(demo.town_aid2), approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


def test_a_parallel_approver_switched_off_after_the_others_approved_lets_the_step_complete(
    demo, api
):
    case, approval = _claimed_approval(demo, api)
    parallel = _add(api, demo, approval, "town_aid2", "parallel")
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "in_progress"  # waits for town_aid2
    _switch_off(demo.town_aid2)

    assert settle_holders() == 1
    assert _status(parallel) == "CANCELED"
    case.refresh_from_db()
    assert case.status == "approved" and open_tasks(case) == []
    # The applicant hears of the step's decision, once; the officer of the withdrawal.
    decided = Notification.objects.filter(recipient=demo.worker1, case=case, verb="step_decided")
    assert [n.data["task"] for n in decided if n.data.get("step") == "approval"] == [approval.pk]
    [told] = _withdrawn_told(case)
    assert told.recipient == demo.town_aid1 and "task" not in told.data  # nothing left to do
    event = case.trail.get(action="task.approver_withdrawn")
    assert event.data["position"] == "parallel" and event.data["approver"] == "town_aid2"
    assert settle_holders() == 0


def test_a_parallel_approver_switched_off_before_the_others_decide_no_longer_holds_the_step(
    demo, api
):
    case, approval = _claimed_approval(demo, api)
    parallel = _add(api, demo, approval, "town_aid2", "parallel")
    _switch_off(demo.town_aid2)

    assert settle_holders() == 1
    assert _status(parallel) == "CANCELED"
    assert [t.pk for t in open_tasks(case)] == [approval.pk]  # the step waits for its holder
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


def test_an_approver_added_after_and_still_held_is_dropped(demo, api, client):
    case, approval = _claimed_approval(demo, api)
    held = _add(api, demo, approval, "county_aid", "after")
    assert CaseTask.objects.get(pk=held.pk).on_hold
    _switch_off(demo.county_aid)

    assert settle_holders() == 1
    assert _status(held) == "CANCELED"
    assert [t.pk for t in open_tasks(case)] == [approval.pk]
    assert [n.recipient for n in _withdrawn_told(case)] == [demo.town_aid1]
    assert case.trail.get(action="task.approver_withdrawn").data["position"] == "after"
    # Cancelled, it no longer waits for anything: neither in the API...
    shown = api(demo.town_aid1).get(f"/api/v1/tasks/{held.pk}/").json()
    assert (shown["status"], shown["on_hold"]) == ("canceled", False)

    # ...nor on its page, which says it is cancelled.
    client.force_login(demo.town_aid1)
    page = client.get(f"/tasks/{held.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Cancelled" in page and "waiting for" not in page

    # Approving the step's own task now decides the step: nobody is asked after it.
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


def test_an_approver_added_after_already_asked_is_withdrawn_and_the_step_completes(demo, api):
    """Asked once the step's task was approved: the round, decided but for them, completes."""
    case, approval = _claimed_approval(demo, api)
    after = _add(api, demo, approval, "county_aid", "after")
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    assert not CaseTask.objects.get(pk=after.pk).on_hold  # their turn
    _switch_off(demo.county_aid)

    assert settle_holders() == 1
    case.refresh_from_db()
    assert case.status == "approved" and _status(after) == "CANCELED"


def test_of_two_approvers_added_after_the_next_is_asked_when_the_first_is_withdrawn(demo, api):
    case, approval = _claimed_approval(demo, api)
    first = _add(api, demo, approval, "county_aid", "after")
    second = _add(api, demo, approval, "town_aid2", "after")
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    assert not CaseTask.objects.get(pk=first.pk).on_hold
    assert CaseTask.objects.get(pk=second.pk).on_hold
    _switch_off(demo.county_aid)

    assert settle_holders() == 1
    assert not CaseTask.objects.get(pk=second.pk).on_hold
    assert Notification.objects.filter(
        recipient=demo.town_aid2, verb="task_created", data__task=second.pk
    ).exists()
    assert complete(api(demo.town_aid2), second, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


def test_an_active_added_approver_is_left_alone(demo, api):
    case, approval = _claimed_approval(demo, api)
    consult = _add(api, demo, approval, "county_aid", "before")
    _switch_off(demo.xs_aid1)  # someone else's account

    assert settle_holders() == 0
    assert _status(consult) == "ASSIGNED"
    assert CaseTask.objects.get(pk=approval.pk).on_hold
    assert not case.trail.filter(action="task.approver_withdrawn").exists()
    assert not _withdrawn_told(case).exists()


def test_an_account_switched_back_on_before_the_beat_keeps_its_task(demo, api):
    _case, approval = _claimed_approval(demo, api)
    parallel = _add(api, demo, approval, "town_aid2", "parallel")
    _switch_off(demo.town_aid2)
    User.objects.filter(pk=demo.town_aid2.pk).update(is_active=True)
    assert settle_holders() == 0
    assert _status(parallel) == "ASSIGNED"


def _away(demo, api, delegator, delegate, days=1):
    now = timezone.now()
    created = post(
        api(delegator),
        "/api/v1/delegations/",
        {
            "delegate": delegate,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=days)).isoformat(),
        },
    )
    assert created.status_code == 201, created.json()


def test_a_delegate_stands_in_for_an_inactive_approver_until_the_delegation_ends(demo, api):
    """county_aid, consulted while away, is stood in for by town_aid2: their account switched
    off, town_aid2 still answers for them. When the delegation ends the consultation comes
    back to county_aid, who cannot act: it is withdrawn and the task is back with its holder."""
    _away(demo, api, demo.county_aid, "town_aid2")
    case, approval = _claimed_approval(demo, api)
    consult = _add(api, demo, approval, "county_aid", "before")
    assert (consult.owner, consult.on_behalf_of) == (demo.town_aid2, demo.county_aid)
    _switch_off(demo.county_aid)

    assert settle_holders() == 0
    assert _status(consult) == "ASSIGNED"

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert return_delegated_tasks() == 1
        returned = CaseTask.objects.get(pk=consult.pk)
        assert (returned.owner, returned.on_behalf_of) == (demo.county_aid, None)
        assert settle_holders() == 1
        assert _status(consult) == "CANCELED"
        event = case.trail.get(action="task.approver_withdrawn")
        assert event.data["approver"] == "county_aid"
        assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_withdraw_once(demo, api):
    case, approval = _claimed_approval(demo, api)
    _add(api, demo, approval, "town_aid2", "parallel")
    assert complete(api(demo.town_aid1), approval, data=AMOUNT).status_code == 200
    _switch_off(demo.town_aid2)

    assert sum(race([settle_holders, settle_holders, settle_holders])) == 1
    assert settle_holders() == 0
    case.refresh_from_db()
    assert case.status == "approved"
    assert case.trail.filter(action="task.approver_withdrawn").count() == 1
    assert case.trail.filter(action="case.approved").count() == 1
    assert _withdrawn_told(case).count() == 1


def test_an_approver_added_after_sees_that_their_task_follows_the_approval_before_it(
    demo, api, client
):
    """Not 'waiting for the approver you consulted' (the wording of a task that consulted
    someone), which is not what holds theirs."""
    case, approval = _claimed_approval(demo, api)
    held = _add(api, demo, approval, "county_aid", "after")
    client.force_login(demo.county_aid)
    inbox = client.get("/tasks/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    page = client.get(f"/tasks/{held.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "after the approval before yours" in inbox and "consult" not in inbox
    assert "yours to decide once the approval before yours is given" in page
    assert "waiting for the approver you consulted" not in page

    consulted = _add(api, demo, approval, "town_aid2", "before")
    client.force_login(demo.town_aid1)
    inbox = client.get("/tasks/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    page = client.get(f"/tasks/{approval.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "waiting for consultation" in inbox and "waiting for the approver you consulted" in page
    assert CaseTask.objects.get(pk=consulted.pk).kind == "consult"
