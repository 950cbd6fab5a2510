"""The hardship flow through the API: the path of each aid type, rejections at each level,
send back and resubmit, objections during the public notice, withdrawal, the officers'
figures, scoping, the applicant's notifications and the story the trail tells."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from viewflow.workflow.status import STATUS

from approvals.models import CaseTask
from cases import trail
from cases.hardship.models import HardshipApplication, Objection
from core.models import Parameter
from notifications.models import Notification

from .helpers import (
    actions,
    approve,
    complete,
    fire,
    investigate,
    open_tasks,
    pay,
    post,
    ric_number,
    step_names,
    submit,
    the_task,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def record(case):
    return HardshipApplication.objects.get(case=case)


def case_json(api, user, case):
    response = api(user).get(f"/api/v1/cases/{case.pk}/")
    assert response.status_code == 200
    return response.json()


def completed(case):
    """(step, actor, decision, comment) of every decision, in order."""
    return [
        (e.step, e.actor.username if e.actor else None, e.data.get("decision"), e.comment)
        for e in case.trail.filter(action="task.completed").select_related("actor").order_by("seq")
    ]


def timer(case, step="public_notice"):
    return (
        CaseTask.objects.filter(case=case, flow_task__endswith=f".{step}").order_by("-pk").first()
    )


def through_notice(case):
    """Let the public notice run out: travel past its end and fire the timers."""
    end = record(case).notice_ends_at
    assert end is not None
    assert fire()["timers"] == 0  # not before its end
    return time_machine.travel(end + timedelta(minutes=1), tick=False)


def to_town_review(api, demo, case):
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)


def applicant_verbs(demo, case):
    return list(
        Notification.objects.filter(recipient=demo.worker1, case=case)
        .order_by("pk")
        .values_list("verb", flat=True)
    )


# --- The path of each aid type ----------------------------------------------------------------

PATHS = [
    # aid type, amount, public notice, county approval, who pays
    ("festival", "800.00", False, False, "town_finance"),
    ("emergency", "6000.00", False, True, "county_finance"),
    ("emergency", "5000.00", False, False, "town_finance"),  # at the threshold: not above
    ("medical", "3000.00", True, False, "town_finance"),
    ("medical", "8000.00", True, True, "county_finance"),
    ("education", "2000.00", True, False, "town_finance"),
    ("file", "1000.00", True, True, "county_finance"),
]


@pytest.mark.parametrize(("aid_type", "amount", "notice", "county", "payer"), PATHS)
def test_full_path_of_each_aid_type(demo, api, aid_type, amount, notice, county, payer):
    extra = {}
    if aid_type == "education":
        extra = {"child_name": "小红", "child_id_number": ric_number(70, birth="20080101")}
    case = submit(api, demo.worker1, aid_type=aid_type, requested_amount=amount, **extra)
    to_town_review(api, demo, case)

    if notice:
        assert timer(case).status == STATUS.SCHEDULED
        body = case_json(api, demo.worker1, case)
        assert body["notice_ends_at"] is not None and body["open_tasks"] == []
        assert "hardship_notice" in applicant_verbs(demo, case)
        ctx = through_notice(case)
    else:
        assert timer(case) is None
        assert case.trail.filter(action="step.skipped", step="public_notice").exists()
        ctx = time_machine.travel(timezone.now(), tick=False)

    with ctx:
        if notice:
            assert fire()["timers"] == 1
            assert fire()["timers"] == 0  # a second beat run fires nothing twice
        approve(api, demo.town_aid1, case, "town_review")
        if county:
            assert [t.flow_task.name for t in open_tasks(case)] == ["county_approval"]
            approve(api, demo.county_aid, case, "county_approval")
        else:
            assert case.trail.filter(action="step.skipped", step="county_approval").exists()
        disbursement = the_task(case, "disbursement")
        organization = "示范县总工会" if county else "东湖镇总工会"
        assert disbursement.candidate_organization.name == organization
        other = "town_finance" if county else "county_finance"
        assert pay(api, demo.user(other), case).status_code == 403  # not the approving level
        assert pay(api, demo.user(payer), case, reference="TX-42").status_code == 200

    case.refresh_from_db()
    assert (case.status, case.outcome) == ("approved", "disbursed")
    expected = ["grassroots_review", "investigation", "town_review"]
    expected += ["county_approval"] if county else []
    assert step_names(case) == [*expected, "disbursement"]
    body = case_json(api, demo.worker1, case)
    assert body["approved_amount"] == body["disbursed_amount"] == amount
    assert body["approval_level"] == ("county" if county else "town")
    assert body["payment_reference"] == "TX-42"
    assert (body["register_entry"] is not None) == (aid_type == "file")
    # The applicant was told: of every decision, the notice, the payment, the end.
    verbs = applicant_verbs(demo, case)
    # Once per step (approvals: the two investigators' countersign round is one step):
    # chair, investigation, town (county).
    assert verbs.count("step_decided") == 3 + county
    # The payment is told once, with its amount and reference, not also as "发放：同意".
    assert verbs.count("hardship_disbursed") == 1 and "case_approved" in verbs
    assert ("hardship_notice" in verbs) == notice
    # The trail tells the story: who decided what, in order, and it verifies.
    story = completed(case)
    assert [s[:3] for s in story] == [
        ("grassroots_review", "chair1", "approve"),
        ("investigation", "town_aid1", "approve"),
        ("investigation", "town_aid2", "approve"),
        ("town_review", "town_aid1", "approve"),
        *([("county_approval", "county_aid", "approve")] if county else []),
        ("disbursement", payer, "approve"),
    ]
    events = actions(case)
    assert events[0] == "case.submitted" and events[-1] == "case.approved"
    assert ("hardship.notice_started" in events) == notice
    assert trail.verify(case).valid
    paid = case.trail.get(action="task.completed", step="disbursement").data
    assert paid["amount"] == amount and paid["payment_reference"] == "TX-42"


def test_investigation_records_both_visits(demo, api):
    case = submit(api, demo.worker1)
    approve(api, demo.chair1, case, "grassroots_review")
    tasks = open_tasks(case, "investigation")
    assert len(tasks) == 2 and {t.candidate_role for t in tasks} == {"aid_officer"}
    assert {t.candidate_organization.name for t in tasks} == {"东湖镇总工会"}
    # Due in the configured number of working days.
    assert tasks[0].due_at is not None and tasks[0].due_at > timezone.now() + timedelta(days=4)
    # Each visit needs its date, the verified income and findings; dates are not in the future.
    officer = api(demo.town_aid1)
    missing = complete(officer, tasks[0], "approve", data={"findings": "ok"})
    assert missing.status_code == 400
    assert {"data.visit_date", "data.verified_income"} <= set(missing.json()["fields"])
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    future = complete(
        officer,
        tasks[0],
        "approve",
        data={"visit_date": tomorrow, "verified_income": "1", "findings": "x"},
    )
    assert future.status_code == 400 and "data.visit_date" in future.json()["fields"]
    investigate(api, demo, case)
    visits = case.trail.filter(action="task.completed", step="investigation")
    assert {e.data["findings"] for e in visits} == {
        "Visited by town_aid1.",
        "Visited by town_aid2.",
    }
    assert all(e.data["verified_income"] == "24000.00" for e in visits)


def test_deadlines_and_the_notice_count_working_days_of_the_official_calendar(demo, api):
    """Opened on Tue 29 Sep 2026: the National Day holiday (1–7 Oct) does not count and the
    make-up Saturday (10 Oct) does — five working days end on Mon 12 Oct."""
    with time_machine.travel(datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI), tick=False):
        case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
        approve(api, demo.chair1, case, "grassroots_review")
        end = datetime(2026, 10, 12, 23, 59, 59, tzinfo=SHANGHAI)
        assert {t.due_at for t in open_tasks(case, "investigation")} == {end}
        investigate(api, demo, case)
        assert record(case).notice_ends_at == end == timer(case).scheduled
        started = case.trail.get(action="hardship.notice_started")
        assert started.data["working_days"] == 5
    with time_machine.travel(end - timedelta(minutes=1), tick=False):
        assert fire()["timers"] == 0
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        assert fire()["timers"] == 1
        assert [t.flow_task.name for t in open_tasks(case)] == ["town_review"]


def test_the_notice_period_is_configuration(demo, api):
    Parameter.objects.create(
        key="hardship.notice_working_days",
        organization=demo.org("东湖镇总工会"),
        effective_from=date(2020, 1, 1),
        value=Decimal("3"),
    )
    with time_machine.travel(datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI), tick=False):
        case = submit(api, demo.worker1, aid_type="file", requested_amount="1000.00")
        to_town_review(api, demo, case)
    # Sep 30, Oct 8, Oct 9.
    assert record(case).notice_ends_at == datetime(2026, 10, 9, 23, 59, 59, tzinfo=SHANGHAI)


# --- Rejections --------------------------------------------------------------------------------


def _to(api, demo, case, step):
    """Drive the case until `step` is open (emergency above the threshold: no notice)."""
    if step == "grassroots_review":
        return
    approve(api, demo.chair1, case, "grassroots_review")
    if step == "investigation":
        return
    investigate(api, demo, case)
    if step == "town_review":
        return
    approve(api, demo.town_aid1, case, "town_review")


@pytest.mark.parametrize(
    ("step", "officer"),
    [
        ("grassroots_review", "chair1"),
        ("investigation", "town_aid2"),
        ("town_review", "town_aid1"),
        ("county_approval", "county_aid"),
    ],
)
def test_reject_at_each_level(demo, api, step, officer):
    case = submit(api, demo.worker1, aid_type="emergency", requested_amount="6000.00")
    _to(api, demo, case, step)
    task = open_tasks(case, step)[0]
    user = api(demo.user(officer))
    no_reason = complete(user, task, "reject")
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["fields"]
    assert complete(user, task, "reject", comment="Income above the line.").status_code == 200

    case.refresh_from_db()
    assert (case.status, case.outcome) == ("rejected", "rejected")
    assert open_tasks(case) == []
    assert step_names(case)[-1] == step
    last = completed(case)[-1]
    assert last == (step, officer, "reject", "Income above the line.")
    verbs = applicant_verbs(demo, case)
    assert "case_rejected" in verbs
    told = Notification.objects.filter(recipient=demo.worker1, case=case, verb="step_decided")
    assert told.order_by("-pk").first().body == "Income above the line."
    assert actions(case)[-1] == "case.rejected" and trail.verify(case).valid
    # Anyone with the case in reach reads the same story through the API.
    events = api(demo.worker1).get(f"/api/v1/cases/{case.pk}/trail/?page_size=100").json()
    decided = [e for e in events["results"] if e["action"] == "task.completed"][-1]
    assert (decided["step"], decided["actor"]["username"], decided["comment"]) == (
        step,
        officer,
        "Income above the line.",
    )
    assert decided["data"]["decision"] == "reject" and decided["at"]
    verified = api(demo.worker1).get(f"/api/v1/cases/{case.pk}/trail/verify/").json()
    assert verified == {"valid": True, "events": events["count"], "broken_at": None}
    # A rejected case takes no more decisions and cannot be withdrawn.
    assert complete(user, task, "approve").status_code == 409
    refused = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"})
    assert refused.status_code == 409


# --- Send back to the applicant and resubmit -------------------------------------------------


def test_send_back_to_the_applicant_and_resubmit(demo, api):
    case = submit(api, demo.worker1)
    task = the_task(case, "grassroots_review")
    assert complete(api(demo.chair1), task, "return").status_code == 400  # says what is missing
    assert (
        complete(api(demo.chair1), task, "return", comment="Add the income proof.").status_code
        == 200
    )
    [supplement] = open_tasks(case)
    assert supplement.flow_task.name == "supplement" and supplement.owner == demo.worker1
    # The supplement task tells them, with the reason (approvals: no "step: return" besides).
    told = applicant_verbs(demo, case)
    assert "task_created" in told and "step_decided" not in told
    inbox = api(demo.worker1).get("/api/v1/tasks/").json()["results"]
    assert [(t["step"], [d["value"] for d in t["decisions"]]) for t in inbox] == [
        ("supplement", ["resubmit"])
    ]
    # The applicant adds the document and resubmits.
    upload = api(demo.worker1).post(
        f"/api/v1/cases/{case.pk}/attachments/",
        {"kind": "income_proof", "file": _pdf("proof.pdf")},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    assert (
        complete(
            api(demo.worker1), supplement, "resubmit", data={"note": "Proof attached."}
        ).status_code
        == 200
    )
    again = the_task(case, "grassroots_review")
    assert again.pk != task.pk
    approve(api, demo.chair1, case, "grassroots_review")
    assert len(open_tasks(case, "investigation")) == 2
    assert [s[:3] for s in completed(case)] == [
        ("grassroots_review", "chair1", "return"),
        ("supplement", "worker1", "resubmit"),
        ("grassroots_review", "chair1", "approve"),
    ]
    assert "attachment.uploaded" in actions(case)


def _pdf(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "application/pdf")


# --- Objection during the public notice -------------------------------------------------------


def test_objection_during_notice_sends_the_case_back_to_investigation(demo, api):
    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    url = f"/api/v1/cases/{case.pk}/objections/"
    # Before the notice: nothing to object to.
    assert post(api(demo.worker2), url, {"reason": "x"}).status_code == 409
    to_town_review(api, demo, case)
    notice = timer(case)
    assert notice.status == STATUS.SCHEDULED
    # Members of the union see the notice.
    notices = api(demo.worker2).get("/api/v1/hardship-notices/").json()["results"]
    assert [(n["case"]["number"], n["applicant"], n["amount"]) for n in notices] == [
        (case.number, "杨工人", "3000.00")
    ]
    assert api(demo.worker3).get("/api/v1/hardship-notices/").json()["count"] == 0
    # Who may object: a member of the same union, not the applicant, not others.
    assert post(api(demo.worker3), url, {"reason": "x"}).status_code == 404  # other union
    assert post(api(demo.xs_aid1), url, {"reason": "x"}).status_code == 404  # out of reach
    assert post(api(demo.worker1), url, {"reason": "x"}).status_code == 403  # the applicant
    assert post(api(demo.town_aid1), url, {"reason": "x"}).status_code == 403  # not a member
    no_reason = post(api(demo.worker2), url, {"reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["fields"]

    asked = Notification.objects.filter(recipient=demo.town_aid1, verb="task_created", case=case)
    asked_before = asked.count()
    response = post(api(demo.worker2), url, {"reason": "He owns two flats."})
    assert response.status_code == 201, response.json()
    assert response.json()["moved_to"] == "investigation"
    notice.refresh_from_db()
    assert notice.status == STATUS.CANCELED
    assert len(open_tasks(case, "investigation")) == 2
    assert record(case).notice_ends_at is None
    assert Objection.objects.get(case=case).objector == demo.worker2
    event = case.trail.get(action="hardship.objection")
    assert (event.actor, event.comment, event.data["to_step"]) == (
        demo.worker2,
        "He owns two flats.",
        "investigation",
    )
    told = Notification.objects.get(recipient=demo.worker1, verb="hardship_objection")
    assert told.body == "He owns two flats."
    # The officers are asked to investigate again.
    assert asked.count() == asked_before + 1  # the round's two slots are one piece of news
    # Objecting again: the notice has stopped.
    assert post(api(demo.chair1), url, {"reason": "x"}).status_code == 409

    # Investigated again, noticed again, and on.
    investigate(api, demo, case)
    assert timer(case).pk != notice.pk and timer(case).status == STATUS.SCHEDULED
    with through_notice(case):
        assert fire()["timers"] == 1
        # After the notice: too late.
        assert post(api(demo.worker2), url, {"reason": "late"}).status_code == 409
        approve(api, demo.town_aid1, case, "town_review")
        assert pay(api, demo.town_finance, case).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"
    assert step_names(case) == [
        "grassroots_review",
        "investigation",
        "town_review",
        "disbursement",
    ]
    assert [s[0] for s in completed(case)].count("investigation") == 4
    assert trail.verify(case).valid


def test_the_objector_is_not_named_to_the_applicant(demo, api, client):
    """The applicant is told an objection was lodged and why, not by whom: neither their case
    page nor the trail through the API names the member who objected (nor their address);
    the officers and auditors over the case see who did, and the stored chain verifies."""
    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    to_town_review(api, demo, case)
    url = f"/api/v1/cases/{case.pk}/objections/"
    assert post(api(demo.worker2), url, {"reason": "He owns two flats."}).status_code == 201
    trail_url = f"/api/v1/cases/{case.pk}/trail/?page_size=100"

    def objection(user):
        [event] = [
            e
            for e in api(user).get(trail_url).json()["results"]
            if e["action"] == "hardship.objection"
        ]
        return event

    told = objection(demo.worker1)
    assert (told["actor"], told["actor_role"], told["source_ip"]) == (None, "", None)
    assert told["comment"] == "He owns two flats."
    for officer in (demo.town_aid1, demo.county_auditor, demo.chair1):
        assert objection(officer)["actor"]["username"] == "worker2"
    client.force_login(demo.worker1)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "He owns two flats." in page and demo.worker2.display_name not in page
    assert "不公开" in page  # said to be withheld, not passed off as the system's
    assert 'class="verify valid" data-testid="trail-verification"' in page
    client.force_login(demo.town_aid1)
    assert demo.worker2.display_name in client.get(f"/cases/{case.pk}/").content.decode()


def test_no_objection_without_a_notice(demo, api):
    case = submit(api, demo.worker1, aid_type="festival")
    to_town_review(api, demo, case)
    response = post(api(demo.worker2), f"/api/v1/cases/{case.pk}/objections/", {"reason": "x"})
    assert response.status_code == 409 and response.json()["code"] == "not_on_notice"


# --- Withdrawal --------------------------------------------------------------------------------


def test_withdraw_until_disbursement(demo, api):
    case = submit(api, demo.worker1, aid_type="festival")
    to_town_review(api, demo, case)
    approve(api, demo.town_aid1, case, "town_review")
    # The disbursement is open: still possible.
    response = post(
        api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "Found work."}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "withdrawn" and body["open_tasks"] == []
    assert Notification.objects.filter(recipient=demo.town_finance, verb="case_withdrawn").exists()
    assert actions(case)[-1] == "case.withdrawn" and trail.verify(case).valid


def test_no_withdrawal_after_disbursement(demo, api):
    case = submit(api, demo.worker1, aid_type="festival")
    to_town_review(api, demo, case)
    approve(api, demo.town_aid1, case, "town_review")
    assert pay(api, demo.town_finance, case).status_code == 200
    refused = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"})
    assert refused.status_code == 409
    case.refresh_from_db()
    assert case.status == "approved"


def test_withdraw_refused_once_paid_even_while_the_case_is_open(demo, api):
    """The flow's own rule (can_withdraw): after payment it is too late."""
    from workflows.hardship import HardshipFlow

    case = submit(api, demo.worker1, aid_type="festival")
    assert HardshipFlow.instance.can_withdraw(case)
    HardshipApplication.objects.filter(case=case).update(disbursed_on=timezone.localdate())
    refused = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"})
    assert refused.status_code == 409 and refused.json()["code"] == "not_withdrawable"


# --- Officers' figures: a different amount or category needs a reason -------------------------


def test_approving_a_different_amount_needs_a_reason(demo, api):
    case = submit(api, demo.worker1, aid_type="emergency", requested_amount="4000.00")
    to_town_review(api, demo, case)
    task = the_task(case, "town_review")
    officer = api(demo.town_aid1)
    bad = complete(officer, task, "approve", data={"approved_amount": "3000.00"})
    assert bad.status_code == 400 and "comment" in bad.json()["fields"]
    zero = complete(officer, task, "approve", data={"approved_amount": "0"}, comment="x")
    assert zero.status_code == 400 and "data.approved_amount" in zero.json()["fields"]
    ok = complete(
        officer,
        task,
        "approve",
        data={"approved_amount": "3000.00"},
        comment="Part is covered by insurance.",
    )
    assert ok.status_code == 200
    changed = case.trail.get(action="hardship.figures_changed")
    assert changed.actor == demo.town_aid1 and changed.comment == "Part is covered by insurance."
    assert changed.data["amount"] == {"from": "4000.00", "to": "3000.00"}
    body = case_json(api, demo.worker1, case)
    assert (body["requested_amount"], body["approved_amount"]) == ("4000.00", "3000.00")
    # The payment may not exceed what was approved.
    too_much = pay(api, demo.town_finance, case, amount="3000.01")
    assert too_much.status_code == 400 and "data.amount" in too_much.json()["fields"]
    future = pay(
        api, demo.town_finance, case, paid_on=(date.today() + timedelta(days=2)).isoformat()
    )
    assert future.status_code == 400 and "data.paid_on" in future.json()["fields"]
    no_ref = pay(api, demo.town_finance, case, reference="")
    assert no_ref.status_code == 400 and "data.payment_reference" in no_ref.json()["fields"]
    assert pay(api, demo.town_finance, case, amount="2500.00").status_code == 200
    assert case_json(api, demo.worker1, case)["disbursed_amount"] == "2500.00"


def test_an_ineligible_case_is_approved_only_under_a_named_category_with_a_reason(demo, api):
    case = submit(
        api, demo.worker1, aid_type="festival", annual_income="90000.00", rigid_expenses="0"
    )
    assert record(case).proposed_category == "ineligible"
    to_town_review(api, demo, case)
    task = the_task(case, "town_review")
    officer = api(demo.town_aid1)
    bad = complete(officer, task, "approve")
    assert bad.status_code == 400 and "data.category" in bad.json()["fields"]
    wrong = complete(officer, task, "approve", data={"category": "ineligible"}, comment="x")
    assert wrong.status_code == 400
    ok = complete(
        officer,
        task,
        "approve",
        data={"category": "relative"},
        comment="Spouse's income stopped last month.",
    )
    assert ok.status_code == 200
    body = case_json(api, demo.worker1, case)
    assert (body["proposed_category"], body["approved_category"]) == ("ineligible", "relative")
    changed = case.trail.get(action="hardship.figures_changed")
    assert changed.data["category"] == {"from": "ineligible", "to": "relative"}
    assert changed.comment == "Spouse's income stopped last month."


def test_the_county_threshold_is_configuration(demo, api):
    Parameter.objects.create(
        key="hardship.county_threshold",
        organization=demo.org("示范县总工会"),
        effective_from=date(2020, 1, 1),
        value=Decimal("500"),
    )
    case = submit(api, demo.worker1, aid_type="festival", requested_amount="800.00")
    to_town_review(api, demo, case)
    approve(api, demo.town_aid1, case, "town_review")
    assert [t.flow_task.name for t in open_tasks(case)] == ["county_approval"]


def test_a_town_raising_the_amount_above_the_threshold_brings_in_the_county(demo, api):
    case = submit(api, demo.worker1, aid_type="emergency", requested_amount="4000.00")
    to_town_review(api, demo, case)
    approve(
        api,
        demo.town_aid1,
        case,
        "town_review",
        data={"approved_amount": "6000.00"},
        comment="Hospital bill came in.",
    )
    assert [t.flow_task.name for t in open_tasks(case)] == ["county_approval"]


def test_separation_of_duties_between_levels(demo, api):
    """Whoever decided the town review may not decide the county approval."""
    from organizations.models import Membership

    Membership.objects.create(
        user=demo.town_aid1, organization=demo.org("示范县总工会"), role="aid_officer"
    )
    case = submit(api, demo.worker1, aid_type="file", requested_amount="1000.00")
    to_town_review(api, demo, case)
    with through_notice(case):
        fire()
        approve(api, demo.town_aid1, case, "town_review")
        task = the_task(case, "county_approval")
        assert complete(api(demo.town_aid1), task, "approve").status_code == 403
        assert complete(api(demo.county_aid), task, "approve").status_code == 200


# --- Scoping ---------------------------------------------------------------------------------


def test_a_xishan_officer_never_sees_a_donghu_case(demo, api):
    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    approve(api, demo.chair1, case, "grassroots_review")
    xishan = api(demo.xs_aid1)
    assert xishan.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert xishan.get(f"/api/v1/cases/{case.pk}/trail/").status_code == 404
    assert xishan.get(f"/api/v1/cases/{case.pk}/attachments/").status_code == 404
    assert xishan.get("/api/v1/cases/?process=hardship").json()["count"] == 0
    assert xishan.get("/api/v1/tasks/?view=queue").json()["count"] == 0
    task = open_tasks(case, "investigation")[0]
    assert xishan.get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    assert complete(xishan, task, "approve").status_code == 404
    # Its own officers see it.
    assert api(demo.town_aid1).get("/api/v1/cases/?process=hardship").json()["count"] == 1
    assert api(demo.county_aid).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    # And a 西山镇 case is investigated by 西山镇 officers.
    other = submit(api, demo.worker4, id_number=ric_number(4))
    approve(api, demo.chair3, other, "grassroots_review")
    assert {t.candidate_organization.name for t in open_tasks(other, "investigation")} == {
        "西山镇总工会"
    }
    assert api(demo.town_aid1).get(f"/api/v1/cases/{other.pk}/").status_code == 404


def test_a_member_sees_only_their_own_cases(demo, api):
    case = submit(api, demo.worker1)
    assert api(demo.worker2).get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert api(demo.worker2).get("/api/v1/cases/").json()["count"] == 0
