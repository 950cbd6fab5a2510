"""The content security policy in a real browser: the pages that run script (the language
switch, the application form, the process diagram, the dashboard charts) and the API docs
work with it, and the browser reports no violation. Also: the login lockout as a person
meets it."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect


@pytest.fixture
def violations(page):
    """CSP violations the browser reports, from the console and the DOM event."""
    seen = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => "
        "console.error('Refused to (CSP event) ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return seen


def test_pages_run_under_the_policy(seeded, live_server, login, page, violations):
    call_command("seed_cases", verbosity=0)
    login("worker1")
    # The language switch submits by script (no inline handler).
    page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.select_option("#language", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # The application form shows the education group only for education aid (hardship/apply.js).
    page.goto(f"{live_server.url}/hardship/apply/")
    education = page.locator("fieldset[data-show-when=education]")
    page.select_option("#id_aid_type", "festival")
    expect(education).to_be_hidden()
    page.select_option("#id_aid_type", "education")
    expect(education).to_be_visible()
    # Styles come from the stylesheet: the group has its border.
    assert education.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"

    # A case page with viewflow's diagram, coloured by the stylesheet.
    page.goto(f"{live_server.url}/cases/mine/")
    page.locator("main table.list a").first.click()
    diagram = page.locator(".chart svg")
    expect(diagram).to_be_visible()
    done = page.locator(".chart svg g.done rect.task, .chart svg g.done circle.event").first
    assert done.evaluate("e => getComputedStyle(e).fill") == "rgb(200, 230, 201)"

    login("county_auditor")
    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("main svg[data-chart]").first).to_be_visible()
    assert page.locator("main svg[data-chart]").first.bounding_box()["width"] > 200

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("unionflow API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    assert violations == []


def test_a_locked_out_person_reads_why(seeded, live_server, page, violations):
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(5):
        page.fill("#id_username", "worker1")
        page.fill("#id_password", "wrong-password")
        page.click("main button[type=submit]")
    expect(page.locator("[data-testid=locked-out]")).to_be_visible()
    expect(page.locator("[data-testid=locked-out] [role=alert]")).to_contain_text("15")
    page.click("[data-testid=locked-out] a")
    page.fill("#id_username", "worker1")
    page.fill("#id_password", "demo-pass-2026")
    page.click("main button[type=submit]")
    expect(page.locator("[data-testid=locked-out]")).to_be_visible()
    assert re.search(r"/accounts/login/", page.url)
    assert violations == []
