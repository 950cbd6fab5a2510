"""Acceptance (受理): accepted, or declined with one of the listed reasons and a written notice
in Chinese, for each party."""

import pytest
import time_machine

from cases.mediation.models import MediationCase
from tests.helpers import complete, post

from .helpers import accept, assign, at, decide, detail, filed, pdf_text, session, task, verbs

pytestmark = pytest.mark.django_db

REASONS = {
    "not_labor_dispute": ("所申请事项不属于劳动争议", "其他合法途径"),
    "in_arbitration_or_court": ("已由劳动争议仲裁委员会或者人民法院受理", "程序处理"),
    "respondent_refused": ("被申请人拒绝调解", "申请仲裁"),
}


@pytest.mark.parametrize("reason", list(REASONS))
def test_decline_with_each_reason_and_the_written_notice(demo, api, reason):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
    data = {"decline_reason": reason}
    with time_machine.travel(at(2026, 3, 3, 16, 0), tick=False):
        decide(api, demo.med_head, case, "acceptance", "reject", comment="不予受理", data=data)
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("rejected", "declined")
    body = detail(api, demo.worker1, case)
    assert body["decline_reason"] == reason
    assert body["notice"] == {
        "kind": "declined",
        "pdf": f"/api/v1/mediation-cases/{case.pk}/notice.pdf",
        "employer_pdf": f"/api/v1/mediation-cases/{case.pk}/notice.pdf?party=employer",
    }
    assert body["open_tasks"] == [] and body["mediator"] is None
    note = demo.worker1.notifications.get(case=case, verb="mediation_declined")
    assert note.data == {"reason": reason, "notice": body["notice"]["pdf"]}
    assert "case_rejected" in verbs(demo.worker1, case)

    text = pdf_text(api(demo.worker1).get(body["notice"]["pdf"]))
    expected, advice = REASONS[reason]
    assert "劳动争议调解不予受理通知书" in text
    assert "杨工人" in text and "东湖机械厂" in text and case.number in text
    assert expected in text and advice in text and "不予受理" in text
    assert "2026年3月2日" in text and "2026年3月3日" in text and "东湖镇总工会" in text
    # The head who declined and officers above may download it too; others in reach as well.
    assert api(demo.med_head).get(body["notice"]["pdf"]).status_code == 200

    # The employer's copy: addressed to the employer, about the worker's application.
    text = pdf_text(api(demo.med_head).get(body["notice"]["employer_pdf"]))
    assert "劳动争议调解不予受理通知书" in text and expected in text
    assert text.index("东湖机械厂：") < text.index("杨工人于2026年3月2日") < text.index("你单位")


def test_other_is_no_longer_a_reason_to_decline(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        acceptance = task(case, "acceptance")
        head = api(demo.med_head)
        [field] = [
            f
            for f in head.get(f"/api/v1/tasks/{acceptance.pk}/").json()["fields"]
            if f["name"] == "decline_reason"
        ]
        assert [c["value"] for c in field["choices"]] == list(REASONS)
        response = complete(
            head,
            acceptance,
            "reject",
            comment="不予受理",
            data={"decline_reason": "other", "decline_text": "本室人手不足，无法安排调解。"},
        )
        assert response.status_code == 400 and "data.decline_reason" in response.json()["fields"]
    case.refresh_from_db()
    assert case.status == "in_progress"
    assert MediationCase.objects.get(case=case).decline_reason == ""


def test_a_case_declined_earlier_for_other_reasons_stays_readable(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        decide(
            api,
            demo.med_head,
            case,
            "acceptance",
            "reject",
            comment="不予受理",
            data={"decline_reason": "not_labor_dispute"},
        )
    # As recorded before "other" was withdrawn.
    MediationCase.objects.filter(case=case).update(
        decline_reason="other", decline_text="申请人已离开本辖区"
    )
    body = detail(api, demo.worker1, case)
    assert body["decline_reason"] == "other"
    text = pdf_text(api(demo.worker1).get(body["notice"]["pdf"]))
    assert "申请人已离开本辖区" in text and "不予受理" in text


def test_an_accepted_case_cannot_then_be_declined(demo, api):
    """Once accepted, acceptance is no send-back target (send_back_target=False), and the
    rules refuse a decline after acceptance anyway: the case never ends both accepted and
    declined."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        assert session(api, demo.mediator1, case).status_code == 201
        mediation = task(case, "mediation")
        offered = api(demo.mediator1).get(f"/api/v1/tasks/{mediation.pk}/").json()
        assert "acceptance" not in offered["send_back_to"]
        assert "assignment" in offered["send_back_to"]
        response = post(
            api(demo.mediator1),
            f"/api/v1/tasks/{mediation.pk}/send-back/",
            {"to_step": "acceptance", "comment": "重新审查"},
        )
    assert response.status_code == 400 and "to_step" in response.json()["fields"]
    case.refresh_from_db()
    assert case.status == "in_progress" and case.outcome != "declined"
    record = MediationCase.objects.get(case=case)
    assert record.decline_reason == ""
    # Accepted when first decided.
    assert record.accepted_at == at(2026, 3, 2, 9, 0)
    response = api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/notice.pdf")
    assert response.status_code == 409


def test_notice_party_must_be_worker_or_employer(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        decide(
            api,
            demo.med_head,
            case,
            "acceptance",
            "reject",
            comment="x",
            data={"decline_reason": "respondent_refused"},
        )
    url = f"/api/v1/mediation-cases/{case.pk}/notice.pdf"
    response = api(demo.worker1).get(f"{url}?party=court")
    assert response.status_code == 400 and "party" in response.json()["fields"]
    response = api(demo.xs_med_head).get(f"{url}?party=court")
    assert response.status_code == 404  # out of reach first


def test_decline_needs_a_reason(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        acceptance = task(case, "acceptance")
        head = api(demo.med_head)
        response = complete(head, acceptance, "reject", comment="no")
        assert response.status_code == 400 and "data.decline_reason" in response.json()["fields"]
        response = complete(
            head, acceptance, "reject", comment="no", data={"decline_reason": "other"}
        )
        assert response.status_code == 400 and "data.decline_reason" in response.json()["fields"]
        response = complete(
            head, acceptance, "reject", comment="no", data={"decline_reason": "bored"}
        )
        assert response.status_code == 400 and "data.decline_reason" in response.json()["fields"]
        response = complete(
            head, acceptance, "reject", data={"decline_reason": "not_labor_dispute"}
        )
        assert response.status_code == 400 and "comment" in response.json()["fields"]
        response = complete(
            head, acceptance, "approve", data={"decline_reason": "not_labor_dispute"}
        )
        assert response.status_code == 400 and "data.decline_reason" in response.json()["fields"]
        # Nobody else decides acceptance.
        for user in (demo.mediator1, demo.worker1, demo.xs_med_head):
            assert complete(api(user), acceptance, "approve").status_code in (403, 404)
    case.refresh_from_db()
    assert case.status == "in_progress"
    record = MediationCase.objects.get(case=case)
    assert record.accepted_at is None and record.decline_reason == ""


def test_accepted_the_worker_is_told_and_the_notice_is_not_yet_due(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        decide(api, demo.med_head, case, "acceptance", "approve")
        body = detail(api, demo.worker1, case)
    assert body["accepted_at"] == at(2026, 3, 2, 9, 0).isoformat()
    assert [t["step"] for t in body["open_tasks"]] == ["assignment"]
    assert body["notice"] is None
    note = demo.worker1.notifications.get(case=case, verb="mediation_accepted")
    assert "2026-03-17" in note.title
    response = api(demo.worker1).get(f"/api/v1/mediation-cases/{case.pk}/notice.pdf")
    assert response.status_code == 409 and response.json()["code"] == "no_notice"


def test_notice_when_the_client_asks_for_pdf(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        url = f"/api/v1/mediation-cases/{case.pk}/notice.pdf"
        early = api(demo.worker1).get(url, HTTP_ACCEPT="application/pdf")
        # The refusal is JSON, and says so, though the client asked for a PDF.
        assert early.status_code == 409 and early["Content-Type"] == "application/json"
        assert early.json()["code"] == "no_notice"
        anonymous = api().get(f"{url}?format=pdf")  # found by the API fuzzing
        assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
        assert anonymous.json()["code"] == "not_authenticated"
        decide(
            api,
            demo.med_head,
            case,
            "acceptance",
            "reject",
            comment="x",
            data={"decline_reason": "respondent_refused"},
        )
        response = api(demo.worker1).get(url, HTTP_ACCEPT="application/pdf")
    assert "被申请人拒绝调解" in pdf_text(response)
    assert response["Content-Disposition"] == f'inline; filename="{case.number}-notice.pdf"'
