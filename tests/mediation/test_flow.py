"""The mediation process end to end through the API: application, acceptance, assignment,
sessions, agreement, signatures, effect, performance; and the other ways a case ends."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import trail
from cases.mediation.models import MediationCase
from cases.models import Case
from tests.helpers import actions, complete

from .helpers import (
    accept,
    agree,
    assign,
    at,
    decide,
    detail,
    filed,
    pdf_text,
    session,
    sign,
    sign_all,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db


def test_agreement_signed_sealed_effective_and_performed(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        data = detail(api, demo.worker1, case)
        assert data["number"].startswith("TJ-2026-")
        assert data["process"] == "mediation" and data["status"] == "in_progress"
        assert data["received_at"] == at(2026, 3, 2, 9, 0).isoformat()
        assert data["acceptance_due_at"] == at(2026, 3, 5, 23, 59, 59).isoformat()
        assert data["statutory_deadline"] == at(2026, 3, 17, 23, 59, 59).isoformat()
        assert data["limitation_flag"] is False
        assert data["claim_amount"] == "8600.00" and data["category"] == "pay"
        assert [t["step"] for t in data["open_tasks"]] == ["acceptance"]
        assert data["open_tasks"][0]["due_at"] == data["acceptance_due_at"]
        assert "task_created" in verbs(demo.med_head, case)

    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        accept(api, demo, case)
        assert "mediation_accepted" in verbs(demo.worker1, case)
        assign(api, demo, case, "mediator1")
        data = detail(api, demo.worker1, case)
        assert data["mediator"]["username"] == "mediator1"
        assert "mediation_mediator_assigned" in verbs(demo.worker1, case)
        # Each told once, in its own words; not also as "受理或不予受理：同意".
        assert "step_decided" not in verbs(demo.worker1, case)
        mediation = task(case, "mediation")
        assert mediation.owner == demo.mediator1
        assert "task_created" in verbs(demo.mediator1, case)

    with time_machine.travel(at(2026, 3, 4, 15, 0), tick=False):
        assert session(api, demo.mediator1, case).status_code == 201
        response = session(api, demo.mediator1, case, notes="达成初步意向。")
        assert response.status_code == 201
        sessions = response.json()["sessions"]
        assert [s["no"] for s in sessions] == [1, 2]
        assert sessions[0]["attendees"] == ["杨工人", "东湖机械厂 王经理"]
        assert sessions[1]["notes"] == "达成初步意向。"
        assert sessions[0]["recorded_by"] == "mediator1"

    with time_machine.travel(at(2026, 3, 5, 11, 0), tick=False):
        agree(api, demo.mediator1, case)
        data = detail(api, demo.worker1, case)
        agreement = data["agreement"]
        assert agreement["terms"] == "被申请人向申请人支付拖欠工资。"
        assert agreement["amount"] == "8000.00"
        assert agreement["performance_deadline"] == "2026-03-20"
        assert agreement["performance_method"] == "银行转账"
        assert agreement["effective"] is False
        assert agreement["signatures"] == {
            "worker": None,
            "employer": None,
            "mediator": None,
            "seal": None,
        }
        assert [t["step"] for t in data["open_tasks"]] == ["signing"]
        assert "mediation_agreement_reached" in verbs(demo.worker1, case)
        # Printed for signing before it is signed.
        text = pdf_text(api(demo.mediator1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
        assert "劳动争议调解协议书" in text and "尚未生效" in text

    with time_machine.travel(at(2026, 3, 5, 14, 0), tick=False):
        for party in ("worker", "employer", "mediator"):
            assert sign(api, demo.mediator1, case, party).status_code == 201
        assert "mediation_ready_for_seal" in verbs(demo.med_head, case)
        assert task(case, "signing")  # still open: not sealed
        assert detail(api, demo.worker1, case)["agreement"]["effective"] is False

    with time_machine.travel(at(2026, 3, 5, 14, 30), tick=False):
        response = sign(api, demo.med_head, case, "seal")
        assert response.status_code == 201
        agreement = response.json()["agreement"]
        assert agreement["effective"] is True
        assert agreement["effective_at"] == at(2026, 3, 5, 14, 30).isoformat()
        assert agreement["arbitral_review_until"] == "2026-03-20"
        signatures = agreement["signatures"]
        assert signatures["worker"]["signed_at"] == at(2026, 3, 5, 14, 0).isoformat()
        assert signatures["seal"]["recorded_by"] == "med_head"
        assert [t["step"] for t in response.json()["open_tasks"]] == ["performance"]
        assert "mediation_agreement_effective" in verbs(demo.worker1, case)
        assert "mediation_agreement_effective" in verbs(demo.mediator1, case)
        text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf"))
        assert "劳动争议调解协议书" in text
        assert "杨工人" in text and "东湖机械厂" in text and "91330100MA2B3C4D5N" in text
        assert "人民币8,000.00元" in text and "银行转账" in text and "2026年3月20日前" in text
        assert "2026年3月5日 14:30" in text and "本协议已于2026年3月5日 14:30生效" in text
        assert "110105199003071239" in text  # the worker's own copy

    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        decide(api, demo.mediator1, case, "performance", data={"performance": "performed"})
        case.refresh_from_db()
        assert (case.status, case.outcome) == ("closed", "agreement")
        data = detail(api, demo.worker1, case)
        assert data["agreement"]["performance"] == "performed"
        assert data["open_tasks"] == [] and data["notice"] is None
        assert "case_closed" in verbs(demo.worker1, case)

    assert actions(case)[-1] == "case.closed"
    assert {
        "mediation.session_recorded",
        "mediation.signed",
        "mediation.agreement_effective",
    } <= set(actions(case))
    assert trail.verify(case).valid
    assert api(demo.worker1).get(f"/api/v1/cases/{case.pk}/trail/verify/").json()["valid"]


def test_signing_cannot_be_completed_by_hand_and_the_seal_comes_last(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case)
        agree(api, demo.mediator1, case)
        response = complete(api(demo.mediator1), task(case, "signing"), "submit")
        assert response.status_code == 400 and "signatures" in response.json()["fields"]
        response = sign(api, demo.med_head, case, "seal")
        assert response.status_code == 409 and response.json()["code"] == "signatures_missing"
        assert sign(api, demo.worker1, case, "worker").status_code == 403
        assert sign(api, demo.mediator2, case, "worker").status_code == 403
        assert sign(api, demo.mediator1, case, "seal").status_code == 403
        assert sign(api, demo.mediator1, case, "worker").status_code == 201
        again = sign(api, demo.mediator1, case, "worker")
        assert again.status_code == 409 and again.json()["code"] == "already_signed"
        future = sign(api, demo.mediator1, case, "employer", signed_at="2026-03-03T09:00:00+08:00")
        assert future.status_code == 400 and "signed_at" in future.json()["fields"]


def test_no_agreement_closes_with_the_arbitration_notice(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator2")
        # An outcome needs a session first.
        response = complete(
            api(demo.mediator2), task(case, "mediation"), "submit", data={"outcome": "no_agreement"}
        )
        assert response.status_code == 400 and "sessions" in response.json()["fields"]
        session(api, demo.mediator2, case, date="2026-03-02")
        response = complete(
            api(demo.mediator2),
            task(case, "mediation"),
            "submit",
            data={"outcome": "no_agreement", "amount": "100.00"},
        )
        assert response.status_code == 400 and "data.amount" in response.json()["fields"]
        decide(api, demo.mediator2, case, "mediation", data={"outcome": "no_agreement"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "no_agreement")
    data = detail(api, demo.worker1, case)
    assert data["notice"]["kind"] == "no_agreement"
    assert data["agreement"] is None and data["mediation_outcome"] == "no_agreement"
    assert "mediation_no_agreement" in verbs(demo.worker1, case)
    note = demo.worker1.notifications.get(case=case, verb="mediation_no_agreement")
    assert note.data["notice"] == f"/api/v1/mediation-cases/{case.pk}/notice.pdf"
    text = pdf_text(api(demo.worker1).get(note.data["notice"]))
    assert "终止调解通知书" in text and "未能达成调解协议" in text and "申请仲裁" in text
    assert "杨工人" in text and case.number in text
    no_agreement = api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/agreement.pdf")
    assert no_agreement.status_code == 409
    # The employer is told in writing too (DOMAIN.md B.5): its own copy.
    assert data["notice"]["employer_pdf"] == f"{note.data['notice']}?party=employer"
    text = pdf_text(api(demo.mediator2).get(data["notice"]["employer_pdf"]))
    assert "终止调解通知书" in text and "未能达成调解协议" in text and "申请仲裁" in text
    assert text.index("东湖机械厂：") < text.index("杨工人于2026年3月2日提出的与你单位之间")


def test_the_seal_is_not_dated_before_the_last_signature(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case)
        agree(api, demo.mediator1, case)
    with time_machine.travel(at(2026, 3, 2, 10, 0), tick=False):
        for party in ("worker", "employer", "mediator"):
            response = sign(api, demo.mediator1, case, party, signed_at="2026-03-02T09:01:00+08:00")
            assert response.status_code == 201
        early = sign(api, demo.med_head, case, "seal", signed_at="2026-03-02T09:00:30+08:00")
        assert early.status_code == 400 and "signed_at" in early.json()["fields"]
        assert MediationCase.objects.get(case=case).effective_at is None
        same = sign(api, demo.med_head, case, "seal", signed_at="2026-03-02T09:01:00+08:00")
        assert same.status_code == 201
    assert MediationCase.objects.get(case=case).effective_at == at(2026, 3, 2, 9, 1)


def test_an_agreement_cannot_take_effect_after_its_performance_deadline(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case)
        agree(api, demo.mediator1, case, performance_deadline="2026-03-02")
        for party in ("worker", "employer", "mediator"):
            assert sign(api, demo.mediator1, case, party).status_code == 201
    with time_machine.travel(at(2026, 3, 3, 0, 0, 10), tick=False):
        late = sign(api, demo.med_head, case, "seal")
        assert late.status_code == 400 and "signed_at" in late.json()["fields"]
        assert MediationCase.objects.get(case=case).effective_at is None
        # Sealed on the day of the deadline, as the paper says: it took effect in time.
        response = sign(api, demo.med_head, case, "seal", signed_at="2026-03-02T17:00:00+08:00")
        assert response.status_code == 201
    record = MediationCase.objects.get(case=case)
    assert record.effective_at == at(2026, 3, 2, 17, 0)


def test_agreement_needs_its_terms_and_a_future_deadline(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case, date="2026-03-02")
        response = complete(
            api(demo.mediator1),
            task(case, "mediation"),
            "submit",
            data={"outcome": "agreement", "amount": "-5", "performance_deadline": "2026-03-01"},
        )
        fields = response.json()["fields"]
        assert response.status_code == 400 and "data.amount" in fields
        response = complete(
            api(demo.mediator1),
            task(case, "mediation"),
            "submit",
            data={"outcome": "agreement", "performance_deadline": "2026-03-01"},
        )
        fields = response.json()["fields"]
        assert response.status_code == 400
        assert {"data.terms", "data.amount", "data.performance_method"} <= set(fields)
        assert fields["data.performance_deadline"] == ["不能早于今天。"]  # Cannot be in the past.
    assert MediationCase.objects.get(case=case).mediation_outcome == ""


def test_non_performance_tells_the_worker_of_arbitration_and_a_payment_order(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo, category="compensation")
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case, date="2026-03-02")
        agree(api, demo.mediator1, case, performance_deadline="2026-03-10")
        sign_all(api, demo, case)
        # Not before the deadline has passed …
        response = complete(
            api(demo.mediator1),
            task(case, "performance"),
            "submit",
            data={"performance": "not_performed"},
        )
        assert response.status_code == 400 and "data.performance" in response.json()["fields"]
    with time_machine.travel(at(2026, 3, 10, 18, 0), tick=False):
        response = complete(
            api(demo.mediator1),
            task(case, "performance"),
            "submit",
            data={"performance": "not_performed"},
        )
        assert response.status_code == 400
    with time_machine.travel(at(2026, 3, 11, 9, 0), tick=False):
        decide(
            api,
            demo.mediator1,
            case,
            "performance",
            data={"performance": "not_performed", "note": "电话回访，未支付。"},
        )
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "agreement")
    note = demo.worker1.notifications.get(case=case, verb="mediation_not_performed")
    assert note.data["payment_order"] is True
    text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/notice.pdf"))
    assert "调解协议未履行告知书" in text and "第十五条" in text and "申请仲裁" in text
    assert "支付令" in text and "第十六条" in text


def test_non_performance_without_a_payment_order_for_other_categories(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo, category="dismissal")
        accept(api, demo, case)
        assign(api, demo, case)
        session(api, demo.mediator1, case, date="2026-03-02")
        agree(api, demo.mediator1, case, performance_deadline="2026-03-02")
        sign_all(api, demo, case)
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        decide(api, demo.mediator1, case, "performance", data={"performance": "not_performed"})
    note = demo.worker1.notifications.get(case=case, verb="mediation_not_performed")
    assert note.data["payment_order"] is False
    text = pdf_text(api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/notice.pdf"))
    assert "申请仲裁" in text and "支付令" not in text


def test_withdrawn_before_the_agreement_takes_effect_but_not_after(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        first = filed(api, demo.worker1, demo)
        second = filed(api, demo.worker1, demo)
        for case in (first, second):
            accept(api, demo, case)
            assign(api, demo, case)
            session(api, demo.mediator1, case, date="2026-03-02")
            agree(api, demo.mediator1, case)
        sign_all(api, demo, second)
        client = api(demo.worker1)
        response = client.post(
            f"/api/v1/cases/{first.pk}/withdraw/", {"reason": "已和解"}, format="json"
        )
        assert response.status_code == 200 and response.json()["status"] == "withdrawn"
        response = client.post(
            f"/api/v1/cases/{second.pk}/withdraw/", {"reason": "x"}, format="json"
        )
        assert response.status_code == 409
    assert Case.objects.get(pk=second.pk).status == "in_progress"


def test_the_trail_of_every_finished_case_verifies(demo, api):
    from cases.mediation.tasks import enforce_statutory_terms

    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        agreed = filed(api, demo.worker1, demo)
        accept(api, demo, agreed)
        assign(api, demo, agreed)
        session(api, demo.mediator1, agreed)
        agree(api, demo.mediator1, agreed)
        sign_all(api, demo, agreed)
        decide(api, demo.mediator1, agreed, "performance", data={"performance": "performed"})
        failed = filed(api, demo.worker1, demo)
        accept(api, demo, failed)
        assign(api, demo, failed, "mediator2")
        session(api, demo.mediator2, failed)
        decide(api, demo.mediator2, failed, "mediation", data={"outcome": "no_agreement"})
        declined = filed(api, demo.worker1, demo)
        decide(
            api,
            demo.med_head,
            declined,
            "acceptance",
            "reject",
            comment="x",
            data={"decline_reason": "respondent_refused"},
        )
        expired = filed(api, demo.worker1, demo)
    with time_machine.travel(at(2026, 3, 20, 9, 0), tick=False):
        enforce_statutory_terms.run()
    expected = {
        agreed: ("closed", "agreement"),
        failed: ("closed", "no_agreement"),
        declined: ("rejected", "declined"),
        expired: ("closed", "expired"),
    }
    for case, (status, outcome) in expected.items():
        case.refresh_from_db()
        assert (case.status, case.outcome) == (status, outcome)
        verification = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/verify/").json()
        assert verification["valid"] is True and verification["broken_at"] is None
        assert actions(case)[0] == "case.submitted" and actions(case)[-1] == f"case.{status}"


def _record_reads(queries):
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and 'FROM "mediation_mediationcase"' in q["sql"]
    ]


@pytest.mark.postgres
def test_each_step_reads_the_record_once_locked_and_sees_its_own_changes(demo, api):
    """The assignment's check and record, the outcome's check and record, and the seal with the
    agreement's taking effect each read the case's mediation record once, under a row lock
    (`FOR UPDATE`); what a step writes is what the next step of the same operation reads (the
    seal's flow moves on only because it sees the agreement in effect)."""
    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        with CaptureQueriesContext(connection) as assignment:
            assign(api, demo, case, "mediator1")
        session(api, demo.mediator1, case)
        with CaptureQueriesContext(connection) as outcome:
            agree(api, demo.mediator1, case)
        for party in ("worker", "employer", "mediator"):
            assert sign(api, demo.mediator1, case, party).status_code == 201
        with CaptureQueriesContext(connection) as seal:
            response = sign(api, demo.med_head, case, "seal")
    assert response.status_code == 201, response.json()
    assert [t["step"] for t in response.json()["open_tasks"]] == ["performance"]
    for queries in (assignment, outcome, seal):
        reads = _record_reads(queries.captured_queries)
        assert len(reads) == 1 and reads[0].endswith('FOR UPDATE OF "mediation_mediationcase"')
    record = MediationCase.objects.get(case=case)
    assert record.mediator == demo.mediator1 and record.effective_at is not None
    assert trail.verify(case).valid
