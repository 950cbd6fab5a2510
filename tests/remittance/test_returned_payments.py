"""A payment the finance officer sends back is no longer the payment: the union is unpaid
again (reminded, late past the due date, counted unpaid, free to withdraw), and the trail keeps
what was recorded. Payments of nothing, or dated before the declared month, are refused."""

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from cases.models import Case
from cases.remittance.tasks import send_reminders
from notifications.models import Notification
from tests.helpers import complete, open_tasks, post

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 西山食品厂, 2026-11: fund 56000 × 2 % = 1120.00, upper share 448.00, due 2026-12-15.
DECLARATION = {
    "period": "2026-11",
    "payroll_total": "56000.00",
    "headcount": 60,
    "member_count": 50,
}


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


def _declared(demo, api):
    created = post(api(demo.treasurer3), "/api/v1/fee-remittances/", DECLARATION)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["upper_share"], body["due_date"]) == ("448.00", "2026-12-15")
    case = Case.objects.get(pk=body["id"])
    assert complete(api(demo.chair3), open_tasks(case)[0]).status_code == 200
    return case


def _pay(demo, api, case, amount="100.00", paid_on="2026-12-07"):
    [payment] = open_tasks(case, "payment")
    return complete(
        api(demo.treasurer3),
        payment,
        "submit",
        data={"paid_amount": amount, "paid_on": paid_on, "bank_reference": "W1"},
    )


def _returned(demo, api):
    with at(2026, 12, 7, 10):
        case = _declared(demo, api)
        assert _pay(demo, api, case).status_code == 200
        [verification] = open_tasks(case, "verification")
        returned = complete(
            api(demo.xs_finance), verification, "return", comment="金额不符，应缴448.00"
        )
        assert returned.status_code == 200, returned.json()
    return case


def _overview_row(api, user, period="2026-11"):
    overview = api(user).get(f"/api/v1/fee-remittances/overview/?period={period}").json()
    [row] = [r for r in overview["unions"] if r["organization"]["name"] == "西山食品厂工会"]
    return row


def test_a_returned_payment_is_no_longer_the_payment(demo, api):
    case = _returned(demo, api)
    body = api(demo.treasurer3).get(f"/api/v1/cases/{case.pk}/").json()
    assert (body["paid_amount"], body["paid_on"], body["bank_reference"]) == (None, None, "")
    # What was recorded, and its return, stay in the trail.
    events = list(case.trail.filter(action="task.completed").order_by("seq"))
    paid, returned = events[-2:]
    assert (paid.data["paid_amount"], paid.data["paid_on"], paid.data["bank_reference"]) == (
        "100.00",
        "2026-12-07",
        "W1",
    )
    assert returned.data["decision"] == "return" and returned.comment == "金额不符，应缴448.00"
    with at(2026, 12, 8, 10):
        row = _overview_row(api, demo.xs_finance)
    assert (row["state"], row["paid_amount"], row["paid_on"], row["late"]) == (
        "declared",
        None,
        None,
        False,
    )


def test_a_union_whose_payment_was_returned_is_reminded_and_late(demo, api):
    _returned(demo, api)
    with at(2026, 12, 10, 10):  # three working days before 15 December
        send_reminders.run()
    assert Notification.objects.filter(
        recipient=demo.treasurer3, verb="remittance_due_soon"
    ).exists()
    with at(2026, 12, 16, 10):
        send_reminders.run()
        row = _overview_row(api, demo.xs_finance)
    assert Notification.objects.filter(
        recipient=demo.xs_finance, verb="remittance_overdue"
    ).exists()
    assert row["state"] == "declared" and row["late"] is True


def test_a_returned_payment_is_not_counted_paid_in_the_reports(demo, api):
    _returned(demo, api)
    with at(2026, 12, 20, 10):
        summary = api(demo.county_finance).get(
            "/api/v1/reports/summary/", {"from": "2026-11-01", "to": "2026-11-30"}
        )
    assert summary.status_code == 200, summary.json()
    figures = summary.json()["remittance"]
    assert figures["declarations"] == 1
    assert figures["paid"]["count"] == 0 and figures["paid_on_time"] == 0
    assert figures["unpaid_overdue"] == {"count": 1, "upper_share": "448.00"}


def test_a_declaration_whose_payment_was_returned_may_be_withdrawn(demo, api):
    case = _returned(demo, api)
    with at(2026, 12, 8, 10):
        response = post(
            api(demo.treasurer3), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "重新申报"}
        )
    assert response.status_code == 200, response.json()


def test_paying_again_after_a_return_records_the_new_payment(demo, api):
    case = _returned(demo, api)
    with at(2026, 12, 9, 10):
        assert _pay(demo, api, case, amount="448.00", paid_on="2026-12-09").status_code == 200
        assert _overview_row(api, demo.xs_finance)["state"] == "paid"
        complete(api(demo.xs_finance), open_tasks(case, "verification")[0])
    body = api(demo.treasurer3).get(f"/api/v1/cases/{case.pk}/").json()
    assert (body["status"], body["paid_amount"], body["paid_on"]) == (
        "closed",
        "448.00",
        "2026-12-09",
    )


def test_a_payment_of_nothing_is_refused(demo, api):
    with at(2026, 12, 7, 10):
        case = _declared(demo, api)
        for amount in ("0", "0.00"):
            response = _pay(demo, api, case, amount=amount)
            assert response.status_code == 400
            assert "data.paid_amount" in response.json()["fields"]
    assert open_tasks(case, "payment") and case.remittance.paid_on is None


def test_a_payment_before_the_declared_month_is_refused(demo, api):
    with at(2026, 12, 7, 10):
        case = _declared(demo, api)
        for paid_on in ("1999-01-01", "2026-10-31"):
            response = _pay(demo, api, case, paid_on=paid_on)
            assert response.status_code == 400
            assert "data.paid_on" in response.json()["fields"]
        # The first day of the month is fine (a payment on account).
        assert _pay(demo, api, case, paid_on="2026-11-01").status_code == 200


def test_the_verifier_returns_rather_than_sends_back(demo, api):
    """A send-back from verification left the payment in place (and could reopen the chair's
    approval a supplement rests on): only `return` goes back, and it clears the payment."""
    with at(2026, 12, 7, 10):
        case = _declared(demo, api)
        _pay(demo, api, case)
        [verification] = open_tasks(case, "verification")
        client = api(demo.xs_finance)
        post(client, f"/api/v1/tasks/{verification.pk}/claim/")
        assert client.get(f"/api/v1/tasks/{verification.pk}/").json()["send_back_to"] == []
        response = post(
            client,
            f"/api/v1/tasks/{verification.pk}/send-back/",
            {"to_step": "payment", "comment": "金额不符"},
        )
    assert response.status_code == 409
