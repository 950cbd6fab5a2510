"""Server-rendered pages: each renders for the people it is for, checks reach on the server
(404 out of reach), and acts through the same services as the API."""

import re

import pytest

from cases.models import Case
from tests.helpers import open_tasks, submit


def test_login_page_and_redirects(db, client):
    assert client.get("/").status_code == 302
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()


def test_home_sends_officers_to_tasks_and_members_to_their_cases(demo, browser_client):
    assert browser_client(demo.chair1).get("/")["Location"] == "/tasks/"
    assert browser_client(demo.worker1).get("/")["Location"] == "/cases/mine/"
    # Auditors never act on a task: they start at the reports.
    assert browser_client(demo.county_auditor).get("/")["Location"] == "/reports/"


def test_the_menu_offers_only_what_its_reader_can_use(demo, browser_client):
    """No task list or delegation for auditors (they never act); no "Apply" for those who can
    start nothing (it opened an empty page)."""

    def menu(user):
        html = browser_client(user).get("/notifications/").content.decode()
        return html[html.find("<nav") : html.find("</nav>")]

    auditor = menu(demo.county_auditor)
    assert 'href="/tasks/"' not in auditor and 'href="/delegations/"' not in auditor
    assert 'href="/reports/"' in auditor and 'href="/apply/"' not in auditor
    officer = menu(demo.town_aid1)
    assert 'href="/tasks/"' in officer and 'href="/apply/"' not in officer
    assert browser_client(demo.town_aid1).get("/apply/").status_code == 200  # still answers
    assert 'href="/apply/"' in menu(demo.worker1) and 'href="/apply/"' in menu(demo.chair1)


def test_officer_decides_from_the_task_page(demo, browser_client):
    case = submit("sample", demo.worker1)
    chair = browser_client(demo.chair1)
    queue = chair.get("/tasks/?view=queue")
    assert case.number in queue.content.decode()
    [task] = open_tasks(case)
    page = chair.get(f"/tasks/{task.pk}/")
    assert page.status_code == 200 and 'value="claim"' in page.content.decode()
    assert chair.post(f"/tasks/{task.pk}/", {"op": "claim"}).status_code == 302
    refused = chair.post(f"/tasks/{task.pk}/", {"op": "decide", "decision": "reject"})
    # A reject needs a comment: the service's refusal re-shows the form with its 400.
    assert refused.status_code == 400 and 'class="error"' in refused.content.decode()
    done = chair.post(
        f"/tasks/{task.pk}/", {"op": "decide", "decision": "approve", "data_note": "ok"}
    )
    assert done.status_code == 302 and done["Location"] == f"/cases/{case.pk}/"
    assert open_tasks(case)[0].flow_task.name == "approval"


def test_a_decision_sent_twice_is_recorded_once_and_both_go_to_the_case(demo, browser_client):
    """The officer taps "Submit decision" twice on a slow phone: the second send of the same
    form is not a "task already closed" refusal, it goes where the first went."""
    from cases.models import TrailEvent

    case = submit("sample", demo.worker1)
    chair = browser_client(demo.chair1)
    [task] = open_tasks(case)
    page = chair.get(f"/tasks/{task.pk}/").content.decode()
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', page).group(1)
    body = {"op": "decide", "decision": "approve", "data_note": "ok", "form_key": key}
    first = chair.post(f"/tasks/{task.pk}/", body)
    events = TrailEvent.objects.count()
    again = chair.post(f"/tasks/{task.pk}/", body)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/cases/{case.pk}/"
    assert TrailEvent.objects.count() == events
    assert [t.flow_task.name for t in open_tasks(case)] == ["approval"]
    # Without the key, a second send is refused as the API refuses it: the task is closed.
    stale = chair.post(f"/tasks/{task.pk}/", {**body, "form_key": ""})
    assert stale.status_code == 409 and TrailEvent.objects.count() == events


def test_a_claim_lost_to_a_colleague_shows_the_page_with_409(demo, browser_client):
    """Both town officers had the task page open; the second one's claim is refused with the
    task as it is now (claimed, not on offer) and the reason, and nothing is written."""
    from django.test import Client

    from cases.models import TrailEvent

    case = submit("sample", demo.worker1)
    chair = browser_client(demo.chair1)
    [task] = open_tasks(case)
    chair.post(f"/tasks/{task.pk}/", {"op": "decide", "decision": "approve", "data_note": "ok"})
    [task] = open_tasks(case)
    first, second = Client(), Client()
    first.force_login(demo.town_aid1)
    second.force_login(demo.town_aid2)
    assert 'value="claim"' in second.get(f"/tasks/{task.pk}/").content.decode()
    assert first.post(f"/tasks/{task.pk}/", {"op": "claim"}).status_code == 302
    events = TrailEvent.objects.count()
    lost = second.post(f"/tasks/{task.pk}/", {"op": "claim"})
    html = lost.content.decode()
    assert lost.status_code == 409 and 'class="error"' in html
    assert 'value="claim"' not in html and demo.town_aid1.display_name in html
    assert TrailEvent.objects.count() == events
    # Deciding it from the stale form is refused the same way.
    stale = second.post(
        f"/tasks/{task.pk}/", {"op": "decide", "decision": "approve", "data_approved_amount": "1"}
    )
    assert stale.status_code == 409 and 'class="error"' in stale.content.decode()
    assert TrailEvent.objects.count() == events


def test_case_page_shows_trail_verification_and_diagram(demo, browser_client):
    case = submit("sample", demo.worker1)
    page = browser_client(demo.county_auditor).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="trail-verification"' in page and "verify valid" in page
    assert "<svg" in page
    # Auditors have no write controls anywhere on the case.
    assert 'name="op"' not in page and "withdraw" not in page.split("<main")[1].lower()


def test_out_of_reach_case_is_404(demo, browser_client):
    case = submit("sample", demo.worker1)
    officer = browser_client(demo.xs_aid1)
    assert officer.get(f"/cases/{case.pk}/").status_code == 404
    task = open_tasks(case)[0]
    assert officer.get(f"/tasks/{task.pk}/").status_code == 404


def test_member_sees_and_withdraws_own_case(demo, browser_client):
    case = submit("sample", demo.worker1)
    member = browser_client(demo.worker1)
    assert case.number in member.get("/cases/mine/").content.decode()
    assert member.post(f"/cases/{case.pk}/withdraw/", {"reason": "solved"}).status_code == 302
    assert Case.objects.get(pk=case.pk).status == "withdrawn"


def test_every_page_renders(demo, browser_client):
    for user in (
        demo.worker1,
        demo.chair1,
        demo.town_aid1,
        demo.county_auditor,
        demo.treasurer1,
        demo.county_finance,
    ):
        client = browser_client(user)
        for url in (
            "/tasks/",
            "/tasks/?view=queue",
            "/tasks/?view=archive",
            "/cases/mine/",
            "/cases/",
            "/apply/",
            "/notifications/",
            "/delegations/",
            "/remittance/overview/",
        ):
            response = client.get(url)
            # The remittance overview is for officers and auditors; a member is refused.
            expected = 403 if (user, url) == (demo.worker1, "/remittance/overview/") else 200
            assert response.status_code == expected, (user.username, url)


def test_bulk_claim(demo, browser_client):
    cases = [submit("sample", demo.worker1), submit("sample", demo.worker2)]
    chair = browser_client(demo.chair1)
    tasks = [open_tasks(c)[0].pk for c in cases]
    assert chair.post("/tasks/claim/", {"task": tasks}).status_code == 302
    inbox = chair.get("/tasks/").content.decode()
    assert all(c.number in inbox for c in cases)


def test_remittance_declaration_form(demo, browser_client):
    import time_machine

    treasurer = browser_client(demo.treasurer1)
    with time_machine.travel("2026-02-05 10:00 +0800", tick=False):
        bad = treasurer.post(
            "/remittance/declare/",
            {"period": "2026-01", "payroll_total": "0", "headcount": "1", "member_count": "1"},
        )
        assert bad.status_code == 400 and 'class="error"' in bad.content.decode()
        ok = treasurer.post(
            "/remittance/declare/",
            {
                "period": "2026-01",
                "payroll_total": "100000",
                "headcount": "10",
                "member_count": "8",
            },
        )
        assert ok.status_code == 302
    case = Case.objects.get()
    page = treasurer.get(ok["Location"]).content.decode()
    assert case.number in page and "800.00" in page


def _claimed_approval(demo, browser_client):
    case = submit("sample", demo.worker1)
    from approvals import services

    services.complete(task_id=open_tasks(case)[0].pk, user=demo.chair1, decision="approve")
    [task] = open_tasks(case)
    officer = browser_client(demo.town_aid1)
    officer.post(f"/tasks/{task.pk}/", {"op": "claim"})
    return case, task, officer


def test_every_operation_from_the_task_page(demo, browser_client):
    from approvals.models import CaseTask
    from cases.models import CaseCC

    case, task, officer = _claimed_approval(demo, browser_client)
    page = officer.get(f"/tasks/{task.pk}/").content.decode()
    for op in ("transfer", "add_approver", "send_back", "cc", "release"):
        assert f'value="{op}"' in page
    # CC: to an officer over the case, who is told; a member is refused, named.
    assert (
        officer.post(f"/tasks/{task.pk}/", {"op": "cc", "users": "county_finance"}).status_code
        == 302
    )
    assert CaseCC.objects.filter(case=case, user=demo.county_finance).exists()
    refused = officer.post(f"/tasks/{task.pk}/", {"op": "cc", "users": "worker2"})
    assert refused.status_code == 400 and "worker2" in refused.content.decode()
    assert not CaseCC.objects.filter(case=case, user=demo.worker2).exists()
    # Add approver with a bad name: the error is shown next to the field.
    bad = officer.post(
        f"/tasks/{task.pk}/", {"op": "add_approver", "user": "nobody", "position": "before"}
    )
    assert bad.status_code == 400 and 'id="id_user-error"' in bad.content.decode()
    # Transfer to a colleague.
    assert (
        officer.post(f"/tasks/{task.pk}/", {"op": "transfer", "to": "town_aid2"}).status_code == 302
    )
    assert CaseTask.objects.get(pk=task.pk).owner == demo.town_aid2
    # The colleague sends it back to the applicant.
    colleague = browser_client(demo.town_aid2)
    sent = colleague.post(
        f"/tasks/{task.pk}/", {"op": "send_back", "to_step": "applicant", "comment": "add bill"}
    )
    assert sent.status_code == 302
    assert open_tasks(case)[0].flow_task.name == "supplement"
    # The applicant finds the supplement waiting for them on their cases page.
    [supplement] = open_tasks(case)
    mine = browser_client(demo.worker1).get("/cases/mine/").content.decode()
    assert f'href="/tasks/{supplement.pk}/"' in mine


def test_urge_from_the_task_page(demo, browser_client):
    case, task, _officer = _claimed_approval(demo, browser_client)
    applicant = browser_client(demo.worker1)
    page = applicant.get(f"/tasks/{task.pk}/").content.decode()
    assert 'value="urge"' in page and 'value="decide"' not in page
    assert (
        applicant.post(f"/tasks/{task.pk}/", {"op": "urge", "comment": "please"}).status_code == 302
    )
    again = applicant.post(f"/tasks/{task.pk}/", {"op": "urge"})
    assert again.status_code == 429 and 'class="error"' in again.content.decode()


def test_delegation_page(demo, browser_client):
    from approvals.models import Delegation

    officer = browser_client(demo.town_aid2)
    response = officer.post(
        "/delegations/",
        {
            "delegate": "county_aid",
            "starts_at": "2030-01-01T08:00",
            "ends_at": "2030-01-10T18:00",
            "reason": "培训",
        },
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    # The form sent twice (its one-time key): one delegation, the repeat goes to the list.
    page = officer.get("/delegations/").content.decode()
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', page).group(1)
    body = {
        "delegate": "county_aid",
        "starts_at": "2031-01-01T08:00",
        "ends_at": "2031-01-10T18:00",
        "form_key": key,
    }
    first, again = officer.post("/delegations/", body), officer.post("/delegations/", body)
    assert first.status_code == again.status_code == 302 and again["Location"] == "/delegations/"
    assert Delegation.objects.count() == 2
    assert officer.post("/delegations/", {"revoke": delegation.pk}).status_code == 302
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None


@pytest.mark.tampers_trail
def test_broken_trail_is_shown_plainly(demo, browser_client):
    from django.db import connection

    case = submit("sample", demo.worker1)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("ALTER TABLE cases_trailevent DISABLE TRIGGER cases_trailevent_append_only")
        else:
            cur.execute("DROP TRIGGER cases_trailevent_no_update")
        cur.execute(
            "UPDATE cases_trailevent SET comment = 'forged' WHERE case_id = %s AND seq = 2",
            [case.pk],
        )
    page = browser_client(demo.county_auditor).get(f"/cases/{case.pk}/").content.decode()
    assert "verify broken" in page and "2" in page.split("verify broken")[1][:200]


def test_pages_that_only_show_refuse_a_post_with_405(demo, browser_client):
    case = submit("sample", demo.worker1)
    task = open_tasks(case)[0]
    pages = [
        "/",
        "/apply/",
        "/tasks/",
        "/cases/",
        "/cases/mine/",
        f"/cases/{case.pk}/",
        "/hardship/notices/",
        "/remittance/overview/",
        "/notifications/",
        "/reports/",
        "/reports/cases/",
        "/reports/summary.csv",
        "/reports/yearly.pdf",
        f"/reports/cases/{case.pk}/trail.pdf",
    ]
    chair = browser_client(demo.chair1)
    refused = {url: chair.post(url, {"decision": "approve"}).status_code for url in pages}
    assert refused == dict.fromkeys(pages, 405)
    # Said on a page of the site, which tells where to go; the Allow header stays.
    response = chair.post("/tasks/")
    assert 'data-testid="method-not-allowed"' in response.content.decode()
    assert response["Allow"] == "GET, HEAD"
    # A form's address opened as a link: the same page.
    opened = chair.get(f"/cases/{case.pk}/withdraw/")
    assert (
        opened.status_code == 405 and 'data-testid="method-not-allowed"' in opened.content.decode()
    )
    # A page that takes a form still does.
    assert chair.get(f"/tasks/{task.pk}/").status_code == 200
    task.refresh_from_db()
    assert task.status == "NEW"


def test_a_form_key_no_rendered_form_carries_is_refused_not_a_500(demo, browser_client):
    """Found by the page fuzzing: a NUL in the key (sent multipart, which the NUL middleware
    leaves to the forms) reached the database."""
    from cases.models import TrailEvent

    case = submit("sample", demo.worker1)
    chair = browser_client(demo.chair1)
    [task] = open_tasks(case)
    events = TrailEvent.objects.count()
    for key in ("a\x00b", "x" * 65, "键"):
        body = {"op": "decide", "decision": "approve", "data_note": "ok", "form_key": key}
        response = chair.post(f"/tasks/{task.pk}/", body)  # multipart
        assert response.status_code == 400, key
        errors = re.search(
            r'<div class="errors" role="alert">(.*?)</div>', response.content.decode()
        )
        assert errors and ("请刷新页面后重新提交表单。" in errors.group(1) or "\x00" in key), key
    assert TrailEvent.objects.count() == events


def test_a_step_field_missing_or_out_of_range_is_named_next_to_the_field(demo, browser_client):
    """Approving needs the step's own fields (here the approved amount): left empty, or out of
    range, the task page comes back with 400 and the reason next to the field — it was a 500
    (the service's DRF ValidationError was not a domain error)."""
    from cases.models import TrailEvent

    case, task, officer = _claimed_approval(demo, browser_client)
    page = officer.get(f"/tasks/{task.pk}/").content.decode()
    assert re.search(r'id="id_data_approved_amount_helptext">[^<]*同意时必填', page)
    events = TrailEvent.objects.count()
    for amount in ("", "99999999999999"):
        refused = officer.post(
            f"/tasks/{task.pk}/",
            {"op": "decide", "decision": "approve", "data_approved_amount": amount},
        )
        assert refused.status_code == 400
        html = refused.content.decode()
        assert re.search(r'id="id_data_approved_amount-error">[^<]+<', html), html
        assert TrailEvent.objects.count() == events
    assert open_tasks(case)[0].pk == task.pk


def test_a_decision_on_a_task_a_colleague_closed_meanwhile_says_why(demo, browser_client):
    """Both town officers filled in the same unclaimed task; the second one's decision is
    refused with the reason on top of the page (the form it came from is no longer shown, so
    an error put on it was never seen)."""
    from django.test import Client

    from approvals import services

    case = submit("sample", demo.worker1)
    services.complete(task_id=open_tasks(case)[0].pk, user=demo.chair1, decision="approve")
    [task] = open_tasks(case)
    first, second = Client(), Client()
    first.force_login(demo.town_aid1)
    second.force_login(demo.town_aid2)
    assert 'value="decide"' in second.get(f"/tasks/{task.pk}/").content.decode()
    body = {"op": "decide", "decision": "approve", "data_approved_amount": "80"}
    assert first.post(f"/tasks/{task.pk}/", body).status_code == 302
    stale = second.post(f"/tasks/{task.pk}/", body)
    html = stale.content.decode()
    assert stale.status_code == 409
    assert 'value="decide"' not in html
    assert re.search(r'<ul class="messages"><li class="error" role="status">[^<]*\S', html), html


def test_my_cases_names_a_countersigned_step_once(demo, browser_client):
    """Two officers investigate at once: the applicant sees the step once, not once per
    officer with nothing to tell them apart."""
    case = submit("modes_sample", demo.worker1)
    assert len(open_tasks(case, "investigation")) == 2
    html = browser_client(demo.worker1).get("/cases/mine/").content.decode()
    row = html[html.find(case.number) :]
    row = row[: row.find("</tr>")]
    assert row.count("Investigation") == 1, row


def test_a_user_changes_their_password_and_their_api_tokens_go(demo, client, api):
    from rest_framework.authtoken.models import Token

    from organizations.demo import DEMO_PASSWORD

    token, _created = Token.objects.get_or_create(user=demo.worker1)
    client.force_login(demo.worker1)
    menu = client.get("/cases/mine/").content.decode()
    assert 'href="/accounts/password/"' in menu
    page = client.get("/accounts/password/")
    assert page.status_code == 200 and "修改密码" in page.content.decode()
    wrong = client.post(
        "/accounts/password/",
        {
            "old_password": "not-my-password",
            "new_password1": "Lotus-pond-2027",
            "new_password2": "Lotus-pond-2027",
        },
    )
    assert wrong.status_code == 400 and 'id="id_old_password-error"' in wrong.content.decode()
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": DEMO_PASSWORD,
            "new_password1": "Lotus-pond-2027",
            "new_password2": "Lotus-pond-2027",
        },
    )
    assert changed.status_code == 302
    landed = client.get(changed["Location"], follow=True)
    assert landed.status_code == 200 and "密码已修改。" in landed.content.decode()  # signed in
    demo.worker1.refresh_from_db()
    assert demo.worker1.check_password("Lotus-pond-2027")
    assert not Token.objects.filter(key=token.key).exists()
    stale = client.__class__().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert stale.status_code == 401
