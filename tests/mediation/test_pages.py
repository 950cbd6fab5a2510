"""The mediation pages: the application form (members and mediators), and the mediation
section of the case page — sessions, signatures and the seal, the effective agreement, the PDF
documents, recusal and extensions — plus the generic task page for the mediation steps."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils.timezone import localdate

from approvals.models import CaseTask
from cases.details import start_forms
from cases.mediation.models import MediationCase, Recusal
from cases.models import Case
from organizations.demo import XISHAN

from .helpers import (
    CREDIT_CODE,
    ID_NUMBER,
    accept,
    agreed,
    assign,
    filed,
    sign,
    task,
)

pytestmark = pytest.mark.django_db

APPLY = "/mediation/apply/"


@pytest.fixture
def browser():
    """browser(user) → a test client of its own, logged in as that user. The pages are read
    in English here so that the messages can be compared (the site defaults to Chinese)."""

    def login(user):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    return login


def form_body(demo, **overrides):
    data = {
        "organization": demo.org("东湖镇总工会").pk,
        "channel": "written",
        "applicant_name": "杨工人",
        "applicant_id_number": ID_NUMBER,
        "applicant_phone": "13800138000",
        "employer_name": "东湖机械厂",
        "employer_credit_code": CREDIT_CODE,
        "category": "pay",
        "claim_amount": "8600.00",
        "facts": "拖欠2026年1月至2月工资。",
        "known_on": (localdate() - timedelta(days=20)).isoformat(),
        "worker_count": "1",
        "representatives": "",
        "form_key": "k-1",
    }
    data.update(overrides)
    return data


def html(response):
    return unescape(response.content.decode())


def error_next_to(page, field_id):
    """The server's message rendered right under the field (core/field.html)."""
    found = re.search(rf'<p class="error" id="{field_id}-error">([^<]+)</p>', page)
    return found.group(1) if found else None


def by_testid(page, name):
    found = re.search(rf'<[^>]*data-testid="{name}"[^>]*>(.*?)</', page, re.S)
    return found.group(1).strip() if found else None


# --- the application form ---------------------------------------------------------------------


def test_member_sees_the_form_prefilled_with_live_checks(demo, browser):
    worker = demo.worker1
    worker.phone = "13900139000"
    worker.save()
    assert "mediation-apply" in {url for _title, url in start_forms(worker)}
    member = browser(worker)
    assert 'href="/mediation/apply/"' in member.get("/apply/").content.decode()
    page = html(member.get(APPLY))
    # The member's own profile fills their name and phone; they file in writing only.
    assert re.search(
        r'id="id_applicant_name"[^>]*value="杨工人"|value="杨工人"[^>]*id="id_applicant_name"', page
    )
    assert 'value="13900139000"' in page
    assert 'type="hidden" name="channel" value="written"' in page
    assert 'name="applicant_username"' not in page
    # The mediation organizations over the member's union: 东湖, not 西山.
    assert "东湖镇总工会" in page and XISHAN not in page
    # The browser checks the credit code's shape and the date as the member types.
    assert 'pattern="[0-9A-HJ-NP-RTUWXY]{18}"' in page
    assert f'max="{localdate().isoformat()}"' in page
    assert 'id="id_employer_credit_code-live-error"' in page
    assert 'inputmode="decimal"' in page and 'inputmode="tel"' in page


def test_bad_credit_code_is_shown_next_to_the_field_and_nothing_is_filed(demo, browser):
    member = browser(demo.worker1)
    response = member.post(APPLY, form_body(demo, employer_credit_code="91330100MA2B3C4D5X"))
    assert response.status_code == 400
    page = html(response)
    assert (
        error_next_to(page, "id_employer_credit_code") == "Not a valid unified social credit code."
    )
    assert error_next_to(page, "id_applicant_id_number") is None
    # What was typed stays in the form.
    assert 'value="东湖机械厂"' in page and "拖欠2026年1月至2月工资。" in page
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "field, value", [("applicant_phone", "-----"), ("representatives", "甲代表, -----")]
)
def test_a_phone_without_digits_is_refused_on_the_form(demo, browser, field, value):
    member = browser(demo.worker1)
    response = member.post(APPLY, form_body(demo, worker_count="10", **{field: value}))
    assert response.status_code == 400
    assert error_next_to(html(response), f"id_{field}")
    assert not Case.objects.exists()


def test_several_bad_fields_are_reported_together(demo, browser):
    member = browser(demo.worker1)
    response = member.post(
        APPLY,
        form_body(
            demo,
            applicant_id_number="110105199003071238",
            known_on=(localdate() + timedelta(days=1)).isoformat(),
            applicant_phone="call me",
        ),
    )
    page = html(response)
    assert error_next_to(page, "id_applicant_id_number")
    assert error_next_to(page, "id_known_on") == "Cannot be in the future."
    assert error_next_to(page, "id_applicant_phone")
    assert not Case.objects.exists()


def test_a_good_application_opens_the_case_page(demo, browser):
    member = browser(demo.worker1)
    response = member.post(APPLY, form_body(demo))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.process == "mediation" and case.applicant == demo.worker1
    page = html(member.get(response["Location"]))
    assert case.number in page and 'data-testid="mediation-panel"' in page
    record = MediationCase.objects.get(case=case)
    assert by_testid(page, "statutory-deadline").startswith(
        record.statutory_deadline.astimezone(record.received_at.tzinfo).strftime("%Y-%m-")
    )
    assert 'data-testid="acceptance-due"' in page
    assert 'data-testid="limitation-flag"' not in page


def test_a_second_send_of_the_same_form_files_nothing_more(demo, browser):
    member = browser(demo.worker1)
    first = member.post(APPLY, form_body(demo, form_key="same"))
    again = member.post(APPLY, form_body(demo, form_key="same"))
    assert Case.objects.count() == 1
    assert again.status_code == 302 and again["Location"] == first["Location"]
    # A new form (a new key) is a new application.
    member.post(APPLY, form_body(demo, form_key="other", employer_name="东湖纺织公司"))
    assert Case.objects.count() == 2


def test_late_application_is_flagged_plainly(demo, browser):
    member = browser(demo.worker1)
    response = member.post(
        APPLY, form_body(demo, known_on=(localdate() - timedelta(days=400)).isoformat())
    )
    page = html(member.get(response["Location"]))
    assert "limitation period (Art. 27)" in by_testid(page, "limitation-flag")


def test_collective_case_with_representatives_one_per_line(demo, browser):
    member = browser(demo.worker1)
    missing = member.post(APPLY, form_body(demo, worker_count="12"))
    assert "representatives" in error_next_to(html(missing), "id_representatives")
    bad = member.post(
        APPLY, form_body(demo, worker_count="12", representatives="王某, 13800000001\n李某，call")
    )
    assert error_next_to(html(bad), "id_representatives").startswith("Line 2")
    assert not Case.objects.exists()
    member.post(
        APPLY,
        form_body(
            demo, worker_count="12", representatives="王某, 13800000001\n\n李某，13800000002\n赵某"
        ),
    )
    record = MediationCase.objects.get()
    assert record.worker_count == 12
    assert record.representatives == [
        {"name": "王某", "phone": "13800000001"},
        {"name": "李某", "phone": "13800000002"},
        {"name": "赵某", "phone": ""},
    ]


def test_mediator_records_an_oral_application_for_a_worker(demo, browser):
    mediator = browser(demo.mediator1)
    page = html(mediator.get(APPLY))
    assert 'name="applicant_username"' in page and 'value="oral"' in page
    # Nothing of the mediator's own profile is put in the worker's fields.
    assert 'value="郑调解"' not in page
    unknown = mediator.post(APPLY, form_body(demo, channel="oral", applicant_username="nobody"))
    assert error_next_to(html(unknown), "id_applicant_username")
    response = mediator.post(
        APPLY, form_body(demo, channel="oral", applicant_username="worker2", form_key="k-2")
    )
    case = Case.objects.get()
    assert response["Location"] == f"/cases/{case.pk}/"
    assert case.applicant == demo.worker2 and case.submitted_by == demo.mediator1
    assert MediationCase.objects.get(case=case).channel == "oral"


def test_a_member_cannot_file_an_oral_application(demo, browser):
    member = browser(demo.worker1)
    # The form offers none; a forged post is refused with a message on the form.
    response = member.post(APPLY, form_body(demo, channel="oral"))
    assert response.status_code == 400 and 'id="id_channel-error"' in html(response)
    assert not Case.objects.exists()


def test_who_gets_the_form(demo, browser):
    assert "mediation-apply" not in {url for _title, url in start_forms(demo.town_aid1)}
    officer = browser(demo.town_aid1)
    assert 'data-testid="no-rooms"' in html(officer.get(APPLY))
    xishan_member = browser(demo.worker4)
    page = html(xishan_member.get(APPLY))
    assert XISHAN in page and "东湖镇总工会" not in page


# --- the case page panel ---------------------------------------------------------------------


@pytest.fixture
def mediating(demo, api):
    """A case accepted and assigned to mediator1."""
    case = filed(api, demo.worker1, demo)
    accept(api, demo, case)
    assign(api, demo, case)
    return case


def case_page(client, case):
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    return html(response)


def test_assigned_mediator_records_a_session(demo, browser, mediating):
    case = mediating
    worker_page = case_page(browser(demo.worker1), case)
    assert by_testid(worker_page, "mediator").startswith("郑调解")
    assert 'data-testid="session-form"' not in worker_page
    mediator = browser(demo.mediator1)
    page = case_page(mediator, case)
    assert 'data-testid="session-form"' in page
    # The date picker starts at today, in the form <input type=date> takes — also in Chinese,
    # whose own date format (2026/03/02) the browser would drop.
    chinese = Client()
    chinese.force_login(demo.mediator1)
    assert re.search(
        rf'type="date" name="date" value="{localdate().isoformat()}"',
        html(chinese.get(f"/cases/{case.pk}/")),
    )
    url = f"/mediation/cases/{case.pk}/sessions/"
    future = (localdate() + timedelta(days=1)).isoformat()
    bad = mediator.post(
        url, {"date": future, "attendees": "杨工人", "notes": "x", "form_key": "s1"}
    )
    assert bad.status_code == 400
    assert error_next_to(html(bad), "id_session_date") == "Cannot be in the future."
    # The page shown again sends its forms back to the case page, not to the action's address
    # (which, fetched, leads to the case page too).
    assert f'name="next" value="/cases/{case.pk}/"' in html(bad)
    assert f'name="next" value="{url}"' not in html(bad)
    assert mediator.get(url)["Location"] == f"/cases/{case.pk}/"
    assert MediationCase.objects.get(case=case).sessions == []
    empty = mediator.post(url, {"date": localdate().isoformat(), "attendees": " \n ", "notes": "x"})
    assert error_next_to(html(empty), "id_session_attendees")
    done = mediator.post(
        url,
        {
            "date": localdate().isoformat(),
            "attendees": "杨工人\n东湖机械厂 王经理\n",
            "notes": "双方陈述。",
            "form_key": "s1",
            "next": f"/cases/{case.pk}/",
        },
    )
    assert done.status_code == 302 and done["Location"] == f"/cases/{case.pk}/"
    [entry] = MediationCase.objects.get(case=case).sessions
    assert entry["attendees"] == ["杨工人", "东湖机械厂 王经理"]
    page = case_page(mediator, case)
    assert "东湖机械厂 王经理" in page and "双方陈述。" in page
    # Someone else (the other mediator) may not: no form, and a forged post is refused.
    other = browser(demo.mediator2)
    assert 'data-testid="session-form"' not in case_page(other, case)
    refused = other.post(url, {"date": localdate().isoformat(), "attendees": "x", "notes": "x"})
    assert refused.status_code == 403 and 'class="error"' in html(refused)
    assert len(MediationCase.objects.get(case=case).sessions) == 1


def test_a_page_out_of_reach_is_404(demo, browser, mediating):
    outsider = browser(demo.xs_mediator)
    assert outsider.get(f"/cases/{mediating.pk}/").status_code == 404
    response = outsider.post(
        f"/mediation/cases/{mediating.pk}/sessions/",
        {"date": localdate().isoformat(), "attendees": "x", "notes": "x"},
    )
    assert response.status_code == 404
    assert outsider.get(f"/api/v1/mediation-cases/{mediating.pk}/notice.pdf").status_code == 404


def sign_buttons(page):
    return set(re.findall(r'data-testid="sign-(\w+)"', page))


def test_signatures_in_order_then_the_seal_makes_the_agreement_effective(
    demo, api, browser, mediating
):
    case = mediating
    agreed(api, demo, case)
    mediator, head = browser(demo.mediator1), browser(demo.med_head)
    page = case_page(mediator, case)
    assert by_testid(page, "agreement-status").startswith("Not in effect yet.")
    assert sign_buttons(page) == {"worker", "employer", "mediator"}
    head_page = case_page(head, case)
    assert sign_buttons(head_page) == set()
    assert "The seal is applied last" in head_page
    url = f"/mediation/cases/{case.pk}/signatures/"
    # The seal before the signatures is refused, with the reason as a message.
    early = head.post(url, {"party": "seal"}, follow=True)
    assert "after both parties and the mediator have signed" in html(early)
    assert MediationCase.objects.get(case=case).signatures == {}
    for party in ("worker", "employer"):
        assert mediator.post(url, {"party": party}).status_code == 302
    # Signed on paper earlier: its time is kept; one in the future is refused next to the field.
    future = mediator.post(url, {"party": "mediator", "signed_at": "2999-01-01T10:00"})
    assert error_next_to(html(future), "id_signature_signed_at") == "Cannot be in the future."
    assert mediator.post(url, {"party": "mediator"}).status_code == 302
    page = case_page(mediator, case)
    assert sign_buttons(page) == set()
    assert re.search(r'data-party="mediator" data-signed="true"', page)
    head_page = case_page(head, case)
    assert sign_buttons(head_page) == {"seal"}
    assert head.post(url, {"party": "seal", "next": f"/cases/{case.pk}/"}).status_code == 302
    record = MediationCase.objects.get(case=case)
    assert record.effective_at is not None
    page = case_page(browser(demo.worker1), case)
    assert 'data-testid="agreement-status" data-effective="true"' in page
    assert by_testid(page, "agreement-status").startswith("✔ In effect since")
    assert "8000.00" in page and "银行转账" in page
    for party in ("worker", "employer", "mediator", "seal"):
        assert f'data-party="{party}" data-signed="true"' in page
    # The flow went on: the mediator now follows up the performance.
    assert CaseTask.objects.filter(
        case=case, flow_task__endswith=".performance", finished__isnull=True
    ).exists()


def test_pdf_links_download_for_those_in_reach(demo, api, browser, mediating):
    case = mediating
    agreed(api, demo, case)
    worker = browser(demo.worker1)
    page = case_page(worker, case)
    href = re.search(r'href="([^"]+)" data-testid="agreement-pdf"', page).group(1)
    response = worker.get(href)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    auditor = browser(demo.county_auditor)
    assert auditor.get(href).status_code == 200
    # The auditor reads; no control to act is offered.
    auditor_page = case_page(auditor, case)
    assert sign_buttons(auditor_page) == set() and "<form" not in auditor_page.split(
        'data-testid="mediation-panel"'
    )[1].split("</main>")[0].replace('action="/i18n/', "")


def test_notice_link_for_a_declined_application(demo, api, browser):
    case = filed(api, demo.worker1, demo)
    from .helpers import decide

    decide(
        api,
        demo.med_head,
        case,
        "acceptance",
        "reject",
        comment="不属于劳动争议",
        data={"decline_reason": "not_labor_dispute"},
    )
    worker = browser(demo.worker1)
    page = case_page(worker, case)
    href = re.search(r'href="([^"]+)" data-testid="notice-pdf"', page).group(1)
    response = worker.get(href)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Not a labor dispute" in page
    # The employer's copy is the room's to hand over: linked for its officers only.
    assert 'data-testid="notice-pdf-employer"' not in page
    for officer in (demo.med_head, demo.mediator1):
        officer_page = case_page(browser(officer), case)
        href = re.search(r'href="([^"]+)" data-testid="notice-pdf-employer"', officer_page)
        response = browser(officer).get(unescape(href.group(1)))
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert "party=employer" in href.group(1)


def test_recusal_asked_by_the_worker_and_decided_by_the_head(demo, browser, mediating):
    case = mediating
    worker = browser(demo.worker1)
    page = case_page(worker, case)
    assert 'data-testid="recusal-form"' in page
    assert 'type="hidden" name="party" value="worker"' in page  # the worker speaks for themselves
    url = f"/mediation/cases/{case.pk}/recusals/"
    empty = worker.post(url, {"party": "worker", "reason": " "})
    assert error_next_to(html(empty), "id_recusal_reason")
    assert worker.post(url, {"party": "worker", "reason": "调解员是厂长亲属", "form_key": "r"})
    recusal = Recusal.objects.get()
    assert 'data-testid="recusal-form"' not in case_page(worker, case)
    head = browser(demo.med_head)
    head_page = case_page(head, case)
    assert 'data-testid="recusal-grant"' in head_page and "调解员是厂长亲属" in head_page
    decide_url = f"/mediation/cases/{case.pk}/recusals/{recusal.pk}/decide/"
    refused = head.post(decide_url, {"decision": "refuse", "comment": ""})
    assert error_next_to(html(refused), "id_recusal_decision_comment") == "A reason is required."
    assert head.post(decide_url, {"decision": "grant", "comment": "属实"}).status_code == 302
    recusal.refresh_from_db()
    assert recusal.status == "granted"
    # Back to assignment, with the head shown who may mediate now (not the recused mediator).
    task(case, "assignment")
    head_page = case_page(head, case)
    candidates = by_testid(head_page, "mediator-candidates")
    assert head_page.count("has been recused") == 1 and "mediator2" in head_page
    assert candidates is not None


def test_recusal_form_for_a_worker_whose_application_was_recorded(demo, api, browser):
    case = filed(api, demo.mediator2, demo, channel="oral", applicant_username="worker3")
    accept(api, demo, case)
    assign(api, demo, case)
    worker = browser(demo.worker3)
    page = case_page(worker, case)
    assert 'data-testid="recusal-form"' in page
    assert 'type="hidden" name="party" value="worker"' in page
    url = f"/mediation/cases/{case.pk}/recusals/"
    response = worker.post(url, {"party": "worker", "reason": "调解员是厂长亲属", "form_key": "w3"})
    assert response.status_code == 302
    assert Recusal.objects.get(case=case).requested_by == demo.worker3


def test_the_head_sees_a_name_other_than_the_account(demo, api, browser):
    other = filed(api, demo.worker2, demo, applicant_name="李四")
    own = filed(api, demo.worker1, demo)
    head = browser(demo.med_head)
    assert 'data-testid="name-differs"' in case_page(head, other)
    assert "李四" in by_testid(case_page(head, other), "name-differs")
    assert 'data-testid="name-differs"' not in case_page(head, own)


def test_extension_needs_both_consents(demo, browser, mediating):
    case = mediating
    mediator = browser(demo.mediator1)
    assert 'data-testid="extension-form"' in case_page(mediator, case)
    assert 'data-testid="extension-form"' not in case_page(browser(demo.worker1), case)
    url = f"/mediation/cases/{case.pk}/extensions/"
    refused = html(mediator.post(url, {"days": "10", "form_key": "e"}))
    assert error_next_to(refused, "id_extension_worker_consent")
    assert error_next_to(refused, "id_extension_employer_consent")
    before = MediationCase.objects.get(case=case).statutory_deadline
    ok = mediator.post(
        url,
        {
            "worker_consent": "on",
            "employer_consent": "on",
            "days": "10",
            "note": "双方书面同意",
            "form_key": "e",
        },
    )
    assert ok.status_code == 302
    after = MediationCase.objects.get(case=case).statutory_deadline
    assert (after - before).days == 10
    page = case_page(mediator, case)
    assert "双方书面同意" in page and after.astimezone(before.tzinfo).strftime("%Y-%m-%d") in page


# --- the steps on the generic task page ---------------------------------------------------------


def test_the_mediation_steps_are_decided_on_the_task_page(demo, api, browser):
    case = filed(api, demo.worker1, demo)
    head = browser(demo.med_head)
    acceptance = task(case, "acceptance")
    page = html(head.get(f"/tasks/{acceptance.pk}/"))
    assert 'name="data_decline_reason"' in page and 'data-testid="mediation-panel"' in page
    done = head.post(f"/tasks/{acceptance.pk}/", {"op": "decide", "decision": "approve"})
    assert done.status_code == 302

    assignment = task(case, "assignment")
    page = html(head.get(f"/tasks/{assignment.pk}/"))
    assert 'name="data_mediator"' in page
    assert "mediator1" in by_testid(page, "mediator-candidates")
    wrong = head.post(
        f"/tasks/{assignment.pk}/",
        {"op": "decide", "decision": "submit", "data_mediator": "xs_mediator"},
    )
    assert wrong.status_code == 400 and "Not a mediator of" in html(wrong)
    head.post(
        f"/tasks/{assignment.pk}/",
        {"op": "decide", "decision": "submit", "data_mediator": "mediator1"},
    )
    assert MediationCase.objects.get(case=case).mediator == demo.mediator1

    mediator = browser(demo.mediator1)
    mediation = task(case, "mediation")
    page = html(mediator.get(f"/tasks/{mediation.pk}/"))
    # The session form is on the task page too, and comes back to it.
    assert 'data-testid="session-form"' in page
    assert f'name="next" value="/tasks/{mediation.pk}/"' in page
    back = mediator.post(
        f"/mediation/cases/{case.pk}/sessions/",
        {
            "date": localdate().isoformat(),
            "attendees": "杨工人",
            "notes": "第一次调解。",
            "next": f"/tasks/{mediation.pk}/",
        },
    )
    assert back["Location"] == f"/tasks/{mediation.pk}/"
    deadline = (localdate() + timedelta(days=20)).isoformat()
    missing = mediator.post(
        f"/tasks/{mediation.pk}/",
        {
            "op": "decide",
            "decision": "submit",
            "data_outcome": "agreement",
            "data_terms": "支付工资",
        },
    )
    assert missing.status_code == 400 and "Required for an agreement." in html(missing)
    done = mediator.post(
        f"/tasks/{mediation.pk}/",
        {
            "op": "decide",
            "decision": "submit",
            "data_outcome": "agreement",
            "data_terms": "支付工资",
            "data_amount": "8000",
            "data_performance_deadline": deadline,
            "data_performance_method": "银行转账",
        },
    )
    assert done.status_code == 302
    task(case, "signing")
    page = case_page(mediator, case)
    assert sign_buttons(page) == {"worker", "employer", "mediator"}
    assert sign(api, demo.mediator1, case, "worker").status_code == 201
