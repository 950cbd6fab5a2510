"""Separation of duties by approval level in the hardship flow, the chair's own application,
overdue grassroots reviews, one message per countersigned step, and the reason of a
send-back reaching the applicant."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.models import CaseTask
from approvals.tasks import process_deadlines
from notifications.models import Notification
from organizations.models import Membership, User
from tests.hardship.helpers import approve, investigate, open_tasks, post, submit, the_task
from tests.helpers import complete

pytestmark = pytest.mark.django_db


def _add(api, user, task, approver, position):
    return post(
        api(user),
        f"/api/v1/tasks/{task.pk}/add-approver/",
        {"user": approver, "position": position},
    )


def test_the_grassroots_reviewer_cannot_decide_the_town_review(demo, api):
    case = submit(api, demo.worker1)
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    town = the_task(case, "town_review")
    officer = api(demo.town_aid1)
    # The investigators (town level) may do the town review.
    assert post(officer, f"/api/v1/tasks/{town.pk}/claim/").status_code == 200
    added = _add(api, demo.town_aid1, town, "chair1", "parallel")
    assert added.status_code == 400 and "user" in added.json()["fields"]
    assert complete(officer, town).status_code == 200


def test_an_officer_added_at_grassroots_review_cannot_decide_at_the_town(demo, api):
    town_aid3 = User.objects.create_user("town_aid3", full_name="town_aid3")
    Membership.objects.create(
        user=town_aid3, organization=demo.org("东湖镇总工会"), role="aid_officer"
    )
    case = submit(api, demo.worker1)
    review = the_task(case, "grassroots_review")
    chair = api(demo.chair1)
    assert post(chair, f"/api/v1/tasks/{review.pk}/claim/").status_code == 200
    assert _add(api, demo.chair1, review, "town_aid1", "after").status_code == 200
    assert complete(chair, review).status_code == 200
    [added] = [t for t in open_tasks(case, "grassroots_review") if t.kind == "added"]
    assert complete(api(demo.town_aid1), added).status_code == 200
    # town_aid1 decided at the grassroots level: the town's other officers investigate.
    investigate(api, demo, case, officers=("town_aid2", "town_aid3"))
    town = the_task(case, "town_review")
    assert complete(api(demo.town_aid1), town).status_code == 403
    assert complete(api(demo.town_aid2), town).status_code == 200


def test_the_chairs_own_application_goes_to_the_town(demo, api):
    case = submit(api, demo.chair1)
    review = the_task(case, "grassroots_review")
    assert review.candidate_role == "aid_officer"
    assert review.candidate_organization.name == "东湖镇总工会"
    assert case.trail.get(action="step.escalated").data["to"] == {
        "role": "aid_officer",
        "organization": "东湖镇总工会",
    }
    assert Notification.objects.filter(recipient=demo.town_aid1, verb="task_created").exists()
    assert complete(api(demo.chair1), review).status_code in (403, 404)
    assert complete(api(demo.town_aid1), review).status_code == 200


def test_an_overdue_grassroots_review_is_told_to_the_town(demo, api):
    with time_machine.travel("2026-03-02 09:00 +0800", tick=False):
        case = submit(api, demo.worker1)
    review = the_task(case, "grassroots_review")
    with time_machine.travel(review.due_at + timedelta(hours=1), tick=False):
        assert process_deadlines.run()["escalated"] == 1
    overdue = case.trail.get(action="task.overdue")
    assert overdue.data["notified"] == ["town_aid1", "town_aid2"]
    assert Notification.objects.filter(recipient=demo.town_aid1, verb="task_overdue").exists()


def test_the_applicant_hears_of_a_countersigned_step_once(demo, api):
    case = submit(api, demo.worker1)
    approve(api, demo.chair1, case, "grassroots_review")
    first, second = open_tasks(case, "investigation")

    def told():
        return [
            n.data
            for n in Notification.objects.filter(recipient=demo.worker1, verb="step_decided")
            if n.data.get("step") == "investigation"
        ]

    data = {
        "visit_date": timezone.localdate().isoformat(),
        "verified_income": "24000.00",
        "findings": "ok",
    }
    assert complete(api(demo.town_aid1), first, data=data).status_code == 200
    assert told() == []  # the other investigator has not decided yet
    assert complete(api(demo.town_aid2), second, data=data).status_code == 200
    assert [d["decision"] for d in told()] == ["approve"]


def test_a_send_back_to_the_applicant_says_why(demo, api):
    case = submit(api, demo.worker1)
    review = the_task(case, "grassroots_review")
    chair = api(demo.chair1)
    assert post(chair, f"/api/v1/tasks/{review.pk}/claim/").status_code == 200
    sent = post(
        chair,
        f"/api/v1/tasks/{review.pk}/send-back/",
        {"to_step": "applicant", "comment": "attach income proof"},
    )
    assert sent.status_code == 200
    supplement = the_task(case, "supplement")
    assert supplement.data["reason"] == "attach income proof"
    shown = api(demo.worker1).get(f"/api/v1/tasks/{supplement.pk}/").json()
    assert shown["data"]["reason"] == "attach income proof"
    told = Notification.objects.get(recipient=demo.worker1, verb="task_created", case=case)
    assert told.body == "attach income proof"


def test_a_return_to_the_applicant_is_told_once_with_the_reason(demo, api):
    case = submit(api, demo.worker1)
    review = the_task(case, "grassroots_review")
    assert complete(api(demo.chair1), review, "return", comment="sign page 2").status_code == 200
    assert CaseTask.objects.get(pk=the_task(case, "supplement").pk).data["reason"] == "sign page 2"
    told = Notification.objects.filter(recipient=demo.worker1, case=case).exclude(
        verb="case_submitted"
    )
    assert [(n.verb, n.body) for n in told if n.verb in ("task_created", "step_decided")] == [
        ("task_created", "sign page 2")
    ]
