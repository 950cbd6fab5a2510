"""A mediator's delegate must be free to mediate the case (Step.eligibility): a mediator the
head recused from it never gets its tasks through a delegation, and cannot act on them."""

from datetime import timedelta

import pytest
import time_machine

from approvals.models import Delegation
from notifications.models import Notification
from tests.helpers import complete
from tests.mediation.helpers import accept, assign, at, filed, post, session, task

pytestmark = pytest.mark.django_db


def test_a_recused_mediator_standing_in_never_gets_the_case(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator2")
        recusals = f"/api/v1/mediation-cases/{case.pk}/recusals/"
        asked = post(api(demo.worker1), recusals, {"party": "worker", "reason": "亲属关系。"})
        assert asked.status_code == 201
        granted = post(
            api(demo.med_head),
            f"{recusals}{asked.json()['id']}/decide/",
            {"decision": "grant", "comment": "理由成立"},
        )
        assert granted.status_code == 200
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        now = at(2026, 3, 3, 9, 0)
        Delegation.objects.create(
            delegator=demo.mediator1,
            delegate=demo.mediator2,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=3),
        )
        Notification.objects.filter(recipient=demo.mediator2).delete()
        assign(api, demo, case, "mediator1")
        mediation = task(case, "mediation")
        # The task waits for mediator1; the recused colleague is passed over.
        assert mediation.owner == demo.mediator1 and mediation.on_behalf_of is None
        created = case.trail.filter(action="task.created").last()
        assert created.data["delegate_passed_over"] == "mediator2"
        assert not Notification.objects.filter(
            recipient=demo.mediator2, verb="task_created"
        ).exists()
        refused = complete(
            api(demo.mediator2), mediation, "submit", data={"outcome": "no_agreement"}
        )
        assert refused.status_code in (403, 404, 409)
        assert session(api, demo.mediator1, case).status_code == 201
        done = complete(api(demo.mediator1), mediation, "submit", data={"outcome": "no_agreement"})
        assert done.status_code == 200


def test_the_mediator_is_checked_again_when_acting(demo, api):
    """A recusal recorded while the mediator holds the task (here directly, as a head's grant
    would be) stops the decision: the check runs when they act, not only when assigned."""
    from cases.mediation.models import Recusal, RecusalStatus

    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
        Recusal.objects.create(
            case=case,
            mediator=demo.mediator1,
            party="worker",
            reason="x",
            requested_by=demo.worker1,
            status=RecusalStatus.GRANTED,
        )
        refused = complete(
            api(demo.mediator1), task(case, "mediation"), "submit", data={"outcome": "no_agreement"}
        )
        assert refused.status_code == 403
