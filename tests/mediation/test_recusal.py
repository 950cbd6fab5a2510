"""Assignment with conflicts of interest, and recusal (回避) asked by a party and decided by
the mediation head."""

import pytest
import time_machine

from cases.mediation.models import MediationCase, MediatorConflict, Recusal
from tests.helpers import actions, complete

from .helpers import (
    CREDIT_CODE,
    OTHER_CREDIT_CODE,
    accept,
    agree,
    assign,
    at,
    detail,
    filed,
    post,
    session,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db


def _recusals(case):
    return f"/api/v1/mediation-cases/{case.pk}/recusals/"


def _ask(api, user, case, party="worker", reason="调解员与被申请人负责人是亲属。"):
    return post(api(user), _recusals(case), {"party": party, "reason": reason})


def _decide(api, user, case, recusal_id, decision, comment=""):
    return post(
        api(user),
        f"{_recusals(case)}{recusal_id}/decide/",
        {"decision": decision, "comment": comment},
    )


@pytest.fixture
def mediating(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
    return case


def test_only_a_mediator_of_the_room_without_conflict_is_assigned(demo, api):
    MediatorConflict.objects.create(
        mediator=demo.mediator1, employer_credit_code=CREDIT_CODE, note="曾任该厂法律顾问"
    )
    MediatorConflict.objects.create(mediator=demo.mediator2, employer_credit_code=OTHER_CREDIT_CODE)
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assignment = task(case, "assignment")
        head = api(demo.med_head)
        for username in ("mediator1", "xs_mediator", "town_aid1", "worker1", "nobody"):
            response = complete(head, assignment, "submit", data={"mediator": username})
            assert response.status_code == 400, username
            assert "data.mediator" in response.json()["fields"]
        conflict = complete(head, assignment, "submit", data={"mediator": "mediator1"})
        assert "利益冲突" in conflict.json()["fields"]["data.mediator"][0]
        assert complete(head, assignment, "submit", data={}).status_code == 400
        # mediator2's conflict is with another employer.
        assert (
            complete(head, assignment, "submit", data={"mediator": "mediator2"}).status_code == 200
        )
    assert MediationCase.objects.get(case=case).mediator == demo.mediator2


def test_conflict_admin_validates_the_credit_code(demo):
    from django.core.exceptions import ValidationError

    conflict = MediatorConflict(mediator=demo.mediator1, employer_credit_code="bad")
    with pytest.raises(ValidationError):
        conflict.full_clean()
    conflict = MediatorConflict(mediator=demo.mediator1, employer_credit_code=CREDIT_CODE.lower())
    conflict.full_clean()
    assert conflict.employer_credit_code == CREDIT_CODE


def test_a_conflict_is_recorded_only_for_someone_who_mediates(demo):
    """Recorded for a finance officer (never assigned a dispute), it protected no one."""
    from django.core.exceptions import ValidationError

    conflict = MediatorConflict(mediator=demo.xs_finance, employer_credit_code=CREDIT_CODE)
    with pytest.raises(ValidationError) as refused:
        conflict.full_clean()
    assert list(refused.value.message_dict) == ["mediator"]
    MediatorConflict(mediator=demo.xs_med_head, employer_credit_code=CREDIT_CODE).full_clean()


def test_recusal_granted_sends_the_case_back_to_assignment(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        assert session(api, demo.mediator1, case).status_code == 201
        response = _ask(api, demo.worker1, case)
        assert response.status_code == 201
        recusal = response.json()
        assert recusal["status"] == "pending" and recusal["mediator"]["username"] == "mediator1"
        assert "mediation_recusal_requested" in verbs(demo.med_head, case)
        assert "mediation_recusal_requested" in verbs(demo.mediator1, case)
        # While it is pending the mediator waits.
        blocked = session(api, demo.mediator1, case)
        assert blocked.status_code == 409 and blocked.json()["code"] == "recusal_pending"
        response = complete(
            api(demo.mediator1), task(case, "mediation"), "submit", data={"outcome": "no_agreement"}
        )
        assert response.status_code == 400 and "recusal" in response.json()["fields"]
        assert _ask(api, demo.worker1, case).status_code == 409  # one at a time
        assert _decide(api, demo.mediator1, case, recusal["id"], "grant").status_code == 403

        response = _decide(api, demo.med_head, case, recusal["id"], "grant", "理由成立")
        assert response.status_code == 200 and response.json()["status"] == "granted"
        assert response.json()["decided_by"]["username"] == "med_head"
        assert _decide(api, demo.med_head, case, recusal["id"], "refuse", "x").status_code == 409

    data = detail(api, demo.worker1, case)
    assert data["mediator"] is None
    assert [t["step"] for t in data["open_tasks"]] == ["assignment"]
    assert len(data["sessions"]) == 1  # the record of what happened stays
    assert "mediation_recusal_granted" in verbs(demo.worker1, case)
    assert "mediation_recusal_granted" in verbs(demo.mediator1, case)
    assert "task_canceled" in verbs(demo.mediator1, case)
    assert "mediation.recusal_granted" in actions(case)
    assert case.trail.get(action="mediation.recusal_granted").actor_role == "mediation_head"

    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        assignment = task(case, "assignment")
        response = complete(
            api(demo.med_head), assignment, "submit", data={"mediator": "mediator1"}
        )
        assert response.status_code == 400
        assert "回避" in response.json()["fields"]["data.mediator"][0]
        assign(api, demo, case, "mediator2")
        assert task(case, "mediation").owner == demo.mediator2
        # The recused mediator no longer records anything on the case.
        assert session(api, demo.mediator1, case).status_code == 403
        assert session(api, demo.mediator2, case).status_code == 201
        agree(api, demo.mediator2, case)
    assert detail(api, demo.worker1, case)["mediator"]["username"] == "mediator2"


def test_recusal_refused_the_mediator_continues(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        # The employer has no account: the room records its request.
        response = _ask(
            api, demo.mediator2, case, party="employer", reason="申请人代理人与调解员相识"
        )
        assert response.status_code == 201
        recusal_id = response.json()["id"]
        response = _decide(api, demo.med_head, case, recusal_id, "refuse")
        assert response.status_code == 400 and "comment" in response.json()["fields"]
        response = _decide(api, demo.med_head, case, recusal_id, "refuse", "理由不成立")
        assert response.status_code == 200 and response.json()["status"] == "refused"
        assert session(api, demo.mediator1, case).status_code == 201
    assert task(case, "mediation").owner == demo.mediator1
    assert detail(api, demo.worker1, case)["mediator"]["username"] == "mediator1"
    assert "mediation_recusal_refused" in verbs(demo.worker1, case)
    assert "mediation_recusal_refused" in verbs(demo.mediator2, case)  # who recorded it
    assert "mediation.recusal_refused" in actions(case)
    listed = api(demo.worker1).get(_recusals(case)).json()
    assert [(r["party"], r["status"]) for r in listed] == [("employer", "refused")]


def test_who_may_ask_and_when(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        # The worker speaks for themself only; other members do not see the case at all.
        assert _ask(api, demo.worker1, case, party="employer").status_code == 403
        assert _ask(api, demo.worker2, case).status_code == 404
        assert _ask(api, demo.town_auditor, case).status_code == 403
        response = post(api(demo.worker1), _recusals(case), {"party": "worker", "reason": " "})
        assert response.status_code == 400 and "reason" in response.json()["fields"]
    assert not Recusal.objects.exists()
    # Not before a mediator is assigned.
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        fresh = filed(api, demo.worker1, demo)
        response = _ask(api, demo.worker1, fresh)
        assert response.status_code == 409 and response.json()["code"] == "not_mediating"


def test_a_worker_whose_application_a_mediator_recorded_may_ask(demo, api):
    """Recorded by mediator2 for worker3's account: worker3 is the worker party (they were told
    they may ask for recusal); the recording mediator is not."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.mediator2, demo, channel="oral", applicant_username="worker3")
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        assert _ask(api, demo.worker3, case, party="employer").status_code == 403
        response = _ask(api, demo.worker3, case)
    assert response.status_code == 201, response.json()
    recusal = Recusal.objects.get(case=case)
    assert recusal.party == "worker" and recusal.requested_by == demo.worker3
    assert "mediation.recusal_requested" in actions(case)


def test_a_pending_request_lapses_when_the_case_ends(demo, api, mediating):
    from cases.mediation.tasks import enforce_statutory_terms

    case = mediating
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        first = _ask(api, demo.worker1, case).json()["id"]
        response = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "和解"})
        assert response.status_code == 200
    assert Recusal.objects.get(pk=first).status == "lapsed"
    assert _decide(api, demo.med_head, case, first, "grant").status_code == 409

    with time_machine.travel(at(2026, 3, 4, 9, 0), tick=False):
        other = filed(api, demo.worker1, demo)
        accept(api, demo, other)
        assign(api, demo, other)
        second = _ask(api, demo.worker1, other).json()["id"]
    with time_machine.travel(at(2026, 3, 20, 9, 0), tick=False):
        assert enforce_statutory_terms.run()["expired"] == 1
    assert Recusal.objects.get(pk=second).status == "lapsed"
