"""Approval modes declared by a flow: countersign, any-one, N-of-M, sequential; and
separation of duties between steps."""

from approvals.models import CaseTask
from cases import trail
from tests.helpers import actions, complete, open_tasks, post, submit


def _pass_investigation(demo, api, case):
    first, second = open_tasks(case, "investigation")
    assert complete(api(demo.town_aid1), first, data={"findings": "visited"}).status_code == 200
    # The same officer cannot take the second countersign slot.
    response = post(api(demo.town_aid1), f"/api/v1/tasks/{second.pk}/claim/")
    assert response.status_code == 403
    assert complete(api(demo.town_aid2), second, data={"findings": "confirmed"}).status_code == 200


def test_countersign_needs_two_distinct_officers(demo, api):
    case = submit("modes_sample", demo.worker1)
    tasks = open_tasks(case, "investigation")
    assert len(tasks) == 2 and len({t.batch for t in tasks}) == 1
    queue = api(demo.town_aid1).get("/api/v1/tasks/?view=queue").json()
    assert queue["count"] == 2
    complete(api(demo.town_aid1), tasks[0], data={"findings": "visited"})
    assert api(demo.town_aid1).get("/api/v1/tasks/?view=queue").json()["count"] == 0
    assert open_tasks(case, "investigation") == [tasks[1]]  # still waiting for the second
    complete(api(demo.town_aid2), tasks[1], data={"findings": "ok"})
    assert open_tasks(case, "investigation") == []
    assert len(open_tasks(case, "any_one")) == 3


def test_countersign_with_one_rejection_rejects(demo, api):
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "ok"})
    response = complete(api(demo.town_aid2), second, "reject", comment="not in hardship")
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.status == "rejected"
    assert trail.verify(case).valid


def test_countersign_rejection_first_cancels_the_other_slot(demo, api):
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, "reject", comment="income too high")
    case.refresh_from_db()
    assert case.status == "rejected"
    assert CaseTask.objects.get(pk=second.pk).status == "CANCELED"


def test_any_one_first_decision_wins_and_cancels_siblings(demo, api):
    case = submit("modes_sample", demo.worker1)
    _pass_investigation(demo, api, case)
    a, b, c = open_tasks(case, "any_one")
    assert {t.owner.username for t in (a, b, c)} == {"town_aid1", "town_aid2", "county_aid"}
    assert complete(api(demo.county_aid), c).status_code == 200
    assert {CaseTask.objects.get(pk=t.pk).status for t in (a, b)} == {"CANCELED"}
    assert complete(api(demo.town_aid1), a).status_code == 409
    from notifications.models import Notification

    assert Notification.objects.filter(verb="task_canceled", recipient=demo.town_aid1).count() == 1
    assert len(open_tasks(case, "two_of_three")) == 3


def _to_two_of_three(demo, api, case):
    _pass_investigation(demo, api, case)
    complete(api(demo.county_aid), open_tasks(case, "any_one")[2])
    return {t.owner.username: t for t in open_tasks(case, "two_of_three")}


def test_n_of_m_needs_two_approvals(demo, api):
    case = submit("modes_sample", demo.worker1)
    tasks = _to_two_of_three(demo, api, case)
    complete(api(demo.town_aid1), tasks["town_aid1"], "reject", comment="doubtful")
    assert len(open_tasks(case, "two_of_three")) == 2  # 2 of the remaining 2 can still approve
    complete(api(demo.town_aid2), tasks["town_aid2"])
    assert len(open_tasks(case, "two_of_three")) == 1
    complete(api(demo.county_aid), tasks["county_aid"])
    assert open_tasks(case, "two_of_three") == []
    assert [t.owner.username for t in open_tasks(case, "in_sequence")] == ["town_aid2"]


def test_n_of_m_rejects_when_approval_is_out_of_reach(demo, api):
    case = submit("modes_sample", demo.worker1)
    tasks = _to_two_of_three(demo, api, case)
    complete(api(demo.town_aid1), tasks["town_aid1"], "reject", comment="no")
    complete(api(demo.town_aid2), tasks["town_aid2"], "reject", comment="no")
    case.refresh_from_db()
    assert case.status == "rejected"
    assert CaseTask.objects.get(pk=tasks["county_aid"].pk).status == "CANCELED"


def test_sequential_asks_one_after_another(demo, api):
    case = submit("modes_sample", demo.worker1)
    tasks = _to_two_of_three(demo, api, case)
    complete(api(demo.town_aid1), tasks["town_aid1"])
    complete(api(demo.town_aid2), tasks["town_aid2"])
    [first] = open_tasks(case, "in_sequence")
    assert first.owner.username == "town_aid2"
    complete(api(demo.town_aid2), first)
    [second] = open_tasks(case, "in_sequence")
    assert second.owner.username == "county_aid" and second.batch == first.batch
    complete(api(demo.county_aid), second)
    case.refresh_from_db()
    assert case.status == "approved"
    assert trail.verify(case).valid
    assert actions(case)[-1] == "case.approved"


def test_separation_of_duties_between_steps(demo, api):
    case = submit("levels_sample", demo.worker1)
    complete(api(demo.chair1), open_tasks(case, "review")[0])
    [town] = open_tasks(case, "town_review")
    complete(api(demo.town_aid1), town)
    [confirm] = open_tasks(case, "town_confirm")
    # town_aid1 decided the town review: not eligible for the confirmation.
    assert api(demo.town_aid1).get("/api/v1/tasks/?view=queue").json()["count"] == 0
    response = complete(api(demo.town_aid1), confirm)
    assert response.status_code == 403
    assert complete(api(demo.town_aid2), confirm).status_code == 200


def test_self_approval_refused_and_escalated(demo, api):
    """chair1 applies: the only chair of the union cannot review it; the step goes to the
    chair role one level up, and the trail says why."""
    from organizations.models import Membership, User

    town_chair = User.objects.create_user("town_chair", full_name="镇主席")
    Membership.objects.create(user=town_chair, organization=demo.org("东湖镇总工会"), role="chair")
    case = submit("sample", demo.chair1)
    [task] = open_tasks(case)
    assert task.candidate_organization.name == "东湖镇总工会"
    escalated = case.trail.get(action="step.escalated")
    assert escalated.data["reason"] == "no_eligible_approver"
    assert escalated.data["to"] == {"role": "chair", "organization": "东湖镇总工会"}
    assert post(api(demo.chair1), f"/api/v1/tasks/{task.pk}/claim/").status_code in (403, 404)
    assert complete(api(town_chair), task).status_code == 200


def test_applicant_who_is_an_officer_cannot_take_a_slot(demo, api):
    from organizations.models import Membership

    Membership.objects.create(
        user=demo.town_aid1, organization=demo.org("东湖机械厂工会"), role="member"
    )
    case = submit("modes_sample", demo.town_aid1)
    # Two distinct officers are needed and only town_aid2 remains, at any level: the step
    # stays with the town and the trail says it lacks approvers.
    unstaffed = case.trail.get(action="step.unstaffed")
    assert unstaffed.data["needed"] == 2 and unstaffed.data["organization"] == "东湖镇总工会"
    tasks = open_tasks(case, "investigation")
    assert post(api(demo.town_aid1), f"/api/v1/tasks/{tasks[0].pk}/claim/").status_code == 403
