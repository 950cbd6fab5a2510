"""When a delegation (代理) ends — revoked, or past its end — the tasks the delegate still holds
for the colleague go back to that colleague: the delegate can no longer decide them, the
colleague is told, and the trail says so."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.models import CaseTask
from approvals.services import return_delegated_tasks
from approvals.services.rounds import delegate_of
from notifications.models import Notification
from organizations.models import User
from tests.helpers import complete, open_tasks, post, race, submit


def _held_by_the_delegate(demo, api, days=3):
    """town_aid2 is away; county_aid has taken their countersign slot for them."""
    now = timezone.now()
    created = post(
        api(demo.town_aid2),
        "/api/v1/delegations/",
        {
            "delegate": "county_aid",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=days)).isoformat(),
        },
    )
    assert created.status_code == 201, created.json()
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "a"})
    claimed = post(api(demo.county_aid), f"/api/v1/tasks/{second.pk}/claim/")
    assert claimed.status_code == 200 and claimed.json()["on_behalf_of"]["username"] == "town_aid2"
    return created.json()["id"], case, second


def _returned_to_town_aid2(demo, api, case, task):
    task = CaseTask.objects.get(pk=task.pk)
    assert (task.owner, task.on_behalf_of) == (demo.town_aid2, None)
    refused = complete(api(demo.county_aid), task, data={"findings": "b"})
    assert refused.status_code == 409
    assert Notification.objects.filter(
        recipient=demo.town_aid2, case=case, verb="task_returned"
    ).exists()
    assert complete(api(demo.town_aid2), task, data={"findings": "b"}).status_code == 200
    return case.trail.get(action="task.returned")


def test_revoking_gives_the_held_tasks_back_at_once(demo, api):
    delegation, case, task = _held_by_the_delegate(demo, api)
    revoked = post(api(demo.town_aid2), f"/api/v1/delegations/{delegation}/revoke/")
    assert revoked.status_code == 200
    event = _returned_to_town_aid2(demo, api, case, task)
    assert event.actor == demo.town_aid2
    assert event.data["from"] == "county_aid" and event.data["to"] == "town_aid2"


def test_at_its_end_the_beat_gives_them_back_once(demo, api):
    _delegation, case, task = _held_by_the_delegate(demo, api, days=1)
    assert return_delegated_tasks() == 0  # still covered
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert return_delegated_tasks() == 1
        assert return_delegated_tasks() == 0
        event = _returned_to_town_aid2(demo, api, case, task)
    assert event.actor is None  # nobody acted: the delegation ran out


def test_before_the_beat_runs_the_delegate_can_no_longer_decide(demo, api):
    _delegation, case, task = _held_by_the_delegate(demo, api, days=1)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        refused = complete(api(demo.county_aid), task, data={"findings": "b"})
        assert refused.status_code == 403
        assert "代理已结束" in refused.json()["detail"]
        assert CaseTask.objects.get(pk=task.pk).status != "DONE"


def _delegation(demo, api, delegate, days=3):
    now = timezone.now()
    created = post(
        api(demo.town_aid2),
        "/api/v1/delegations/",
        {
            "delegate": delegate,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=days)).isoformat(),
        },
    )
    assert created.status_code == 201, created.json()
    return created.json()["id"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_a_claim_meeting_the_revocation_never_keeps_the_task_for_the_colleague(demo, api, attempt):
    """The revocation and the delegate's claim at once: either the claim came first and the
    task is given back, or it waited for the revocation and was refused."""
    delegation = _delegation(demo, api, "county_aid")
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "a"})
    revoker, claimer = api(demo.town_aid2), api(demo.county_aid)
    revoked, claimed = race(
        [
            lambda: post(revoker, f"/api/v1/delegations/{delegation}/revoke/"),
            lambda: post(claimer, f"/api/v1/tasks/{second.pk}/claim/"),
        ]
    )
    assert revoked.status_code == 200 and claimed.status_code in (200, 403)
    task = CaseTask.objects.get(pk=second.pk)
    assert task.on_behalf_of is None and task.owner != demo.county_aid
    returned = case.trail.filter(action="task.returned").count()
    assert returned == (1 if claimed.status_code == 200 else 0)


def test_an_inactive_delegate_stands_in_for_nobody(demo, api):
    """A delegate whose account was switched off gets no task for the colleague, and gives
    back what they held."""
    delegation_id = _delegation(demo, api, "county_aid")
    assert delegation_id
    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "a"})
    assert post(api(demo.county_aid), f"/api/v1/tasks/{second.pk}/claim/").status_code == 200
    User.objects.filter(pk=demo.county_aid.pk).update(is_active=False)
    assert return_delegated_tasks() == 1
    task = CaseTask.objects.get(pk=second.pk)
    assert (task.owner, task.on_behalf_of) == (demo.town_aid2, None)
    # Tasks named for the colleague wait for them rather than go to the inactive delegate.
    assert delegate_of(demo.town_aid2) == (demo.town_aid2, None)
