"""The task endpoints, driven end to end through the API on the sample flow."""

import re
import threading

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from approvals.api import TaskSerializer
from approvals.models import CaseTask
from cases import trail
from notifications.models import Notification
from tests.helpers import open_task, submit_sample


def _post(client, url, body=None):
    return client.post(url, body or {}, format="json")


def test_sample_flow_end_to_end_through_the_api(demo, api):
    worker = api(demo.worker1)
    created = _post(worker, "/api/v1/sample-cases/", {"title": "Roof repair", "amount": "1200.50"})
    assert created.status_code == 201, created.json()
    case = created.json()
    assert case["number"].startswith("SP-") and case["status"] == "in_progress"
    [task] = case["open_tasks"]
    assert task["step"] == "review" and task["status"] == "new" and task["assignee"] is None
    assert [d["value"] for d in task["decisions"]] == ["approve", "reject"]
    assert task["fields"] == [
        {"name": "note", "type": "string", "required": False, "label": "Note"}
    ]

    chair = api(demo.chair1)
    queue = chair.get("/api/v1/tasks/?view=queue").json()
    assert [t["id"] for t in queue["results"]] == [task["id"]]
    # Told about the new task in the inbox.
    assert Notification.objects.filter(recipient=demo.chair1, verb="task_created").exists()

    claimed = _post(chair, f"/api/v1/tasks/{task['id']}/claim/")
    assert claimed.status_code == 200 and claimed.json()["assignee"]["username"] == "chair1"
    assert chair.get("/api/v1/tasks/?view=queue").json()["count"] == 0
    assert [t["id"] for t in chair.get("/api/v1/tasks/").json()["results"]] == [task["id"]]

    done = _post(
        chair,
        f"/api/v1/tasks/{task['id']}/complete/",
        {"decision": "approve", "data": {"note": "ok"}},
    )
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "done" and done.json()["decisions"] == []
    assert chair.get("/api/v1/tasks/?view=archive").json()["results"][0]["id"] == task["id"]

    detail = worker.get(f"/api/v1/cases/{case['id']}/").json()
    [approval] = detail["open_tasks"]
    assert approval["step"] == "approval"
    assert approval["candidates"]["role"] == "aid_officer"
    assert approval["candidates"]["organization"]["name"] == "东湖镇总工会"

    officer = api(demo.town_aid2)
    bad = _post(
        officer, f"/api/v1/tasks/{approval['id']}/complete/", {"decision": "approve", "data": {}}
    )
    assert bad.status_code == 400 and "data.approved_amount" in bad.json()["fields"]
    finished = _post(
        officer,
        f"/api/v1/tasks/{approval['id']}/complete/",
        {"decision": "approve", "comment": "checked", "data": {"approved_amount": "1000"}},
    )
    assert finished.status_code == 200

    final = worker.get(f"/api/v1/cases/{case['id']}/").json()
    assert final["status"] == "approved" and final["open_tasks"] == []
    assert Notification.objects.filter(recipient=demo.worker1, verb="case_approved").count() == 1
    events = worker.get(f"/api/v1/cases/{case['id']}/trail/").json()["results"]
    assert events[-1]["action"] == "case.approved"
    assert [e["comment"] for e in events if e["action"] == "task.completed"] == ["", "checked"]
    assert worker.get(f"/api/v1/cases/{case['id']}/trail/verify/").json()["valid"] is True


def test_completing_an_unclaimed_task_writes_it_once_and_answers_it_as_stored(demo, api):
    """Claim and decision in one call: the task row is written once, the trail still says it was
    claimed, and the answer (built from the task as saved, not read again) is what a fresh read
    of the task shows."""
    case = submit_sample(demo.worker1)
    task = open_task(case)
    with CaptureQueriesContext(connection) as ctx:
        done = _post(
            api(demo.chair1),
            f"/api/v1/tasks/{task.pk}/complete/",
            {"decision": "approve", "comment": "核实无误", "data": {"note": "ok"}},
        )
    assert done.status_code == 200, done.json()
    writes = [
        table
        for q in ctx.captured_queries
        for table, key in re.findall(r'UPDATE "(\w+)" SET .*? WHERE [\w."]+ = (\d+)', q["sql"])
        if int(key) == task.pk
    ]
    assert sorted(writes) == ["approvals_casetask", "viewflow_task"]  # each of its rows once

    stored = CaseTask.objects.get(pk=task.pk)
    assert (stored.status, stored.owner, stored.completed_by, stored.decision) == (
        "DONE",
        demo.chair1,
        demo.chair1,
        "approve",
    )
    assert done.json() == TaskSerializer(stored).data
    assert done.json()["assignee"]["username"] == "chair1"
    assert done.json()["data"] == {"note": "ok"}
    actions = [(e.action, e.actor_id) for e in case.trail.order_by("seq")]
    assert ("task.claimed", demo.chair1.pk) in actions
    assert actions.index(("task.claimed", demo.chair1.pk)) < actions.index(
        ("task.completed", demo.chair1.pk)
    )
    assert trail.verify(case).valid


def test_reject_and_return_need_a_comment_and_route(demo, api):
    case = submit_sample(demo.worker1)
    chair = api(demo.chair1)
    task = open_task(case)
    response = _post(chair, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "reject"})
    assert response.status_code == 400 and "comment" in response.json()["fields"]
    response = _post(
        chair, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "return", "comment": "x"}
    )
    assert response.status_code == 400 and "decision" in response.json()["fields"]
    assert (
        _post(chair, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approve"}).status_code
        == 200
    )

    officer = api(demo.town_aid1)
    task = open_task(case)
    returned = _post(
        officer, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "return", "comment": "photos"}
    )
    assert returned.status_code == 200
    again = open_task(case)
    assert again.flow_task.name == "review"

    _post(chair, f"/api/v1/tasks/{again.pk}/complete/", {"decision": "approve"})
    rejected = _post(
        officer,
        f"/api/v1/tasks/{open_task(case).pk}/complete/",
        {"decision": "reject", "comment": "income too high"},
    )
    assert rejected.status_code == 200
    case.refresh_from_db()
    assert case.status == "rejected"
    assert trail.verify(case).valid


def test_claim_release_and_conflicts(demo, api):
    case = submit_sample(demo.worker1)
    task = open_task(case)
    chair = api(demo.chair1)
    assert _post(chair, f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    again = _post(chair, f"/api/v1/tasks/{task.pk}/claim/")
    assert again.status_code == 200  # claiming what you hold is harmless
    released = _post(chair, f"/api/v1/tasks/{task.pk}/release/")
    assert released.status_code == 200 and released.json()["assignee"] is None
    _post(chair, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approve"})
    closed = _post(chair, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approve"})
    assert closed.status_code == 409 and closed.json()["code"] == "task_closed"
    assert _post(chair, f"/api/v1/tasks/{task.pk}/claim/").status_code == 409


def test_ineligible_officer_gets_403_and_outsider_404(demo, api):
    case = submit_sample(demo.worker1)
    task = open_task(case)
    # town_aid1 sees the case (own subtree) but holds no chair role there.
    response = _post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    # A Xishan officer cannot even see it.
    for url in (
        f"/api/v1/tasks/{task.pk}/",
        f"/api/v1/cases/{case.pk}/",
        f"/api/v1/cases/{case.pk}/trail/",
    ):
        assert api(demo.xs_aid1).get(url).status_code == 404
    assert _post(api(demo.xs_aid1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 404
    assert (
        _post(
            api(demo.chair3), f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approve"}
        ).status_code
        == 404
    )


def test_claimed_by_someone_else_is_409(demo, api):
    case = submit_sample(demo.worker1)
    _post(
        api(demo.chair1), f"/api/v1/tasks/{open_task(case).pk}/complete/", {"decision": "approve"}
    )
    task = open_task(case)
    assert _post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    other = api(demo.town_aid2)
    assert _post(other, f"/api/v1/tasks/{task.pk}/claim/").status_code == 409
    response = _post(
        other,
        f"/api/v1/tasks/{task.pk}/complete/",
        {"decision": "approve", "data": {"approved_amount": 1}},
    )
    assert response.status_code == 409 and response.json()["code"] == "task_claimed"
    assert _post(other, f"/api/v1/tasks/{task.pk}/release/").status_code == 403


def test_applicant_never_decides_own_case(demo, api):
    """chair1 is also a member: their own application is not in their queue."""
    case = submit_sample(demo.chair1)
    task = open_task(case)
    chair = api(demo.chair1)
    assert chair.get("/api/v1/tasks/?view=queue").json()["count"] == 0
    assert _post(chair, f"/api/v1/tasks/{task.pk}/claim/").status_code == 403


def test_inbox_query_count_does_not_grow_with_rows(demo, api):
    chair = api(demo.chair1)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert chair.get("/api/v1/tasks/?view=queue&page_size=100").status_code == 200
        return len(ctx.captured_queries)

    submit_sample(demo.worker1)
    one = count_queries()
    for _ in range(5):
        submit_sample(demo.worker2)
    assert chair.get("/api/v1/tasks/?view=queue").json()["count"] == 6
    assert count_queries() == one


def test_case_list_query_count_does_not_grow_with_rows(demo, api):
    officer = api(demo.town_aid1)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert officer.get("/api/v1/cases/?page_size=100").status_code == 200
        return len(ctx.captured_queries)

    submit_sample(demo.worker1)
    one = count_queries()
    for _ in range(5):
        submit_sample(demo.worker3)
    assert officer.get("/api/v1/cases/").json()["count"] == 6
    assert count_queries() == one


def test_task_list_filters(demo, api):
    submit_sample(demo.worker1)
    chair = api(demo.chair1)
    assert chair.get("/api/v1/tasks/?view=queue&step=review").json()["count"] == 1
    assert chair.get("/api/v1/tasks/?view=queue&step=approval").json()["count"] == 0
    assert chair.get("/api/v1/tasks/?view=queue&process=hardship").json()["count"] == 0
    assert chair.get("/api/v1/tasks/?view=queue&overdue=true").json()["count"] == 0
    bad = chair.get("/api/v1/tasks/?view=everything")
    assert bad.status_code == 400 and "view" in bad.json()["fields"]
    in_chinese = chair.get("/api/v1/tasks/?view=everything", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert in_chinese.json()["fields"]["view"] == ["请从以下选项中选择：inbox, queue, archive。"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_claiming_at_the_same_moment(api):
    """Real threads, real row locks: exactly one claim wins, the other gets 409."""
    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    case = submit_sample(User.objects.get(username="worker1"))
    chair_task = open_task(case)
    # Make two officers eligible for the same step: the second is also chair at the union.
    from organizations.models import Membership, Organization

    union = Organization.objects.get(name="东湖机械厂工会")
    Membership.objects.create(
        user=User.objects.get(username="worker2"), organization=union, role="chair"
    )
    clients = [api(User.objects.get(username=u)) for u in ("chair1", "worker2")]
    barrier = threading.Barrier(2)
    results = []

    def claim(client):
        try:
            barrier.wait()
            results.append(_post(client, f"/api/v1/tasks/{chair_task.pk}/claim/").status_code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=claim, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    assert case.trail.filter(action="task.claimed").count() == 1
    assert CaseTask.objects.get(pk=chair_task.pk).owner is not None
    assert trail.verify(case).valid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_completions_at_the_same_moment_decide_once(api):
    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    case = submit_sample(User.objects.get(username="worker1"))
    task = open_task(case)
    client = api(User.objects.get(username="chair1"))
    barrier = threading.Barrier(2)
    results = []

    def complete():
        try:
            barrier.wait()
            results.append(
                _post(
                    client, f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approve"}
                ).status_code
            )
        finally:
            close_old_connections()

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    assert case.trail.filter(action="task.completed").count() == 1
    assert (
        CaseTask.objects.filter(case=case, flow_task_type="HUMAN").count() == 2
    )  # review + one approval
    assert trail.verify(case).valid


def test_trail_records_actor_and_source_ip(demo, api):
    created = api(demo.worker1).post(
        "/api/v1/sample-cases/",
        {"title": "x", "amount": "1"},
        format="json",
        REMOTE_ADDR="10.1.2.3",
    )
    case_id = created.json()["id"]
    task_id = created.json()["open_tasks"][0]["id"]
    api(demo.chair1).post(
        f"/api/v1/tasks/{task_id}/complete/",
        {"decision": "approve"},
        format="json",
        REMOTE_ADDR="10.9.9.9",
    )
    events = api(demo.town_aid1).get(f"/api/v1/cases/{case_id}/trail/").json()["results"]
    by_action = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    assert by_action["case.submitted"][0]["source_ip"] == "10.1.2.3"
    assert by_action["case.submitted"][0]["actor"]["username"] == "worker1"
    completed = by_action["task.completed"][0]
    assert completed["source_ip"] == "10.9.9.9" and completed["actor"]["username"] == "chair1"
    # The next step was opened by the chair's decision.
    assert by_action["task.created"][1]["actor"]["username"] == "chair1"


def test_a_decision_sent_again_with_its_idempotency_key_gets_the_first_answer(demo, api):
    """A client whose connection dropped after deciding cannot know it went through: sent
    again with the same Idempotency-Key, the decision answers as the first time (not 409
    "task closed") and is recorded once; the same key for another request is refused."""
    from cases.models import TrailEvent

    case = submit_sample(demo.worker1)
    task = open_task(case)
    chair = api(demo.chair1)
    url = f"/api/v1/tasks/{task.pk}/complete/"
    body = {"decision": "approve", "data": {"note": "ok"}}
    first = chair.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="decide-1")
    assert first.status_code == 200, first.json()
    events = TrailEvent.objects.filter(case=case).count()
    again = chair.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="decide-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert TrailEvent.objects.filter(case=case).count() == events
    other = chair.post(
        url, {"decision": "reject", "comment": "no"}, format="json", HTTP_IDEMPOTENCY_KEY="decide-1"
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    without_key = chair.post(url, body, format="json")
    assert without_key.status_code == 409 and without_key.json()["code"] == "task_closed"


def test_a_case_list_filter_for_a_process_that_does_not_exist_names_it(demo, api):
    """?process=xyz answered 200 with an empty list — a misspelt filter looked like "no
    cases" — while ?status=bogus was a 400 naming the field."""
    submit_sample(demo.worker1)
    officer = api(demo.town_aid1)
    assert officer.get("/api/v1/cases/?process=sample").json()["count"] == 1
    for query in ("process=xyz", "status=bogus"):
        refused = officer.get(f"/api/v1/cases/?{query}")
        assert refused.status_code == 400, query
        assert list(refused.json()["fields"]) == [query.split("=")[0]]
