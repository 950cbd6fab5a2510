"""A remittance from declaration to verification, in the browser."""

import re

from playwright.sync_api import expect


def test_remittance_from_declaration_to_verification(seeded, live_server, login, logout, page):
    login("treasurer1")
    page.goto(f"{live_server.url}/remittance/declare/")
    page.fill("#id_period", "2026-01")
    page.fill("#id_payroll_total", "100000")
    page.fill("#id_headcount", "120")
    page.fill("#id_member_count", "100")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("JF-")
    case_url = page.url
    expect(page.locator("main")).to_contain_text("800.00")

    logout()
    login("chair1")
    page.goto(f"{live_server.url}/tasks/?view=queue")
    page.get_by_role(
        "link", name=re.compile("Approve the declaration|审核申报|批准申报|审批申报")
    ).first.click()
    page.click("[data-testid=claim]")
    page.check("input[name=decision][value=approve]")
    page.click("[data-testid=submit-decision]")
    expect(page.locator("[data-testid=open-steps] [data-step=payment]")).to_be_visible()

    logout()
    login("treasurer1")
    page.goto(case_url)
    page.locator("[data-testid=open-steps] a").first.click()
    page.fill("#id_data_paid_amount", "800.00")
    page.fill("#id_data_paid_on", "2026-02-10")
    page.fill("#id_data_bank_reference", "ICBC-001")
    page.click("[data-testid=submit-decision]")

    logout()
    login("town_finance")
    page.goto(f"{live_server.url}/tasks/?view=queue")
    page.locator("table.list a").first.click()
    page.click("[data-testid=claim]")
    page.check("input[name=decision][value=approve]")
    page.click("[data-testid=submit-decision]")
    expect(page.locator("[data-testid=case-status]")).to_have_class(re.compile(r"\bclosed\b"))
