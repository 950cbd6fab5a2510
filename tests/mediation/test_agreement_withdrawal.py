"""Withdrawing an agreement that a party will not sign: the mediator, before it takes effect
and while a signature is missing, with a reason; the case goes back to mediation, the trail
says so and the parties are told — through the API, the service and the case page."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils.timezone import localdate

from approvals.models import CaseTask
from cases.mediation import services
from cases.mediation.models import MediationCase
from cases.models import Case, TrailEvent
from core.errors import Invalid
from notifications.models import Delivery, Notification
from tests.helpers import actions, race

from .helpers import (
    accept,
    agree,
    agreed,
    assign,
    detail,
    filed,
    post,
    session,
    sign,
    sign_all,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db

REASON = "被申请人拒绝在协议上签字。"


def withdraw(client, case, reason=REASON):
    return post(
        client, f"/api/v1/mediation-cases/{case.pk}/agreement/withdraw/", {"reason": reason}
    )


@pytest.fixture
def signing(demo, api):
    """An agreement recorded by mediator1, performance due in 30 days, awaiting signatures."""
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case, "mediator1")
    agreed(api, demo, case)
    return case


def _unchanged(case, signatures):
    record = MediationCase.objects.get(case=case)
    assert record.mediation_outcome == "agreement"
    assert sorted(record.signatures) == signatures
    assert "mediation.agreement_withdrawn" not in actions(case)
    task(case, "signing")  # still open


def test_the_mediator_withdraws_an_agreement_a_party_will_not_sign(demo, api, signing):
    case = signing
    assert sign(api, demo.mediator1, case, "worker").status_code == 201
    response = withdraw(api(demo.mediator1), case)
    assert response.status_code == 200, response.json()
    data = response.json()
    # Back to mediation with the same mediator; the agreement and its signature are void.
    assert data["agreement"] is None and data["mediation_outcome"] is None
    assert [t["step"] for t in data["open_tasks"]] == ["mediation"]
    assert task(case, "mediation").owner == demo.mediator1
    record = MediationCase.objects.get(case=case)
    assert record.signatures == {} and record.performance_deadline is None
    assert data["status"] == "in_progress"
    # The trail: who withdrew it, why, and what had been signed.
    event = case.trail.get(action="mediation.agreement_withdrawn")
    assert event.actor == demo.mediator1 and event.comment == REASON
    assert event.actor_role == "mediator"
    assert event.data["signed"] == ["worker"] and event.data["to_step"] == "mediation"
    assert "mediation.agreement_withdrawn" in actions(case)
    assert api(demo.worker1).get(f"/api/v1/cases/{case.pk}/trail/verify/").json()["valid"]
    # The worker and the mediation head are told, with the reason, by inbox and email.
    for user in (demo.worker1, demo.med_head):
        told = Notification.objects.get(
            recipient=user, case=case, verb="mediation_agreement_withdrawn"
        )
        assert told.body == REASON and case.number in told.title
        assert Delivery.objects.filter(recipient=user, event=told.event, channel="email").exists()
    # The mediator records a new agreement; signed and sealed, it takes effect.
    agree(
        api,
        demo.mediator1,
        case,
        amount="7000.00",
        performance_deadline=(localdate() + timedelta(days=20)).isoformat(),
    )
    assert detail(api, demo.worker1, case)["agreement"]["signatures"]["worker"] is None
    sign_all(api, demo, case)
    agreement = detail(api, demo.worker1, case)["agreement"]
    assert agreement["effective"] is True and agreement["amount"] == "7000.00"


def test_a_second_withdrawal_finds_no_agreement(demo, api, signing):
    case = signing
    assert withdraw(api(demo.mediator1), case).status_code == 200
    again = withdraw(api(demo.mediator1), case)
    assert again.status_code == 409 and again.json()["code"] == "not_signing"
    assert actions(case).count("mediation.agreement_withdrawn") == 1


def test_refused_once_fully_signed_and_once_in_effect(demo, api, signing):
    case = signing
    for party in ("worker", "employer", "mediator"):
        assert sign(api, demo.mediator1, case, party).status_code == 201
    response = withdraw(api(demo.mediator1), case)
    assert response.status_code == 409 and response.json()["code"] == "agreement_signed"
    assert "协议不能再撤回" in response.json()["detail"]
    _unchanged(case, ["employer", "mediator", "worker"])
    assert sign(api, demo.med_head, case, "seal").status_code == 201
    response = withdraw(api(demo.mediator1), case)
    assert response.status_code == 409 and response.json()["code"] == "agreement_effective"
    assert MediationCase.objects.get(case=case).effective_at is not None
    assert "mediation.agreement_withdrawn" not in actions(case)


def test_only_the_cases_mediator_withdraws(demo, api, signing):
    case = signing
    for user in (demo.med_head, demo.mediator2, demo.worker1, demo.town_auditor):
        response = withdraw(api(user), case)
        assert response.status_code == 403, (user.username, response.json())
    # Another town's mediator does not reach the case at all.
    assert withdraw(api(demo.xs_mediator), case).status_code == 404
    _unchanged(case, [])
    assert not Notification.objects.filter(verb="mediation_agreement_withdrawn").exists()


def test_a_reason_is_required(demo, api, signing):
    case = signing
    for reason in ("", "   "):
        response = withdraw(api(demo.mediator1), case, reason=reason)
        assert response.status_code == 400 and "reason" in response.json()["fields"]
    with pytest.raises(Invalid) as refused:  # any caller of the service
        services.withdraw_agreement(case_id=case.pk, user=demo.mediator1, reason=" ")
    assert "reason" in refused.value.fields
    _unchanged(case, [])


def test_nothing_to_withdraw_while_mediating(demo, api):
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case, "mediator1")
    assert session(api, demo.mediator1, case).status_code == 201
    response = withdraw(api(demo.mediator1), case)
    assert response.status_code == 409 and response.json()["code"] == "not_signing"


def test_withdrawal_is_one_transaction(demo, api, signing, monkeypatch):
    """If telling the parties fails, nothing of the withdrawal stays: the agreement, its
    signing step and the trail are as they were."""
    case = signing
    events = TrailEvent.objects.filter(case=case).count()

    def broken(**kwargs):
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr(services, "notify", broken)
    with pytest.raises(RuntimeError):
        services.withdraw_agreement(case_id=case.pk, user=demo.mediator1, reason=REASON)
    _unchanged(case, [])
    assert TrailEvent.objects.filter(case=case).count() == events
    assert not CaseTask.objects.filter(
        case=case, flow_task__endswith=".mediation", finished__isnull=True
    ).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_and_the_last_signature_at_once_do_not_both_apply(demo, api):
    """Under the case's lock, the last party signature and a withdrawal sent at the same time:
    one of them applies, and the other is refused by the state it then finds."""
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case, "mediator1")
    agreed(api, demo, case)
    for party in ("worker", "employer"):
        assert sign(api, demo.mediator1, case, party).status_code == 201
    signatures = f"/api/v1/mediation-cases/{case.pk}/signatures/"
    withdrawing, signing = api(demo.mediator1), api(demo.mediator1)
    withdrawal, signature = race(
        [
            lambda: withdraw(withdrawing, case),
            lambda: post(signing, signatures, {"party": "mediator"}),
        ]
    )
    results = {"withdraw": withdrawal.status_code, "sign": signature.status_code}
    record = MediationCase.objects.get(case=case)
    if results["withdraw"] == 200:
        assert results["sign"] == 409 and record.signatures == {}
        assert record.mediation_outcome == ""
    else:
        assert results == {"withdraw": 409, "sign": 201}
        assert sorted(record.signatures) == ["employer", "mediator", "worker"]
        assert "mediation.agreement_withdrawn" not in actions(case)
    assert Case.objects.get(pk=case.pk).status == "in_progress"


# --- the case page ----------------------------------------------------------------------------


def _browser(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_mediator_withdraws_on_the_case_page(demo, api, signing):
    case = signing
    mediator = _browser(demo.mediator1)
    page = mediator.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="withdrawal-form"' in page
    for other in (demo.med_head, demo.worker1):
        assert (
            'data-testid="withdrawal-form"'
            not in _browser(other).get(f"/cases/{case.pk}/").content.decode()
        )
    url = f"/mediation/cases/{case.pk}/agreement/withdraw/"
    # Without a reason: refused next to the field, nothing changed.
    empty = mediator.post(url, {"reason": " ", "form_key": "w-0"})
    assert empty.status_code == 400
    assert 'id="id_withdrawal_reason-error"' in empty.content.decode()
    _unchanged(case, [])
    # The head cannot, even by a forged form: refused with the reason, as the API would.
    forged = _browser(demo.med_head).post(url, {"reason": REASON, "form_key": "h-1"})
    assert forged.status_code == 403
    _unchanged(case, [])
    done = mediator.post(url, {"reason": REASON, "form_key": "w-1"}, follow=True)
    assert done.status_code == 200
    html = done.content.decode()
    assert "The agreement has been withdrawn; the case is back in mediation." in html
    assert 'data-testid="agreement"' not in html and 'data-testid="session-form"' in html
    # Sent twice (a double tap): recorded once.
    again = mediator.post(url, {"reason": REASON, "form_key": "w-1"})
    assert again.status_code == 302
    assert actions(case).count("mediation.agreement_withdrawn") == 1
    assert "mediation_agreement_withdrawn" in verbs(demo.worker1, case)


def test_no_withdrawal_form_once_fully_signed(demo, api, signing):
    case = signing
    for party in ("worker", "employer", "mediator"):
        assert sign(api, demo.mediator1, case, party).status_code == 201
    page = _browser(demo.mediator1).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="withdrawal-form"' not in page


# --- the API schema ---------------------------------------------------------------------------


def test_the_schema_documents_the_withdrawal(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    operation = paths["/api/v1/mediation-cases/{id}/agreement/withdraw/"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    request = schema[body.rsplit("/", 1)[1]]
    assert request["required"] == ["reason"]
