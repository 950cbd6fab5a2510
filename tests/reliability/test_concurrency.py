"""Many people acting on the same case at the same moment: real threads, each with its own
database connection and token-authenticated API client, released together by a barrier.
Row locks must let exactly one of them change each task; the flow moves on once; the trail
gets one event per change and still verifies; no notification is written twice."""

import uuid
from collections import Counter

import pytest

from approvals.models import CaseTask
from cases import trail
from cases.models import Case, CaseNumberCounter
from notifications.models import Channel, Delivery, Notification, WebhookEndpoint
from organizations.demo import seed_demo
from organizations.models import Membership, Organization, User
from tests.helpers import open_tasks, race, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def _officers(count, *, role, organization, prefix):
    """`count` extra people holding `role` at `organization`, with email addresses (so that
    the outbox gets rows for them too)."""
    people = []
    for i in range(count):
        user = User.objects.create_user(
            username=f"{prefix}{i}", email=f"{prefix}{i}@example.org", full_name=f"{prefix}{i}"
        )
        Membership.objects.create(user=user, organization=organization, role=role)
        people.append(user)
    return people


def _post(api, user, url, body=None, **headers):
    client = api(user)
    return lambda: client.post(url, body or {}, format="json", **headers)


def _statuses(responses):
    return Counter(r.status_code for r in responses)


def _codes(responses, status):
    return Counter(r.json()["code"] for r in responses if r.status_code == status)


def _assert_outbox_not_duplicated(case):
    """One inbox row per (event, recipient) and one delivery per (event, channel, target):
    what the unique constraints promise, checked from the data rather than trusted."""
    rows = Notification.objects.filter(case=case).values_list("event", "recipient_id")
    assert len(rows) == len(set(rows))
    deliveries = Delivery.objects.filter(event__in={e for e, _ in rows})
    keys = list(deliveries.values_list("event", "channel", "recipient_id", "endpoint_id"))
    assert len(keys) == len(set(keys))


def _trail_counts(case, action):
    return Counter(case.trail.filter(action=action).values_list("task_id", flat=True).order_by())


@pytest.fixture
def town():
    seed_demo()
    return Organization.objects.get(name="东湖镇总工会")


@pytest.fixture
def union():
    return Organization.objects.get(name="东湖机械厂工会")


@pytest.fixture
def endpoint(town):
    """A webhook endpoint covering the town's cases: every notification also gets a webhook
    row, one per event."""
    return WebhookEndpoint.objects.create(
        organization=town, name="robot", url="http://127.0.0.1:9/hook"
    )


def test_twenty_people_claiming_one_task_one_wins(api, town, union, endpoint):
    chairs = [User.objects.get(username="chair1")] + _officers(
        THREADS - 1, role="chair", organization=union, prefix="chair_x"
    )
    case = submit("sample", User.objects.get(username="worker1"))
    [task] = open_tasks(case, "review")

    responses = race([_post(api, u, f"/api/v1/tasks/{task.pk}/claim/") for u in chairs])

    assert _statuses(responses) == {200: 1, 409: THREADS - 1}
    assert _codes(responses, 409) == {"task_claimed": THREADS - 1}
    [winner] = [u for u, r in zip(chairs, responses, strict=True) if r.status_code == 200]
    task.refresh_from_db()
    assert task.owner == winner and task.status == "ASSIGNED"
    assert _trail_counts(case, "task.claimed") == {task.pk: 1}
    assert trail.verify(case).valid
    _assert_outbox_not_duplicated(case)


def test_twenty_completions_of_one_task_decide_it_once(api, town, union, endpoint):
    """Half the people complete the unclaimed task directly, half the same person repeats
    the click: one decision, one next step, one notification of each kind."""
    chairs = [User.objects.get(username="chair1")] + _officers(
        THREADS // 2 - 1, role="chair", organization=union, prefix="chair_x"
    )
    chair1 = chairs[0]
    case = submit("sample", User.objects.get(username="worker1"))
    [task] = open_tasks(case, "review")
    url = f"/api/v1/tasks/{task.pk}/complete/"
    body = {"decision": "approve", "data": {"note": "ok"}}
    people = chairs + [chair1] * (THREADS - len(chairs))

    responses = race([_post(api, u, url, body) for u in people])

    assert _statuses(responses) == {200: 1, 409: THREADS - 1}
    assert set(_codes(responses, 409)) <= {"task_closed", "task_claimed"}
    task.refresh_from_db()
    assert task.status == "DONE" and task.decision == "approve"
    # The flow moved on exactly once: one approval task, opened once.
    [approval] = open_tasks(case, "approval")
    assert CaseTask.objects.filter(case=case, flow_task_type="HUMAN").count() == 2
    assert _trail_counts(case, "task.completed") == {task.pk: 1}
    assert _trail_counts(case, "task.claimed") == {task.pk: 1}
    assert _trail_counts(case, "task.created") == {task.pk: 1, approval.pk: 1}
    assert trail.verify(case).valid
    # The applicant is told of the decision once; the approvers of the next step once each.
    decided = Notification.objects.filter(event=f"task:{task.pk}:decided")
    assert list(decided.values_list("recipient__username", flat=True)) == ["worker1"]
    opened = Delivery.objects.filter(event=f"round:{approval.batch}:opened")
    aid_officers = Membership.objects.filter(organization=town, role="aid_officer").count()
    assert opened.filter(channel=Channel.EMAIL).count() == aid_officers
    assert opened.filter(channel=Channel.WEBHOOK).count() == 1
    _assert_outbox_not_duplicated(case)


def test_countersign_slots_completed_at_once_close_the_round_once(api, town, endpoint):
    """Two countersign slots (two officers must investigate), twenty officers going for them
    at once, each trying both slots: each slot gets one decision by a different person, and
    the round is decided once."""
    officers = _officers(THREADS // 2, role="aid_officer", organization=town, prefix="aid_x")
    case = submit("modes_sample", User.objects.get(username="worker1"))
    slots = open_tasks(case, "investigation")
    assert len(slots) == 2
    body = {"decision": "approve", "data": {"findings": "visited the family"}}
    calls = [
        _post(api, officer, f"/api/v1/tasks/{slot.pk}/complete/", body)
        for officer in officers
        for slot in slots
    ]

    responses = race(calls)

    assert _statuses(responses)[200] == 2
    # The losers are told why, as domain errors: taken or closed (409), or — for someone who
    # already decided the other slot — not theirs to take (403).
    assert set(_statuses(responses)) <= {200, 403, 409}
    deciders = {
        (slot.pk, officer.pk)
        for (officer, slot), r in zip(
            [(o, s) for o in officers for s in slots], responses, strict=True
        )
        if r.status_code == 200
    }
    assert {slot for slot, _ in deciders} == {s.pk for s in slots}
    assert len({officer for _, officer in deciders}) == 2  # two distinct people
    for slot in slots:
        slot.refresh_from_db()
        assert slot.status == "DONE" and slot.decision == "approve"
    # The next step (three named officers, or-sign) opened once.
    assert len(open_tasks(case, "any_one")) == 3
    assert CaseTask.objects.filter(case=case, flow_task__endswith=".any_one").count() == 3
    assert _trail_counts(case, "task.completed") == {s.pk: 1 for s in slots}
    assert trail.verify(case).valid
    _assert_outbox_not_duplicated(case)


def test_parallel_branches_finished_at_once_join_once(api, town, endpoint):
    """A viewflow Split opens two approvals; twenty officers finish both at the same moment.
    The Join must fire exactly once and open exactly one confirmation."""
    officers = _officers(THREADS, role="aid_officer", organization=town, prefix="aid_x")
    case = submit("parallel_sample", User.objects.get(username="worker1"))
    branches = open_tasks(case)
    assert sorted(t.flow_task.name for t in branches) == ["aid_check", "finance_check"]
    # Distinct people per branch: separation of duties forbids deciding both.
    calls = [
        _post(
            api, officer, f"/api/v1/tasks/{branches[i % 2].pk}/complete/", {"decision": "approve"}
        )
        for i, officer in enumerate(officers)
    ]

    responses = race(calls)

    assert _statuses(responses) == {200: 2, 409: THREADS - 2}
    assert set(_codes(responses, 409)) <= {"task_closed", "task_claimed"}
    [join] = CaseTask.objects.filter(process=case.flow_process, flow_task_type="JOIN")
    assert join.status == "DONE"
    [confirmation] = open_tasks(case, "confirmation")
    assert (
        CaseTask.objects.filter(
            process=case.flow_process, flow_task_type="HUMAN", status__in=("NEW", "ASSIGNED")
        ).count()
        == 1
    )
    assert _trail_counts(case, "task.completed") == {b.pk: 1 for b in branches}
    assert case.trail.filter(action="task.done", step="join").count() == 1
    assert _trail_counts(case, "task.created")[confirmation.pk] == 1
    assert trail.verify(case).valid
    _assert_outbox_not_duplicated(case)

    # And the case still finishes normally.
    done = api(User.objects.get(username="chair1")).post(
        f"/api/v1/tasks/{confirmation.pk}/complete/", {"decision": "approve"}, format="json"
    )
    assert done.status_code == 200, done.json()
    case.refresh_from_db()
    assert case.status == "approved"
    assert case.trail.filter(action="case.approved").count() == 1


def test_twenty_submissions_at_once_get_consecutive_numbers(api, town, union):
    members = [User.objects.get(username="worker1")] + _officers(
        THREADS - 1, role="member", organization=union, prefix="member_x"
    )
    calls = [
        _post(
            api,
            m,
            "/api/v1/sample-cases/",
            {"title": "Roof", "amount": "100.00"},
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        for m in members
    ]

    responses = race(calls)

    assert _statuses(responses) == {201: THREADS}
    numbers = sorted(r.json()["number"] for r in responses)
    year = numbers[0].split("-")[1]
    assert numbers == [f"SP-{year}-{n:06d}" for n in range(1, THREADS + 1)]
    assert CaseNumberCounter.objects.get(prefix="SP", year=int(year)).last == THREADS
    for case in Case.objects.all():
        assert case.flow_process_id is not None
        assert list(case.trail.order_by("seq").values_list("action", flat=True)[:2]) == [
            "case.submitted",
            "task.created",
        ]
        assert trail.verify(case).valid
        assert len(open_tasks(case, "review")) == 1


def test_one_decision_form_sent_from_twenty_taps_at_once_decides_once(town):
    """The same rendered decision form (its one-time key) sent twenty times at once, as a
    phone resending on a bad connection might: one decision, and every send goes to the case
    page — none answers "task already closed"."""
    from django.test import Client

    chair = User.objects.get(username="chair1")
    case = submit("sample", User.objects.get(username="worker1"))
    [task] = open_tasks(case)
    key = uuid.uuid4().hex
    body = {"op": "decide", "decision": "approve", "data_note": "ok", "form_key": key}

    def tap():
        client = Client()
        client.force_login(chair)
        return client.post(f"/tasks/{task.pk}/", body)

    responses = race([tap] * THREADS)
    assert _statuses(responses) == Counter({302: THREADS})
    assert {r["Location"] for r in responses} == {f"/cases/{case.pk}/"}
    assert _trail_counts(case, "task.completed") == {task.pk: 1}
    assert [t.flow_task.name for t in open_tasks(case)] == ["approval"]
    assert trail.verify(case).valid


def test_delegations_asked_at_once_never_overlap_nor_point_at_each_other(api, town):
    """Twenty requests for the same period at once give one delegation; and two officers
    delegating to each other at once do not both succeed (each would hand their tasks to
    someone who is away)."""
    from approvals.models import Delegation

    aid1, aid2 = (User.objects.get(username=u) for u in ("town_aid1", "town_aid2"))
    period = {"starts_at": "2027-01-04T00:00:00Z", "ends_at": "2027-01-09T00:00:00Z"}
    url = "/api/v1/delegations/"
    responses = race([_post(api, aid1, url, {"delegate": "town_aid2", **period})] * THREADS)
    assert _statuses(responses) == Counter({201: 1, 400: THREADS - 1})
    assert Delegation.objects.filter(delegator=aid1).count() == 1

    later = {"starts_at": "2027-02-01T00:00:00Z", "ends_at": "2027-02-06T00:00:00Z"}
    for _round in range(5):
        Delegation.objects.filter(starts_at__gte="2027-02-01T00:00:00Z").delete()
        responses = race(
            [
                _post(api, aid1, url, {"delegate": "town_aid2", **later}),
                _post(api, aid2, url, {"delegate": "town_aid1", **later}),
            ]
        )
        assert _statuses(responses) == Counter({201: 1, 400: 1})
