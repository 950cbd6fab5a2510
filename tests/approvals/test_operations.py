"""Operations on an open task, each through the API, each in the trail."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from approvals.models import CaseTask
from cases import trail
from notifications.models import Notification
from tests.helpers import actions, complete, open_tasks, post, submit


def _at_approval(demo, api, process="sample", applicant=None):
    case = submit(process, applicant or demo.worker1)
    complete(api(demo.chair1), open_tasks(case)[0])
    [task] = open_tasks(case, "approval")
    return case, task


def test_transfer_to_an_eligible_colleague(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    bad = post(officer, f"/api/v1/tasks/{task.pk}/transfer/", {"to": "xs_aid1"})
    assert bad.status_code == 400 and "to" in bad.json()["fields"]  # not this town's officer
    assert post(officer, f"/api/v1/tasks/{task.pk}/transfer/", {"to": "nobody"}).status_code == 400
    moved = post(
        officer, f"/api/v1/tasks/{task.pk}/transfer/", {"to": "town_aid2", "comment": "leave"}
    )
    assert moved.status_code == 200 and moved.json()["assignee"]["username"] == "town_aid2"
    assert Notification.objects.filter(recipient=demo.town_aid2, verb="task_transferred").exists()
    assert (
        post(officer, f"/api/v1/tasks/{task.pk}/transfer/", {"to": "town_aid1"}).status_code == 403
    )
    assert complete(api(demo.town_aid2), task, data={"approved_amount": "5"}).status_code == 200
    event = case.trail.get(action="task.transferred")
    assert event.data == {"from": "town_aid1", "to": "town_aid2"} and event.comment == "leave"
    assert trail.verify(case).valid


def test_add_approver_before_decides_first_then_task_comes_back(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    added = post(
        officer,
        f"/api/v1/tasks/{task.pk}/add-approver/",
        {"user": "county_aid", "position": "before"},
    )
    assert added.status_code == 200 and added.json()["on_hold"] is True
    held = complete(officer, task, data={"approved_amount": "5"})
    assert held.status_code == 409 and held.json()["code"] == "task_on_hold"
    [consult] = [t for t in open_tasks(case) if t.kind == "consult"]
    assert consult.owner.username == "county_aid"
    detail = api(demo.county_aid).get(f"/api/v1/tasks/{consult.pk}/").json()
    assert [d["value"] for d in detail["decisions"]] == ["approve", "reject"] and detail[
        "fields"
    ] == []
    assert (
        complete(api(demo.county_aid), consult, "reject", comment="check the income").status_code
        == 200
    )
    # Advisory: the task is back with the officer, who decides.
    assert CaseTask.objects.get(pk=task.pk).on_hold is False
    assert Notification.objects.filter(recipient=demo.town_aid1, verb="task_resumed").exists()
    assert complete(officer, task, data={"approved_amount": "5"}).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved"
    assert "task.consulted" in actions(case)


def test_add_approver_after_and_parallel(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    assert (
        post(
            officer,
            f"/api/v1/tasks/{task.pk}/add-approver/",
            {"user": "county_aid", "position": "after"},
        ).status_code
        == 200
    )
    assert (
        post(
            officer,
            f"/api/v1/tasks/{task.pk}/add-approver/",
            {"user": "town_aid2", "position": "parallel"},
        ).status_code
        == 200
    )
    by_owner = {t.owner.username: t for t in open_tasks(case)}
    assert by_owner["county_aid"].on_hold and not by_owner["town_aid2"].on_hold
    # Nobody is told about the held task until it is their turn.
    assert not Notification.objects.filter(recipient=demo.county_aid, verb="task_created").exists()
    complete(officer, task, data={"approved_amount": "5"})
    assert CaseTask.objects.get(pk=by_owner["county_aid"].pk).on_hold  # parallel one still open
    complete(api(demo.town_aid2), by_owner["town_aid2"], data={"approved_amount": "5"})
    assert not CaseTask.objects.get(pk=by_owner["county_aid"].pk).on_hold
    assert Notification.objects.filter(recipient=demo.county_aid, verb="task_created").exists()
    complete(api(demo.county_aid), by_owner["county_aid"], data={"approved_amount": "5"})
    case.refresh_from_db()
    assert case.status == "approved"


def test_added_approver_rejecting_rejects(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    post(
        officer,
        f"/api/v1/tasks/{task.pk}/add-approver/",
        {"user": "town_aid2", "position": "parallel"},
    )
    added = [t for t in open_tasks(case) if t.owner_id == demo.town_aid2.pk][0]
    complete(api(demo.town_aid2), added, "reject", comment="no")
    case.refresh_from_db()
    assert case.status == "rejected"
    assert CaseTask.objects.get(pk=task.pk).status == "CANCELED"


def test_add_approver_refuses_bad_targets(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    url = f"/api/v1/tasks/{task.pk}/add-approver/"
    assert (
        post(officer, url, {"user": "worker1", "position": "before"}).status_code == 400
    )  # applicant
    assert (
        post(officer, url, {"user": "xs_aid1", "position": "before"}).status_code == 400
    )  # out of reach
    assert (
        post(officer, url, {"user": "chair1", "position": "after"}).status_code == 400
    )  # decided review
    response = post(officer, url, {"user": "county_aid", "position": "sideways"})
    assert response.status_code == 400 and "position" in response.json()["fields"]
    assert (
        post(api(demo.town_aid2), url, {"user": "county_aid", "position": "before"}).status_code
        == 403
    )


def test_send_back_to_the_applicant_and_continue(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    detail = officer.get(f"/api/v1/tasks/{task.pk}/").json()
    assert detail["send_back_to"] == ["applicant", "review"]
    assert (
        post(officer, f"/api/v1/tasks/{task.pk}/send-back/", {"to_step": "applicant"}).status_code
        == 400
    )
    sent = post(
        officer,
        f"/api/v1/tasks/{task.pk}/send-back/",
        {"to_step": "applicant", "comment": "add the bill"},
    )
    assert sent.status_code == 200
    [supplement] = open_tasks(case)
    assert supplement.flow_task.name == "supplement" and supplement.owner.username == "worker1"
    assert Notification.objects.filter(recipient=demo.worker1, verb="task_created").exists()
    inbox = api(demo.worker1).get("/api/v1/tasks/").json()["results"]
    assert [t["step"] for t in inbox] == ["supplement"]
    assert [d["value"] for d in inbox[0]["decisions"]] == ["resubmit"]
    resubmitted = complete(
        api(demo.worker1), supplement, "resubmit", data={"note": "bill attached"}
    )
    assert resubmitted.status_code == 200
    # Back at the step that asked, decided again.
    [again] = open_tasks(case)
    assert again.flow_task.name == "approval"
    assert complete(api(demo.town_aid2), again, data={"approved_amount": "9"}).status_code == 200
    case.refresh_from_db()
    assert case.status == "approved" and trail.verify(case).valid


def test_send_back_to_an_earlier_step_retakes_what_follows(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    bad = post(
        officer, f"/api/v1/tasks/{task.pk}/send-back/", {"to_step": "approval", "comment": "x"}
    )
    assert bad.status_code == 400 and "to_step" in bad.json()["fields"]
    assert (
        post(
            officer,
            f"/api/v1/tasks/{task.pk}/send-back/",
            {"to_step": "review", "comment": "recheck"},
        ).status_code
        == 200
    )
    [review] = open_tasks(case)
    assert review.flow_task.name == "review"
    complete(api(demo.chair1), review)
    [approval] = open_tasks(case)
    assert approval.flow_task.name == "approval" and approval.pk != task.pk
    complete(api(demo.town_aid1), approval, data={"approved_amount": "1"})
    case.refresh_from_db()
    assert case.status == "approved"
    assert actions(case).count("task.completed") == 3 and "task.sent_back" in actions(case)


def test_return_decision_without_route_goes_to_the_applicant(demo, api):
    """The modes flow declares no return route; the sample flow's `return` goes to review."""
    case, task = _at_approval(demo, api)
    complete(api(demo.town_aid1), task, "return", comment="recheck")
    assert open_tasks(case)[0].flow_task.name == "review"


def test_urge_rate_limit(demo, api, settings):
    case, task = _at_approval(demo, api)
    applicant = api(demo.worker1)
    first = post(applicant, f"/api/v1/tasks/{task.pk}/urge/", {"comment": "please"})
    assert first.status_code == 200
    assert Notification.objects.filter(recipient=demo.town_aid1, verb="task_urged").count() == 1
    again = post(applicant, f"/api/v1/tasks/{task.pk}/urge/")
    assert again.status_code == 429 and again.json()["code"] == "urge_limited"
    # An officer above may urge too; a colleague at the same level may not; a stranger sees nothing.
    assert post(api(demo.county_aid), f"/api/v1/tasks/{task.pk}/urge/").status_code == 200
    assert post(api(demo.town_aid2), f"/api/v1/tasks/{task.pk}/urge/").status_code == 403
    assert post(api(demo.worker4), f"/api/v1/tasks/{task.pk}/urge/").status_code == 404
    with time_machine.travel(timezone.now() + timedelta(hours=4, minutes=1)):
        assert post(applicant, f"/api/v1/tasks/{task.pk}/urge/").status_code == 200
    assert case.trail.filter(action="task.urged").count() == 3


def test_cc_gives_read_access_and_notifies(demo, api):
    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    assert api(demo.worker2).get(f"/api/v1/cases/{case.pk}/").status_code == 404
    bad = post(officer, f"/api/v1/tasks/{task.pk}/cc/", {"users": ["county_finance", "ghost"]})
    assert bad.status_code == 400 and "users" in bad.json()["fields"]
    # A copy is for people concerned officially: another member of the union is refused.
    bad = post(officer, f"/api/v1/tasks/{task.pk}/cc/", {"users": ["worker2"]})
    assert bad.status_code == 400 and "users" in bad.json()["fields"]
    assert api(demo.worker2).get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert (
        post(
            officer, f"/api/v1/tasks/{task.pk}/cc/", {"users": ["county_finance"], "comment": "fyi"}
        ).status_code
        == 200
    )
    assert api(demo.county_finance).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    assert Notification.objects.filter(recipient=demo.county_finance, verb="case_cc").count() == 1
    assert case.trail.get(action="case.cc").data == {"users": ["county_finance"]}


def test_withdraw_cancels_open_tasks_and_tells_holders(demo, api):
    case, task = _at_approval(demo, api)
    post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/")
    assert (
        post(api(demo.town_aid1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"}).status_code
        == 403
    )
    assert post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {}).status_code == 400
    response = post(
        api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "found a job"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "withdrawn" and body["open_tasks"] == []
    assert CaseTask.objects.get(pk=task.pk).status == "CANCELED"
    assert Notification.objects.filter(recipient=demo.town_aid1, verb="case_withdrawn").count() == 1
    again = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "again"})
    assert again.status_code == 409
    assert complete(api(demo.town_aid1), task, data={"approved_amount": "1"}).status_code == 409
    assert actions(case)[-1] == "case.withdrawn" and trail.verify(case).valid


def test_delegation_routes_new_named_tasks_to_the_delegate(demo, api):
    now = timezone.now()
    boss = api(demo.town_aid2)
    bad = post(
        boss,
        "/api/v1/delegations/",
        {
            "delegate": "xs_aid1",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
        },
    )
    assert bad.status_code == 400 and "delegate" in bad.json()["fields"]  # not within reach
    created = post(
        boss,
        "/api/v1/delegations/",
        {
            "delegate": "county_aid",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
            "reason": "training",
        },
    )
    assert created.status_code == 201, created.json()
    assert created.json()["active"] is True
    assert post(api(demo.worker1), "/api/v1/delegations/", {}).status_code in (400, 403)

    case = submit("modes_sample", demo.worker1)
    first, second = open_tasks(case, "investigation")
    complete(api(demo.town_aid1), first, data={"findings": "a"})
    # The town's other aid officer is away: county_aid covers the countersign slot for them.
    queue = api(demo.county_aid).get("/api/v1/tasks/?view=queue").json()
    assert [t["id"] for t in queue["results"]] == [second.pk]
    done = complete(api(demo.county_aid), second, data={"findings": "b"})
    assert done.status_code == 200 and done.json()["on_behalf_of"]["username"] == "town_aid2"
    event = case.trail.filter(action="task.completed").last()
    assert event.actor.username == "county_aid" and event.on_behalf_of.username == "town_aid2"
    # A named or-sign task for town_aid2 would go to the delegate, but county_aid is named in
    # the step too: one task per person in a round, so town_aid2's waits for them.
    owners = {
        (t.owner.username, t.on_behalf_of.username if t.on_behalf_of else None)
        for t in open_tasks(case, "any_one")
    }
    assert ("town_aid2", None) in owners and ("county_aid", None) in owners
    assert ("county_aid", "town_aid2") not in owners
    assert api(demo.town_aid2).get("/api/v1/delegations/").json()["count"] == 1
    revoked = post(boss, f"/api/v1/delegations/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["active"] is False


def test_steps_that_record_facts_cannot_send_back(demo, api):
    """A payment step (remittance) offers no send-back: going back would leave the payment."""
    import time_machine

    with time_machine.travel("2026-02-05 10:00 +0800", tick=False):
        created = post(
            api(demo.treasurer1),
            "/api/v1/fee-remittances/",
            {"period": "2026-01", "payroll_total": "1000", "headcount": 1, "member_count": 1},
        ).json()
        from cases.models import Case

        case = Case.objects.get(pk=created["id"])
        complete(api(demo.chair1), open_tasks(case)[0])
        [payment] = open_tasks(case)
        treasurer = api(demo.treasurer1)
        post(treasurer, f"/api/v1/tasks/{payment.pk}/claim/")
        assert treasurer.get(f"/api/v1/tasks/{payment.pk}/").json()["send_back_to"] == []
        response = post(
            treasurer,
            f"/api/v1/tasks/{payment.pk}/send-back/",
            {"to_step": "chair_approval", "comment": "x"},
        )
        assert response.status_code == 409


def test_the_applicants_supplement_is_only_resubmitted(demo, api, client):
    """补正 is the applicant's own step: they may not release it to a queue nobody can take it
    from (the case was stuck), CC their application to another member, transfer it, add
    approvers or send it back — through the API or the page, which offers none of them."""
    from cases.models import CaseCC, TrailEvent

    case, task = _at_approval(demo, api)
    officer = api(demo.town_aid1)
    post(officer, f"/api/v1/tasks/{task.pk}/claim/")
    post(officer, f"/api/v1/tasks/{task.pk}/send-back/", {"to_step": "applicant", "comment": "x"})
    [supplement] = open_tasks(case)
    applicant = api(demo.worker1)
    events = TrailEvent.objects.count()
    for path, body in [
        ("release", {}),
        ("cc", {"users": ["worker2"]}),
        ("transfer", {"to": "worker2"}),
        ("add-approver", {"user": "chair1", "position": "after"}),
        ("send-back", {"to_step": "applicant", "comment": "x"}),
    ]:
        refused = post(applicant, f"/api/v1/tasks/{supplement.pk}/{path}/", body)
        assert refused.status_code == 409, (path, refused.json())
        assert refused.json()["code"] == "not_offered_on_this_step", path
    assert TrailEvent.objects.count() == events
    assert not CaseCC.objects.filter(case=case).exists()
    assert CaseTask.objects.get(pk=supplement.pk).owner == demo.worker1

    client.force_login(demo.worker1)
    page = client.get(f"/tasks/{supplement.pk}/").content.decode()
    assert 'value="decide"' in page
    for op in ("transfer", "add_approver", "send_back", "cc", "release"):
        assert f'value="{op}"' not in page, op
    refused = client.post(f"/tasks/{supplement.pk}/", {"op": "release"})
    assert refused.status_code == 409
    assert CaseTask.objects.get(pk=supplement.pk).owner == demo.worker1


def test_a_delegation_longer_than_configured_is_refused_naming_the_end(demo, api):
    """A delegation covers an absence: one to 2099 is a mistyped year, refused with the end
    date named; the longest is configuration (approvals.delegation_max_days, 366)."""
    from datetime import date

    from approvals.models import Delegation
    from core.models import Parameter

    now = timezone.now()
    boss = api(demo.town_aid2)

    def ask(days):
        return post(
            boss,
            "/api/v1/delegations/",
            {
                "delegate": "town_aid1",
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=days)).isoformat(),
            },
        )

    refused = ask(27_000)
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["ends_at"]
    assert "366" in refused.json()["fields"]["ends_at"][0]
    Parameter.objects.create(
        key="approvals.delegation_max_days", value=30, effective_from=date(2000, 1, 1)
    )
    assert ask(31).status_code == 400
    assert not Delegation.objects.exists()
    assert ask(30).status_code == 201


def test_the_slots_of_a_round_offered_to_a_role_are_news_once(demo, api):
    """Two investigators at once: each town aid officer is told of the new step once, not once
    per slot with nothing to tell the two apart; a named task is told to its person."""
    case = submit("modes_sample", demo.worker1)
    assert len(open_tasks(case, "investigation")) == 2
    told = Notification.objects.filter(case=case, verb="task_created")
    per_person = {}
    for username in told.values_list("recipient__username", flat=True):
        per_person[username] = per_person.get(username, 0) + 1
    assert per_person == {"town_aid1": 1, "town_aid2": 1}


def test_the_applicant_is_not_told_of_their_own_step(demo, api):
    """A step the applicant acts on themselves (recording a payment) is not news to them."""
    from cases.models import Case

    response = post(
        api(demo.treasurer1),
        "/api/v1/fee-remittances/",
        {"period": "2026-01", "payroll_total": "100000.00", "headcount": 10, "member_count": 9},
    )
    assert response.status_code == 201, response.json()
    case = Case.objects.get(pk=response.json()["id"])
    complete(api(demo.chair1), open_tasks(case)[0])
    [payment] = open_tasks(case)
    before = Notification.objects.filter(recipient=demo.treasurer1, verb="step_decided").count()
    done = complete(
        api(demo.treasurer1),
        payment,
        "submit",
        data={"paid_amount": "800.00", "paid_on": "2026-02-10", "bank_reference": "ICBC-1"},
    )
    assert done.status_code == 200, done.json()
    assert (
        Notification.objects.filter(recipient=demo.treasurer1, verb="step_decided").count()
        == before
    )
