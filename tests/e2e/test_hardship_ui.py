"""A hardship application in the browser: a member applies on a phone, the chair approves it
from the inbox, the case moves on to the home investigation, an auditor finds the trail
valid; an officer of another town gets 404 for the case."""

import re

from playwright.sync_api import expect

from tests.hardship.helpers import ric_number

PHONE = {"width": 375, "height": 812}


def test_member_applies_on_a_phone_and_the_chair_approves(seeded, live_server, login, logout, page):
    login("worker1", **PHONE)
    page.goto(f"{live_server.url}/apply/")
    page.click("main a[href='/hardship/apply/']")
    page.select_option("#id_aid_type", "festival")
    page.fill("#id_id_number", ric_number(1))
    page.fill("#id_household_size", "3")
    page.fill("#id_annual_income", "24000")
    page.fill("#id_rigid_expenses", "6000")
    page.fill("#id_requested_amount", "800")
    page.fill("#id_reason", "下岗，配偶患病，孩子上学。")
    # Nothing of the form is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("KN-")
    case_url = page.url
    assert re.search(r"/cases/\d+/$", case_url)
    expect(page.locator("[data-testid=proposed-category]")).to_be_visible()
    expect(page.locator("[data-testid=open-steps] [data-step=grassroots_review]")).to_be_visible()
    number = page.locator("h1").inner_text().split()[0]

    logout()
    login("chair1")
    page.goto(f"{live_server.url}/tasks/")
    page.click("nav.tabs a[href='?view=queue']")
    page.locator("table.list tr", has_text=number).locator("a").first.click()
    page.check("input[name=decision][value=approve]")
    page.click("main form:has(input[name=decision]) button[type=submit]")
    expect(page).to_have_url(case_url)
    steps = page.locator("[data-testid=open-steps]")
    expect(steps.locator("[data-step=investigation]").first).to_be_visible()
    expect(steps.locator("[data-step=grassroots_review]")).to_have_count(0)

    logout()
    login("county_auditor")
    page.goto(case_url)
    verification = page.locator("[data-testid=trail-verification]")
    expect(verification).to_have_class(re.compile(r"\bvalid\b"))

    logout()
    login("xs_aid1")
    response = page.goto(case_url)
    assert response.status == 404


def test_a_decision_form_sent_twice_decides_once(seeded, live_server, login, page, api):
    """The chair's phone sends the decision form twice — the first answer lost on a weak
    signal, the form sent again as it was: both sends end on the case page, and the step is
    decided once. (Without the form's one-time key the second send was refused.)"""
    from approvals.models import CaseTask
    from organizations.models import User
    from tests.hardship.helpers import submit

    case = submit(api, User.objects.get(username="worker1"))
    task = CaseTask.objects.get(case=case, flow_task__endswith=".grassroots_review")
    login("chair1", **PHONE)
    page.goto(f"{live_server.url}/tasks/{task.pk}/")
    page.check("input[name=decision][value=approve]")
    landed = page.evaluate(
        """async () => {
            const form = document.querySelector("main form:has(input[name=decision])");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const first = await send();
            const again = await send();
            const note = (await again.text()).includes("该表单此前已提交，未重复记录。");
            return [[first.status, first.url], [again.status, again.url], note];
        }"""
    )
    case_page = f"{live_server.url}/cases/{case.pk}/"
    # Both followed their redirect to the case page; the second says it was a repeat.
    assert landed == [[200, case_page], [200, case_page], True]
    assert case.trail.filter(action="task.completed", task_id=task.pk).count() == 1
    assert CaseTask.objects.filter(case=case, flow_task__endswith=".investigation").count() == 2
