"""Fee remittance pages: who is offered the declaration, what a person who may not declare is
told, how a payment that differs from the upper share due shows where it is verified and on
the overview, and which periods a declaration accepts.

Chinese texts asserted here are msgids already in the catalog; the new messages are checked by
their figures, fields, status codes and data-testid hooks, so these tests pass before the
catalog is updated."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from cases.models import Case
from cases.remittance import selectors
from cases.remittance.models import Remittance
from organizations.models import Membership, Role
from tests.helpers import complete, open_tasks, post

SHANGHAI = ZoneInfo("Asia/Shanghai")
DECLARATION = {
    "period": "2026-01",
    "payroll_total": "100000.00",  # fund 2000.00, upper share 800.00
    "headcount": "120",
    "member_count": "100",
}


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


def _declared_and_paid(demo, api, amount, paid_on="2026-02-10"):
    """treasurer1 declares 2026-01 (upper share 800.00), chair1 approves, treasurer1 records a
    payment of `amount`: the case waits for town_finance's verification."""
    case_id = post(api(demo.treasurer1), "/api/v1/fee-remittances/", DECLARATION).json()["id"]
    case = Case.objects.get(pk=case_id)
    assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    [payment] = open_tasks(case, "payment")
    paid = complete(
        api(demo.treasurer1),
        payment,
        "submit",
        data={"paid_amount": amount, "paid_on": paid_on, "bank_reference": "ICBC-0001"},
    )
    assert paid.status_code == 200, paid.json()
    [verification] = open_tasks(case, "verification")
    return case, verification


# --- 6a: the declare button only for those who may declare -------------------------------


@pytest.mark.parametrize("username", ["town_finance", "county_finance", "chair1"])
def test_overview_offers_no_declaration_to_those_who_may_not_declare(
    demo, browser_client, username
):
    page = browser_client(demo.user(username)).get("/remittance/overview/?period=2026-01")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="declare"' not in html and "/remittance/declare/" not in html


def test_overview_offers_the_declaration_to_a_treasurer(demo, browser_client):
    html = (
        browser_client(demo.treasurer1).get("/remittance/overview/?period=2026-01").content.decode()
    )
    assert 'data-testid="declare"' in html and 'href="/remittance/declare/"' in html


def test_apply_page_and_overview_agree_on_who_may_declare(demo, browser_client):
    for username in ("treasurer1", "town_finance", "county_finance", "chair1", "worker1"):
        client = browser_client(demo.user(username))
        offered_on_apply = "/remittance/declare/" in client.get("/apply/").content.decode()
        on_overview = "/remittance/declare/" in (
            client.get("/remittance/overview/").content.decode()
        )
        assert offered_on_apply == on_overview == (username == "treasurer1"), username


# --- 6b: a person who may not declare is told why, before filling anything in --------------


@pytest.mark.parametrize("username", ["town_finance", "county_finance", "chair1"])
def test_the_form_is_refused_with_the_reason_when_opened(demo, browser_client, username):
    page = browser_client(demo.user(username)).get("/remittance/declare/")
    assert page.status_code == 403
    html = page.content.decode()
    assert 'data-testid="declare-refusal"' in html and 'role="alert"' in html
    assert 'name="payroll_total"' not in html  # nothing to fill in
    assert "此字段为必填项" not in html


@pytest.mark.parametrize("username", ["town_finance", "chair1"])
def test_a_filled_in_form_is_refused_with_403_and_the_reason(demo, browser_client, username):
    with at(2026, 2, 5, 10):
        page = browser_client(demo.user(username)).post("/remittance/declare/", DECLARATION)
    assert page.status_code == 403
    html = page.content.decode()
    assert 'data-testid="declare-refusal"' in html and "此字段为必填项" not in html
    assert not Case.objects.exists()


def test_the_api_says_why_a_non_treasurer_may_not_declare(demo, api):
    with at(2026, 2, 5, 10):
        response = post(api(demo.town_finance), "/api/v1/fee-remittances/", DECLARATION)
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_treasurer"
    assert not Case.objects.exists()


def test_a_treasurer_of_two_unions_chooses_the_union(demo, browser_client):
    textiles = demo.org("东湖纺织公司工会")
    Membership.objects.create(user=demo.treasurer1, organization=textiles, role=Role.TREASURER)
    client = browser_client(demo.treasurer1)
    with at(2026, 2, 5, 10):
        html = client.get("/remittance/declare/").content.decode()
        assert 'name="organization"' in html and textiles.name in html
        missing = client.post("/remittance/declare/", DECLARATION)
        assert missing.status_code == 400
        assert re.search(r'id="id_organization-error"', missing.content.decode())
        done = client.post("/remittance/declare/", {**DECLARATION, "organization": textiles.pk})
    assert done.status_code == 302
    assert Remittance.objects.get().organization == textiles


def test_a_treasurer_of_one_union_is_not_asked_which(demo, browser_client):
    html = browser_client(demo.treasurer1).get("/remittance/declare/").content.decode()
    assert 'name="payroll_total"' in html and 'name="organization"' not in html


# --- 6c: a payment that differs from the upper share due -----------------------------------


def test_verification_page_shows_due_paid_and_shortfall(demo, api, browser_client):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "100.00")
        html = browser_client(demo.town_finance).get(f"/tasks/{verification.pk}/").content.decode()
    panel = html[html.index('data-testid="remittance-panel"') :]
    assert re.search(r'data-testid="upper-share">800\.00<', panel)
    assert re.search(r'data-testid="amount-paid">100\.00<', panel)
    assert re.search(r'data-testid="shortfall">700\.00<', panel)
    assert 'data-testid="payment-mismatch"' in panel
    # Also at the top of the page, above the decision the officer is about to make.
    messages = html[html.index('class="messages"') : html.index('data-testid="remittance-panel"')]
    assert "700.00" in messages and "800.00" in messages and "100.00" in messages
    assert messages.index("700.00") < html.index('data-testid="submit-decision"')


def test_an_exact_payment_shows_no_mismatch_and_is_verified_from_the_page(
    demo, api, browser_client
):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "800.00")
        officer = browser_client(demo.town_finance)
        html = officer.get(f"/tasks/{verification.pk}/").content.decode()
        assert 'data-testid="remittance-panel"' in html
        assert 'data-testid="payment-mismatch"' not in html
        assert 'data-testid="shortfall"' not in html and 'class="messages"' not in html
        assert officer.post(f"/tasks/{verification.pk}/", {"op": "claim"}).status_code == 302
        page = officer.get(f"/tasks/{verification.pk}/").content.decode()
        key = re.search(r'name="form_key" value="([0-9a-f]{32})"', page).group(1)
        done = officer.post(
            f"/tasks/{verification.pk}/",
            {"op": "decide", "decision": "approve", "form_key": key},
        )
    assert done.status_code == 302
    assert Remittance.objects.get(case=case).verified_at is not None


def test_the_officer_sends_an_underpayment_back(demo, api, browser_client):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "100.00")
        returned = complete(
            api(demo.town_finance), verification, "return", comment="short by 700.00"
        )
    assert returned.status_code == 200
    assert open_tasks(case)[0].flow_task.name == "payment"


def test_a_late_payment_shows_the_late_fee_confirmation_will_record(demo, api, browser_client):
    # Due 2026-02-24 (the Spring Festival moves the 15th); paid 7 days late: 800 × 0.5 % × 7.
    with at(2026, 3, 4, 10):
        case, verification = _declared_and_paid(demo, api, "800.00", paid_on="2026-03-03")
        html = browser_client(demo.town_finance).get(f"/tasks/{verification.pk}/").content.decode()
        assert re.search(r'data-testid="late-fee">28\.00', html)
        assert 'data-testid="payment-mismatch"' not in html  # the fee is not part of it
        assert complete(api(demo.town_finance), verification).status_code == 200
    remittance = Remittance.objects.get(case=case)
    assert remittance.late_fee == Decimal("28.00")  # what the page said confirmation records


def test_a_payment_of_the_upper_share_and_the_late_fee_matches(demo, api):
    with at(2026, 3, 4, 10):
        case, _verification = _declared_and_paid(demo, api, "828.00", paid_on="2026-03-03")
        check = selectors.payment_check(Remittance.objects.get(case=case))
    assert check.matches and check.covers_late_fee and check.shortfall == 0
    assert (check.upper_share, check.paid_amount, check.late_fee) == (
        Decimal("800.00"),
        Decimal("828.00"),
        Decimal("28.00"),
    )


def test_payment_check_money_is_decimal(demo, api):
    with at(2026, 2, 10, 10):
        case, _verification = _declared_and_paid(demo, api, "100.00")
        check = selectors.payment_check(Remittance.objects.get(case=case))
    assert not check.matches
    assert check.shortfall == Decimal("700.00") and isinstance(check.shortfall, Decimal)
    assert check.difference == Decimal("-700.00") and check.excess == 0


def test_overview_does_not_show_an_underpaid_remittance_as_simply_verified(
    demo, api, browser_client
):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "100.00")
        assert complete(api(demo.town_finance), verification).status_code == 200
        html = browser_client(demo.town_finance).get("/remittance/overview/?period=2026-01")
    html = html.content.decode()
    row = html[html.index(f"/cases/{case.pk}/") :].split("</tr>")[0]
    assert "已核实" in row  # verified …
    assert 'data-testid="shortfall" data-shortfall="700.00"' in row  # … but short by 700.00
    assert re.search(r'data-testid="paid-amount">100\.00<', row)
    assert ">800.00<" in row  # the upper share due, beside what was paid


def test_a_verified_underpayment_keeps_its_shortfall_on_the_case_page(demo, api, browser_client):
    from django.utils import translation

    from cases.remittance.views import mismatch_text

    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "100.00")
        assert complete(api(demo.town_finance), verification).status_code == 200
        html = browser_client(demo.town_finance).get(f"/cases/{case.pk}/").content.decode()
    assert re.search(r'data-testid="shortfall">700\.00<', html)
    mismatch = re.search(r'data-testid="payment-mismatch"><p>([^<]*)</p>', html).group(1)
    check = selectors.payment_check(Remittance.objects.get(case=case))
    with translation.override("zh-hans"):
        # Closed: the facts, without the advice to send it back.
        assert mismatch == mismatch_text(check, advice=False)
        assert mismatch != mismatch_text(check, advice=True)


def test_overview_shows_no_shortfall_for_a_full_payment(demo, api, browser_client):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "800.00")
        complete(api(demo.town_finance), verification)
        html = browser_client(demo.town_finance).get("/remittance/overview/?period=2026-01")
    html = html.content.decode()
    row = html[html.index(f"/cases/{case.pk}/") :].split("</tr>")[0]
    assert "已核实" in row and 'data-testid="shortfall"' not in row
    assert re.search(r'data-testid="paid-amount">800\.00<', row)


def test_confirmation_records_what_was_due_in_the_trail(demo, api):
    with at(2026, 2, 10, 10):
        case, verification = _declared_and_paid(demo, api, "100.00")
        complete(api(demo.town_finance), verification)
    event = case.trail.get(action="remittance.verified")
    assert (event.data["paid_amount"], event.data["upper_share"]) == ("100.00", "800.00")


# --- 11a: the periods a declaration accepts ----------------------------------------------


def test_a_period_before_the_earliest_says_which_periods_are_accepted(demo, api):
    with at(2026, 2, 5, 10):
        response = post(
            api(demo.treasurer1), "/api/v1/fee-remittances/", {**DECLARATION, "period": "1999-01"}
        )
    assert response.status_code == 400
    [message] = response.json()["fields"]["period"]
    assert "2000-01" in message and "2026-02" in message  # earliest and latest accepted
    assert message != "月份不存在。"
    assert not Case.objects.exists()


def test_the_form_names_the_period_and_offers_only_accepted_months(demo, browser_client):
    client = browser_client(demo.treasurer1)
    with at(2026, 2, 5, 10):
        html = client.get("/remittance/declare/").content.decode()
        assert re.search(r'name="period"[^>]*min="2000-01"', html)
        assert re.search(r'name="period"[^>]*max="2026-02"', html)
        page = client.post("/remittance/declare/", {**DECLARATION, "period": "1999-01"})
    assert page.status_code == 400
    html = page.content.decode()
    error = re.search(r'id="id_period-error">([^<]*)<', html).group(1)
    assert "2000-01" in error and "2026-02" in error and "月份不存在" not in html


def test_a_month_that_does_not_exist_is_still_no_such_month(demo, api):
    with at(2026, 2, 5, 10):
        response = post(
            api(demo.treasurer1), "/api/v1/fee-remittances/", {**DECLARATION, "period": "2025-13"}
        )
    assert response.status_code == 400
    assert response.json()["fields"]["period"] == ["月份不存在。"]


def test_the_overview_refuses_a_member_who_holds_no_office(demo, api):
    """It answered a plain member 200 with an empty overview."""
    refused = api(demo.worker1).get("/api/v1/fee-remittances/overview/?period=2026-01")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert (
        api(demo.town_finance)
        .get("/api/v1/fee-remittances/overview/?period=2026-01")
        .json()["unions"]
    )
