"""A mediation case from intake to a signed and sealed agreement, in the browser: a member
files on a phone, the head accepts and assigns on the task page, the mediator records a
session and the agreement, the signatures are recorded and the head applies the seal."""

import os
import re
from datetime import timedelta

from django.utils.timezone import localdate
from playwright.sync_api import expect

SUBMIT_DECISION = "main form:has(input[name=op][value=decide]) button[type=submit]"
# Set to a directory to keep screenshots of the pages this test walks through.
SHOTS = os.environ.get("MEDIATION_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def open_step(page, case_url, step):
    """From the case page, the link of the open step (the task page)."""
    page.goto(case_url)
    page.locator(f"[data-testid=open-steps] li:has([data-step={step}]) a").click()
    expect(page.locator("input[name=op][value=decide]")).to_have_count(1)


def test_mediation_from_application_to_signed_agreement(seeded, live_server, login, logout, page):
    today = localdate()

    # A member applies in writing, on a phone.
    login("worker1", width=375, height=812)
    page.goto(f"{live_server.url}/mediation/apply/")
    expect(page.locator("#id_organization option:checked")).to_have_text("东湖镇总工会")
    expect(page.locator("#id_applicant_name")).to_have_value("杨工人")
    page.fill("#id_applicant_id_number", "110105199003071239")
    page.fill("#id_applicant_phone", "13800138000")
    page.fill("#id_employer_name", "东湖机械厂")
    # The credit code's shape is checked as it is typed (an O is not allowed).
    page.fill("#id_employer_credit_code", "91330100MA2B3C4D5O")
    expect(page.locator("#id_employer_credit_code-live-error")).not_to_be_empty()
    page.fill("#id_employer_credit_code", "91330100MA2B3C4D5N")
    expect(page.locator("#id_employer_credit_code-live-error")).to_be_empty()
    page.select_option("#id_category", "pay")
    page.fill("#id_claim_amount", "8600")
    page.fill("#id_facts", "拖欠2026年1月至2月工资。")
    page.fill("#id_known_on", (today - timedelta(days=10)).isoformat())
    shot(page, "mediation-apply-375")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("TJ-")
    expect(page.locator("[data-testid=mediation-panel]")).to_be_visible()
    expect(page.locator("[data-testid=acceptance-due]")).to_be_visible()
    case_url = page.url
    shot(page, "mediation-case-member-375")

    # The head accepts, then assigns mediator1, on the task page.
    logout()
    login("med_head")
    open_step(page, case_url, "acceptance")
    page.check("input[name=decision][value=approve]")
    page.click(SUBMIT_DECISION)
    expect(page.locator("[data-testid=open-steps] [data-step=assignment]")).to_be_visible()
    open_step(page, case_url, "assignment")
    expect(page.locator("[data-testid=mediator-candidates]")).to_contain_text("mediator1")
    page.fill("#id_data_mediator", "mediator1")
    shot(page, "mediation-assign-task")
    page.click(SUBMIT_DECISION)
    expect(page.locator("[data-testid=mediator]")).to_contain_text("郑调解")

    # The mediator records a session, then the agreement, on the mediation task page.
    logout()
    login("mediator1")
    open_step(page, case_url, "mediation")
    task_url = page.url
    form = page.locator("[data-testid=session-form]")
    form.locator("#id_session_attendees").fill("杨工人\n东湖机械厂 王经理")
    form.locator("#id_session_notes").fill("双方陈述，同意调解。")
    form.locator("button[type=submit]").click()
    page.wait_for_url(task_url)
    expect(page.locator("[data-testid=session]")).to_have_count(1)
    expect(page.locator("[data-testid=sessions]")).to_contain_text("东湖机械厂 王经理")
    page.select_option("#id_data_outcome", "agreement")
    page.fill("#id_data_terms", "被申请人于期限内向申请人支付拖欠工资8000元。")
    page.fill("#id_data_amount", "8000")
    page.fill("#id_data_performance_deadline", (today + timedelta(days=30)).isoformat())
    page.fill("#id_data_performance_method", "银行转账")
    shot(page, "mediation-outcome-task")
    page.click(SUBMIT_DECISION)
    status = page.locator("[data-testid=agreement-status]")
    expect(status).to_have_attribute("data-effective", "false")

    # The parties and the mediator sign the paper in the room; the mediator records each, on
    # a phone.
    page.set_viewport_size({"width": 375, "height": 812})
    expect(page.locator("[data-testid=sign-seal]")).to_have_count(0)
    for party in ("worker", "employer", "mediator"):
        page.click(f"[data-testid=sign-{party}]")
        expect(page.locator(f"tr[data-party={party}]")).to_have_attribute("data-signed", "true")
    expect(status).to_have_attribute("data-effective", "false")
    shot(page, "mediation-signatures")

    # The head applies the seal, last: the agreement is in effect.
    logout()
    login("med_head", width=375, height=812)
    page.goto(case_url)
    page.click("[data-testid=sign-seal]")
    expect(status).to_have_attribute("data-effective", "true")
    expect(status).to_contain_text(re.compile("In effect|生效"))
    expect(page.locator("tr[data-party=seal]")).to_have_attribute("data-signed", "true")
    expect(page.locator("[data-testid=open-steps] [data-step=performance]")).to_be_visible()
    shot(page, "mediation-effective-375")

    # The agreement's PDF downloads for the worker.
    logout()
    login("worker1", width=375, height=812)
    page.goto(case_url)
    expect(page.locator("[data-testid=agreement-status]")).to_have_attribute(
        "data-effective", "true"
    )
    href = page.locator("[data-testid=agreement-pdf]").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    shot(page, "mediation-case-worker-effective-375")
