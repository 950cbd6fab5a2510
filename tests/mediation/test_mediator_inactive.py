"""A mediator whose account is switched off steps aside as a recused one does: the beat
(approvals.services.settle_holders, through the flow's `named_holder_unavailable`) clears the
case's mediator of record and sends the case back to the mediation head's assignment, rather
than offer the mediator's task to the room's mediators. The head assigns another mediator, who
takes the case on where it stands: mediating, collecting the agreement's missing signatures
(those given stay), or following up an agreement in effect — and every later step is theirs."""

import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client

from approvals.models import CaseTask
from approvals.services import holders, settle_holders
from cases import trail
from cases.mediation.models import MediationCase, Recusal, RecusalStatus
from notifications.models import Notification
from organizations.models import User
from tests.helpers import actions, complete, open_tasks

from .helpers import (
    accept,
    agree,
    assign,
    at,
    decide,
    detail,
    filed,
    pdf_text,
    post,
    session,
    sign,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db

UNAVAILABLE = "mediation.mediator_unavailable"
VERB = "mediation_mediator_unavailable"


def _switch_off(user):
    User.objects.filter(pk=user.pk).update(is_active=False)  # the admin's change


def _mediating(demo, api):
    """Accepted, mediator1 assigned, one session recorded."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
        assert session(api, demo.mediator1, case).status_code == 201
    return case


@pytest.fixture
def mediating(demo, api):
    return _mediating(demo, api)


@pytest.fixture
def signing(demo, api, mediating):
    """mediator1's agreement (performance due 2026-03-20), signed by the worker and mediator1."""
    case = mediating
    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        agree(api, demo.mediator1, case)
        for party in ("worker", "mediator"):
            assert sign(api, demo.mediator1, case, party).status_code == 201
    return case


@pytest.fixture
def performing(demo, api, signing):
    """mediator1's agreement signed by all and sealed: in effect, its performance followed up."""
    case = signing
    with time_machine.travel(at(2026, 3, 3, 11, 0), tick=False):
        assert sign(api, demo.mediator1, case, "employer").status_code == 201
        assert sign(api, demo.med_head, case, "seal").status_code == 201
    assert task(case, "performance").owner == demo.mediator1
    return case


def _page(user, case):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _shown_mediator(user, case):
    page = _page(user, case)
    start = page.index('data-testid="mediator"')
    return page[start : page.index("</dd>", start)]


def _steps_opened(case, step):
    return CaseTask.objects.filter(case=case, flow_task__endswith=f".{step}").count()


def _back_at_assignment(api, demo, case, from_step):
    """What the beat leaves: the mediator's task cancelled, the head's assignment open, no
    mediator on the case, the trail and those told saying why."""
    assert [t.flow_task.name for t in open_tasks(case)] == ["assignment"]
    [assignment] = open_tasks(case)
    assert assignment.owner is None
    assert assignment.candidate_role == "mediation_head"
    assert assignment.candidate_organization == case.organization
    record = MediationCase.objects.get(case=case)
    assert record.mediator is None and record.assigned_at is None
    data = detail(api, demo.worker1, case)
    assert data["mediator"] is None and data["assigned_at"] is None
    assert [t["step"] for t in data["open_tasks"]] == ["assignment"]
    assert "not assigned yet" in _shown_mediator(demo.med_head, case)
    assert "郑调解" not in _shown_mediator(demo.worker1, case)

    [event] = case.trail.filter(action=UNAVAILABLE)
    assert event.actor is None
    assert event.data == {
        "to_step": "assignment",
        "mediator": "mediator1",
        "reason": "account_inactive",
        "from_step": from_step,
    }
    cancelled = case.trail.filter(action="task.canceled").last()
    assert cancelled.data == {"reason": UNAVAILABLE} and cancelled.seq > event.seq
    assert not case.trail.filter(action="task.moved").exists()  # no fallback queue
    told = Notification.objects.filter(case=case, verb=VERB)
    assert sorted(told.values_list("recipient__username", flat=True)) == ["med_head", "worker1"]
    assert told.first().data == {
        "mediator": "mediator1",
        "reason": "account_inactive",
        "step": from_step,
    }
    # The head is asked to assign; the room's other mediators are not offered the case.
    assert Notification.objects.filter(
        case=case, recipient=demo.med_head, verb="task_created", data__task=assignment.pk
    ).exists()
    assert not Notification.objects.filter(
        case=case, recipient=demo.mediator2, verb="task_created"
    ).exists()
    assert trail.verify(case).valid
    return assignment


def test_switched_off_while_mediating_the_head_assigns_another_who_takes_every_later_step(
    demo, api, mediating
):
    case = mediating
    held = task(case, "mediation")
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        _switch_off(demo.mediator1)
        assert settle_holders() == 1
        assert settle_holders() == 0  # once
    held.refresh_from_db()
    assert held.status == "CANCELED"
    assignment = _back_at_assignment(api, demo, case, "mediation")
    assert len(detail(api, demo.worker1, case)["sessions"]) == 1  # what happened stays

    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        head = api(demo.med_head)
        refused = complete(head, assignment, "submit", data={"mediator": "mediator1"})
        assert refused.status_code == 400 and "data.mediator" in refused.json()["fields"]
        assign(api, demo, case, "mediator2")
    assert MediationCase.objects.get(case=case).mediator == demo.mediator2
    assert "孙调解" in _shown_mediator(demo.worker1, case)
    assert detail(api, demo.worker1, case)["mediator"]["username"] == "mediator2"
    assert "mediation_mediator_assigned" in verbs(demo.worker1, case)

    # mediator2 mediates afresh, and signing and performance are theirs.
    assert task(case, "mediation").owner == demo.mediator2
    with time_machine.travel(at(2026, 3, 4, 9, 0), tick=False):
        assert session(api, demo.mediator2, case).status_code == 201
        assert session(api, demo.mediator1, case).status_code in (401, 403)
        agree(api, demo.mediator2, case)
        assert task(case, "signing").owner == demo.mediator2
        for party in ("worker", "employer", "mediator"):
            assert sign(api, demo.mediator2, case, party).status_code == 201
        assert sign(api, demo.med_head, case, "seal").status_code == 201
        assert task(case, "performance").owner == demo.mediator2
        text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
        assert "调解员签名（孙调解）" in text and "郑调解" not in text
    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        decide(api, demo.mediator2, case, "performance", data={"performance": "performed"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "agreement")
    assert not CaseTask.objects.filter(
        case=case, owner=demo.mediator1, status__in=("NEW", "ASSIGNED", "STARTED")
    ).exists()


def test_switched_off_during_signing_the_new_mediator_collects_the_missing_signatures(
    demo, api, signing
):
    """The agreement the parties reached stays, with the signatures given: the new mediator
    records the missing ones; the mediator's own signature stays mediator1's."""
    case = signing
    with time_machine.travel(at(2026, 3, 3, 12, 0), tick=False):
        _switch_off(demo.mediator1)
        assert settle_holders() == 1
    _back_at_assignment(api, demo, case, "signing")
    record = MediationCase.objects.get(case=case)
    assert record.mediation_outcome == "agreement" and record.effective_at is None
    assert sorted(record.signatures) == ["mediator", "worker"]

    with time_machine.travel(at(2026, 3, 4, 9, 0), tick=False):
        assign(api, demo, case, "mediator2")
        assert [t.flow_task.name for t in open_tasks(case)] == ["signing"]
        assert task(case, "signing").owner == demo.mediator2
        assert _steps_opened(case, "mediation") == 1  # not mediated again
        already = sign(api, demo.mediator2, case, "mediator")
        assert already.status_code == 409 and already.json()["code"] == "already_signed"
        assert sign(api, demo.mediator1, case, "employer").status_code in (401, 403)
        assert sign(api, demo.mediator2, case, "employer").status_code == 201
        sealed = sign(api, demo.med_head, case, "seal")
        assert sealed.status_code == 201 and sealed.json()["agreement"]["effective"] is True
        # The agreement bears mediator1's signature, recorded as theirs.
        signatures = sealed.json()["agreement"]["signatures"]
        assert signatures["mediator"]["mediator"] == "mediator1"
        assert signatures["employer"]["recorded_by"] == "mediator2"
        text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
        assert "调解员签名（郑调解）" in text
    assert task(case, "performance").owner == demo.mediator2
    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        decide(api, demo.mediator2, case, "performance", data={"performance": "performed"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "agreement")


def test_switched_off_during_performance_the_new_mediator_follows_it_up(demo, api, performing):
    """An agreement in effect binds the parties: it is not mediated again; the new mediator
    records its performance."""
    case = performing
    effective_at = MediationCase.objects.get(case=case).effective_at
    with time_machine.travel(at(2026, 3, 10, 9, 0), tick=False):
        _switch_off(demo.mediator1)
        assert settle_holders() == 1
    _back_at_assignment(api, demo, case, "performance")
    record = MediationCase.objects.get(case=case)
    assert record.effective_at == effective_at and len(record.signatures) == 4
    assert (
        post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"}).status_code
        == 409
    )

    with time_machine.travel(at(2026, 3, 10, 10, 0), tick=False):
        assign(api, demo, case, "mediator2")
    assert [t.flow_task.name for t in open_tasks(case)] == ["performance"]
    assert task(case, "performance").owner == demo.mediator2
    assert _steps_opened(case, "mediation") == 1 and _steps_opened(case, "signing") == 1
    text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
    assert "调解员签名（郑调解）" in text  # who signed it, not who follows it up
    with time_machine.travel(at(2026, 3, 21, 9, 0), tick=False):
        decide(api, demo.mediator2, case, "performance", data={"performance": "not_performed"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "agreement")
    assert "mediation_not_performed" in verbs(demo.worker1, case)


def test_an_active_mediator_is_left_alone(demo, api, mediating):
    case = mediating
    _switch_off(demo.mediator2)  # another mediator of the room
    assert settle_holders() == 0
    assert task(case, "mediation").owner == demo.mediator1
    assert MediationCase.objects.get(case=case).mediator == demo.mediator1
    assert UNAVAILABLE not in actions(case)
    assert not Notification.objects.filter(case=case, verb=VERB).exists()


def test_a_pending_recusal_request_lapses_with_the_mediator(demo, api, mediating):
    """The request was about the mediator who left: deciding it later must not unassign their
    successor."""
    case = mediating
    recusals = f"/api/v1/mediation-cases/{case.pk}/recusals/"
    asked = post(api(demo.worker1), recusals, {"party": "worker", "reason": "亲属关系。"})
    assert asked.status_code == 201
    _switch_off(demo.mediator1)
    assert settle_holders() == 1
    assert Recusal.objects.get(pk=asked.json()["id"]).status == RecusalStatus.LAPSED
    assign(api, demo, case, "mediator2")
    decided = post(
        api(demo.med_head), f"{recusals}{asked.json()['id']}/decide/", {"decision": "grant"}
    )
    assert decided.status_code == 409
    assert MediationCase.objects.get(case=case).mediator == demo.mediator2
    assert task(case, "mediation").owner == demo.mediator2


def test_a_run_that_found_the_task_before_another_settled_it_does_nothing(
    demo, api, mediating, monkeypatch
):
    """Two runs list the same task; the one that locks it second finds it settled."""
    case = mediating
    _switch_off(demo.mediator1)
    listed = holders._named_tasks_of_inactive()
    assert settle_holders() == 1
    monkeypatch.setattr(holders, "_named_tasks_of_inactive", lambda: listed)
    assert settle_holders() == 0
    assert actions(case).count(UNAVAILABLE) == 1
    assert len(open_tasks(case, "assignment")) == 1
    assert Notification.objects.filter(case=case, verb=VERB, recipient=demo.med_head).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_beat_runs_act_once(demo, api):
    cases = [_mediating(demo, api) for _ in range(3)]
    _switch_off(demo.mediator1)
    results = []
    barrier = threading.Barrier(3)

    def run():
        try:
            barrier.wait()
            results.append(settle_holders())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 3
    for case in cases:
        assert actions(case).count(UNAVAILABLE) == 1
        assert [t.flow_task.name for t in open_tasks(case)] == ["assignment"]
        told = Notification.objects.filter(case=case, verb=VERB)
        assert sorted(told.values_list("recipient__username", flat=True)) == ["med_head", "worker1"]
        assert trail.verify(case).valid
    assert settle_holders() == 0


def test_a_mediator_whose_role_was_taken_away_steps_aside_too(demo, api, mediating):
    """Still active, but no longer a mediator of the room: their session is refused, and the
    case goes back to the head as for a switched-off account."""
    from organizations.models import Membership, Role

    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        Membership.objects.filter(user=demo.mediator1, role=Role.MEDIATOR).delete()
        assert session(api, demo.mediator1, case).status_code in (403, 409)
        assert settle_holders() == 1
        assert settle_holders() == 0
    assert [t.flow_task.name for t in open_tasks(case)] == ["assignment"]
    assert MediationCase.objects.get(case=case).mediator is None
    event = case.trail.get(action=UNAVAILABLE)
    assert (event.data["mediator"], event.data["reason"]) == ("mediator1", "role_removed")
    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        assign(api, demo, case, "mediator2")
    assert task(case, "mediation").owner == demo.mediator2


def test_the_resumption_switch_after_assignment_leaves_nothing_in_the_trail(demo, api, mediating):
    """A gateway is routing, as the If gateways are: no 'task waiting' or 'step done' for it."""
    case = mediating
    assert not case.trail.filter(step="resumption").exists()
    engine = [e.action for e in case.trail.order_by("seq") if e.data.get("engine")]
    assert engine == []


def test_a_mediator_left_with_the_role_only_above_the_room_steps_aside_too(demo, api, mediating):
    """Mediating is for the mediators of the case's own room: a mediator of the county is not
    one of them, so the case goes back to the head rather than wait for ever."""
    from organizations.demo import COUNTY
    from organizations.models import Membership, Organization, Role

    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        Membership.objects.create(
            user=demo.mediator1,
            organization=Organization.objects.get(name=COUNTY),
            role=Role.MEDIATOR,
        )
        Membership.objects.filter(
            user=demo.mediator1, role=Role.MEDIATOR, organization=case.organization
        ).delete()
        assert settle_holders() == 1
        assert settle_holders() == 0
    assert [t.flow_task.name for t in open_tasks(case)] == ["assignment"]
    assert case.trail.get(action=UNAVAILABLE).data["reason"] == "role_removed"


def test_the_beat_looks_only_at_officers_steps_the_mediators_at_the_room_itself(demo):
    """The applicant's own step (no officer operations) waits for them whatever roles they
    hold, so the beat does not read it every minute; the mediator's steps ask for the role at
    the case's own organization."""
    above, at_case = holders._named_officer_steps()
    assert not any(ref.endswith(".supplement") for ref in above + at_case)
    assert sorted(ref.rsplit(".", 1)[1] for ref in at_case) == [
        "mediation",
        "performance",
        "signing",
    ]


def test_a_signature_given_before_signatures_named_their_mediator_keeps_its_name(
    demo, api, signing
):
    """The migration names the mediator of record on signatures given before the upgrade, so
    that the agreement still names mediator1 beside their signature once mediator2 takes over."""
    import importlib

    from django.apps import apps

    case = signing
    record = MediationCase.objects.get(case=case)
    old = {k: v for k, v in record.signatures["mediator"].items() if k != "mediator"}
    MediationCase.objects.filter(pk=record.pk).update(
        signatures={**record.signatures, "mediator": old}
    )
    migration = importlib.import_module(
        "cases.mediation.migrations.0005_signatures_name_their_mediator"
    )
    migration.name_the_mediator(apps, None)
    assert MediationCase.objects.get(pk=record.pk).signatures["mediator"] == {
        **old,
        "mediator": "mediator1",
    }

    with time_machine.travel(at(2026, 3, 3, 12, 0), tick=False):
        _switch_off(demo.mediator1)
        assert settle_holders() == 1
        assign(api, demo, case, "mediator2")
        text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
    assert "调解员签名（郑调解）" in text and "孙调解" not in text
