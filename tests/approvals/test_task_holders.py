"""A task named for one person whose account has been switched off (a mediator who left) does
not wait for them: the beat offers it to the queue the step falls back to when its people may
not act, and a later step that names them goes there from the start. The applicant's own step
still waits for the applicant."""

import pytest

from approvals.models import CaseTask
from approvals.services import return_delegated_tasks
from cases import trail
from notifications.models import Notification
from organizations.models import User
from tests.helpers import complete, open_tasks, post, submit
from tests.mediation.helpers import accept, agree, assign, filed, session, task

pytestmark = pytest.mark.django_db


def _switch_off(user):
    User.objects.filter(pk=user.pk).update(is_active=False)


def _mediation_with(demo, api, mediator):
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case, mediator=mediator.username)
    held = task(case, "mediation")
    assert held.owner == mediator
    return case, held


def test_a_mediators_task_goes_to_the_rooms_mediators_when_their_account_is_switched_off(demo, api):
    case, held = _mediation_with(demo, api, demo.mediator1)
    _switch_off(demo.mediator1)

    assert return_delegated_tasks() == 1
    offered = CaseTask.objects.get(pk=held.pk)
    assert offered.owner is None and offered.status == "NEW"
    assert (offered.candidate_role, offered.candidate_organization) == (
        "mediator",
        case.organization,
    )
    event = case.trail.filter(action="task.released").last()
    assert event.actor is None
    assert event.data == {
        "from": "mediator1",
        "reason": "account_inactive",
        "role": "mediator",
        "organization": case.organization.name,
    }
    told = Notification.objects.filter(case=case, verb="task_created", data__task=held.pk)
    assert demo.mediator2 in [n.recipient for n in told]
    assert trail.verify(case).valid
    assert return_delegated_tasks() == 0  # once

    # Another mediator of the room takes the case on and mediates it.
    other = api(demo.mediator2)
    assert post(other, f"/api/v1/tasks/{held.pk}/claim/").status_code == 200
    assert session(api, demo.mediator2, case).status_code == 201
    agree(api, demo.mediator2, case, performance_deadline="2030-01-31")

    # The signing step names the mediator of record, whose account is off: it goes to the
    # room's mediators straight away rather than to them.
    [signing] = open_tasks(case, "signing")
    assert signing.owner is None
    assert (signing.candidate_role, signing.candidate_organization) == (
        "mediator",
        case.organization,
    )


def test_a_named_task_held_by_an_active_account_stays_put(demo, api):
    _case, held = _mediation_with(demo, api, demo.mediator1)
    _switch_off(demo.mediator2)
    assert return_delegated_tasks() == 0
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

    assert return_delegated_tasks() == 0
    supplement.refresh_from_db()
    assert supplement.owner == demo.worker1 and supplement.status == "ASSIGNED"
