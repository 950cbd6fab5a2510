"""Who may be given or act on a task: delegates are checked like the people they stand in
for, a round needs distinct people, and whoever is told about a task may act on it."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from approvals.models import CaseTask, Delegation
from approvals.tasks import process_deadlines
from notifications.models import Notification
from organizations.models import Membership, User
from tests.helpers import complete, open_tasks, post, submit


def _away(delegator, delegate):
    now = timezone.now()
    return Delegation.objects.create(
        delegator=delegator,
        delegate=delegate,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=3),
    )


def _officer(demo, username, org, role="aid_officer"):
    user = User.objects.create_user(username, full_name=username)
    Membership.objects.create(user=user, organization=demo.org(org), role=role)
    return user


def _at_approval(demo, api, applicant=None):
    case = submit("sample", applicant or demo.worker1)
    complete(api(demo.chair1), open_tasks(case)[0])
    [task] = open_tasks(case, "approval")
    assert post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    return case, task


def _add(api, user, task, approver, position="parallel"):
    return post(
        api(user),
        f"/api/v1/tasks/{task.pk}/add-approver/",
        {"user": approver, "position": position},
    )


def test_added_approver_whose_delegate_is_the_applicant_keeps_the_task(demo, api):
    """town_aid2 applies; county_aid is away with town_aid2 as delegate: the task added for
    county_aid stays with county_aid, never with the applicant."""
    Membership.objects.create(
        user=demo.town_aid2, organization=demo.org("东湖机械厂工会"), role="member"
    )
    case, task = _at_approval(demo, api, applicant=demo.town_aid2)
    _away(demo.county_aid, demo.town_aid2)
    assert _add(api, demo.town_aid1, task, "county_aid").status_code == 200
    [added] = [t for t in open_tasks(case) if t.kind == "added"]
    assert added.owner == demo.county_aid and added.on_behalf_of is None
    assert case.trail.get(action="task.approver_added").data["delegate_passed_over"] == (
        "town_aid2"
    )
    assert complete(api(demo.town_aid2), added).status_code in (403, 404, 409)
    assert not Notification.objects.filter(recipient=demo.town_aid2, verb="task_created").exists()


def test_added_approver_whose_delegate_is_in_the_round_keeps_the_task(demo, api):
    """town_aid1 adds county_aid, who is away with town_aid1 as delegate: town_aid1 would
    hold two tasks of one round."""
    case, task = _at_approval(demo, api)
    _away(demo.county_aid, demo.town_aid1)
    assert _add(api, demo.town_aid1, task, "county_aid").status_code == 200
    [added] = [t for t in open_tasks(case) if t.kind == "added"]
    assert added.owner == demo.county_aid and added.on_behalf_of is None


def test_transfer_to_an_away_officer_whose_delegate_decided_another_level(demo, api):
    county_aid2 = _officer(demo, "county_aid2", "示范县总工会")
    case = submit("levels_sample", demo.worker1, amount="6000")
    complete(api(demo.chair1), open_tasks(case, "review")[0])
    complete(api(demo.town_aid1), open_tasks(case, "town_review")[0])
    complete(api(demo.town_aid2), open_tasks(case, "town_confirm")[0])
    [county] = open_tasks(case, "county_approval")
    _away(demo.county_aid, demo.town_aid1)
    assert post(api(county_aid2), f"/api/v1/tasks/{county.pk}/claim/").status_code == 200
    moved = post(api(county_aid2), f"/api/v1/tasks/{county.pk}/transfer/", {"to": "county_aid"})
    assert moved.status_code == 200, moved.json()
    assert moved.json()["assignee"]["username"] == "county_aid"
    assert moved.json()["on_behalf_of"] is None
    event = case.trail.get(action="task.transferred")
    assert event.data["to"] == "county_aid" and event.data["delegate_passed_over"] == "town_aid1"
    assert complete(api(demo.town_aid1), county).status_code in (403, 404, 409)


def test_a_countersigner_cannot_be_given_the_other_slot(demo, api):
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    assert complete(api(demo.town_aid2), second, data={"findings": "b"}).status_code == 200
    officer = api(demo.town_aid1)
    assert post(officer, f"/api/v1/tasks/{first.pk}/claim/").status_code == 200
    moved = post(officer, f"/api/v1/tasks/{first.pk}/transfer/", {"to": "town_aid2"})
    assert moved.status_code == 400 and "to" in moved.json()["fields"]
    added = _add(api, demo.town_aid1, first, "town_aid2")
    assert added.status_code == 400 and "user" in added.json()["fields"]
    assert CaseTask.objects.get(pk=first.pk).owner == demo.town_aid1


def test_a_delegate_named_in_the_step_takes_no_second_task(demo, api):
    """two_of_three names town_aid1, town_aid2 and county_aid; county_aid stands in for
    town_aid2: county_aid would decide two of the three."""
    case = submit("modes_sample", demo.worker1)
    for task, who in zip(
        open_tasks(case, "investigation"), ("town_aid1", "town_aid2"), strict=True
    ):
        complete(api(demo.user(who)), task, data={"findings": who})
    _away(demo.town_aid2, demo.county_aid)
    complete(api(demo.town_aid1), open_tasks(case, "any_one")[0])
    owners = sorted((t.owner.username, t.on_behalf_of_id) for t in open_tasks(case, "two_of_three"))
    assert owners == [("county_aid", None), ("town_aid1", None), ("town_aid2", None)]


def test_nobody_may_decide_then_the_administrators_are_told(demo, api):
    """chair1 applies: no chair above the union may review it, and the sample flow declares
    no escalate_to: the administrators are told instead of nobody."""
    case = submit("sample", demo.chair1)
    unstaffed = case.trail.get(action="step.unstaffed")
    assert unstaffed.data["notified"]
    told = Notification.objects.filter(verb="step_unstaffed", case=case)
    assert told.exists()
    assert demo.chair1.pk not in set(told.values_list("recipient_id", flat=True))


def test_overdue_step_of_a_role_nobody_holds_above_tells_the_administrators(demo, api):
    with time_machine.travel("2026-03-02 09:00 +0800", tick=False):
        case = submit("levels_sample", demo.worker1)
    [review] = open_tasks(case)
    with time_machine.travel(review.due_at + timedelta(hours=1), tick=False):
        assert process_deadlines.run()["escalated"] == 1
    overdue = case.trail.get(action="task.overdue")
    assert overdue.data["notified"]  # nobody holds "chair" above: not an empty list
    assert "chair1" not in overdue.data["notified"]


def test_held_after_approver_is_not_told_of_a_task_they_never_saw(demo, api):
    case, task = _at_approval(demo, api)
    assert _add(api, demo.town_aid1, task, "county_aid", position="after").status_code == 200
    assert complete(api(demo.town_aid1), task, "reject", comment="no").status_code == 200
    assert not Notification.objects.filter(recipient=demo.county_aid).exists()


def test_urge_limit_says_when_to_try_again(demo, api):
    case, task = _at_approval(demo, api)
    applicant = api(demo.worker1)
    assert post(applicant, f"/api/v1/tasks/{task.pk}/urge/").status_code == 200
    again = post(applicant, f"/api/v1/tasks/{task.pk}/urge/")
    assert again.status_code == 429 and again.json()["code"] == "urge_limited"
    hours = 4  # approvals.urge_interval_hours by default
    assert 0 < int(again["Retry-After"]) <= hours * 3600


def test_an_added_approver_is_recorded_in_their_own_role(demo, api):
    case, task = _at_approval(demo, api)
    assert _add(api, demo.town_aid1, task, "county_finance").status_code == 200
    [added] = [t for t in open_tasks(case) if t.kind == "added"]
    assert (
        complete(api(demo.county_finance), added, data={"approved_amount": "5"}).status_code == 200
    )
    event = case.trail.get(action="task.completed", actor=demo.county_finance)
    assert event.actor_role == "finance_officer"


def test_a_delegate_covering_for_someone_cannot_delegate_in_that_period(demo, api):
    now = timezone.now()
    period = {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat(),
    }
    first = post(api(demo.county_aid), "/api/v1/delegations/", {"delegate": "town_aid1", **period})
    assert first.status_code == 201
    chained = post(api(demo.town_aid1), "/api/v1/delegations/", {"delegate": "town_aid2", **period})
    assert chained.status_code == 400 and chained.json()["code"] == "delegation_chain"
    assert "starts_at" in chained.json()["fields"]
    assert Delegation.objects.filter(delegator=demo.town_aid1).count() == 0


def test_a_delegate_hands_the_task_back_to_the_colleague_who_returned(demo, api):
    away = _away(demo.town_aid2, demo.county_aid)
    case = submit("modes_sample", demo.worker1)
    first, _second = open_tasks(case, "investigation")
    assert post(api(demo.county_aid), f"/api/v1/tasks/{first.pk}/claim/").status_code == 200
    assert CaseTask.objects.get(pk=first.pk).on_behalf_of == demo.town_aid2
    away.revoked_at = timezone.now()
    away.save(update_fields=["revoked_at"])
    back = post(api(demo.county_aid), f"/api/v1/tasks/{first.pk}/transfer/", {"to": "town_aid2"})
    assert back.status_code == 200, back.json()
    assert back.json()["assignee"]["username"] == "town_aid2"
