"""A step's own eligibility check with a filter form (Step.eligible_q) keeps the queue to the
tasks a person may take: a mediation waiting for any mediator of the room is not listed to a
mediator recused from it, one with a conflict with the employer, or a non-mediator standing in
for a mediator — and the queue still costs the same whatever it holds."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.models import Delegation
from cases.mediation.models import MediatorConflict, Recusal, RecusalStatus
from organizations.demo import DONGHU
from organizations.models import Membership, User
from tests.helpers import open_tasks, post
from tests.mediation.helpers import CREDIT_CODE, accept, assign, at, filed

pytestmark = pytest.mark.django_db

QUEUE = "/api/v1/tasks/?view=queue&page_size=100"


def _queued_mediation(demo, api, worker):
    """A mediation whose assigned mediator (mediator1) was recused: nobody named may take it,
    so it waits in the queue of the room's mediators."""
    case = filed(api, worker, demo)
    accept(api, demo, case)
    assign(api, demo, case, "mediator1")
    Recusal.objects.create(
        case=case,
        mediator=demo.mediator1,
        party="worker",
        reason="亲属关系。",
        requested_by=worker,
        status=RecusalStatus.GRANTED,
    )
    services.reroute(
        case_id=case.pk,
        to_step="mediation",
        actor=demo.med_head,
        action="test.rerouted",
        comment="",
    )
    [task] = open_tasks(case, "mediation")
    assert task.owner is None and task.candidate_role == "mediator"
    return task


def _listed(api, user):
    return {t["id"] for t in api(user).get(QUEUE).json()["results"]}


def test_the_queue_leaves_out_a_mediation_the_mediator_may_not_take(demo, api):
    conflicted = User.objects.create_user("mediator3", full_name="冯调解")
    Membership.objects.create(user=conflicted, organization=demo.org(DONGHU), role="mediator")
    MediatorConflict.objects.create(mediator=conflicted, employer_credit_code=CREDIT_CODE)
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        task = _queued_mediation(demo, api, demo.worker1)
        # town_aid1 covers mediator2 but is no mediator: the check refuses them.
        Delegation.objects.create(
            delegator=demo.mediator2,
            delegate=demo.town_aid1,
            starts_at=at(2026, 3, 2, 8, 0),
            ends_at=at(2026, 3, 2, 8, 0) + timedelta(days=3),
        )
        expected = {
            demo.mediator2: True,
            demo.mediator1: False,  # recused
            conflicted: False,
            demo.town_aid1: False,
        }
        for user, may in expected.items():
            assert (task.pk in _listed(api, user)) is may, user.username
            # The claim asks the same check (tests/conftest.py compares it with the queue).
            assert services.may_claim(user, task) is may, user.username
        refused = post(api(demo.mediator1), f"/api/v1/tasks/{task.pk}/claim/")
        assert refused.status_code in (403, 404)
        assert post(api(demo.mediator2), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200


def test_the_queue_with_step_checks_costs_the_same_for_one_task_and_many(demo, api):
    mediator = api(demo.mediator2)

    def cost():
        with CaptureQueriesContext(connection) as ctx:
            body = mediator.get(QUEUE).json()
        return len(ctx.captured_queries), body["count"]

    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        _queued_mediation(demo, api, demo.worker1)
        mediator.get(QUEUE)  # first use of the client
        one, count = cost()
        assert count == 1
        _queued_mediation(demo, api, demo.worker2)
        _queued_mediation(demo, api, demo.worker3)
        many, count = cost()
        assert count == 3
    assert many == one
