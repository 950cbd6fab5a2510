"""Disbursement into the applicant's own account (实名制, DOMAIN.md A.7): the account paid into
is recorded, a payment into someone else's account is refused, and the account number is kept
like an ID number — encrypted at rest, masked for readers who may not see it whole, and never
in clear in the task data, the trail or the logs."""

import json

from django.db import connection

from approvals.models import CaseTask
from cases.hardship.models import HardshipApplication
from core.logging import redact_text
from notifications.models import Notification

from .helpers import account_of, approve, investigate, open_tasks, pay, ric_number, submit

PAID_INTO = "6222 0202 0011 2233 445"  # as typed, with spaces
WHOLE = "6222020200112233445"


def festival_at_disbursement(api, demo, user=None, **overrides):
    case = submit(api, user or demo.worker1, aid_type="festival", **overrides)
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    approve(api, demo.town_aid1, case, "town_review")
    assert [t.flow_task.name for t in open_tasks(case)] == ["disbursement"]
    return case


def record(case):
    return HardshipApplication.objects.get(case=case)


def test_the_task_asks_for_the_account_paid_into(demo, api):
    case = festival_at_disbursement(api, demo)
    [task] = open_tasks(case, "disbursement")
    fields = api(demo.town_finance).get(f"/api/v1/tasks/{task.pk}/").json()["fields"]
    required = {f["name"] for f in fields if f["required"]}
    assert {"account_holder", "account_number"} <= required
    missing = api(demo.town_finance).post(
        f"/api/v1/tasks/{task.pk}/complete/",
        {
            "decision": "approve",
            "data": {"amount": "800.00", "paid_on": case.created_at.date().isoformat()},
        },
        format="json",
    )
    assert missing.status_code == 400
    assert {"data.account_holder", "data.account_number"} <= set(missing.json()["fields"])


def test_a_payment_into_someone_elses_account_is_refused(demo, api):
    case = festival_at_disbursement(api, demo)
    # Held by another person (the finance officer's own name, say).
    other = pay(api, demo.town_finance, case, holder=demo.town_finance.full_name)
    assert other.status_code == 400 and list(other.json()["fields"]) == ["data.account_holder"]
    # Not an account number.
    for bad in ("6222-ABC-0011", "12345"):
        response = pay(api, demo.town_finance, case, account=bad)
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["data.account_number"]
    # An account that received aid paid to another person.
    earlier = festival_at_disbursement(api, demo, user=demo.worker2, id_number=ric_number(2))
    assert pay(api, demo.town_finance, earlier, account=WHOLE).status_code == 200
    shared = pay(api, demo.town_finance, case, account=WHOLE)
    assert shared.status_code == 400 and list(shared.json()["fields"]) == ["data.account_number"]
    # Nothing was recorded; the task is still open.
    assert record(case).disbursed_on is None and not record(case).account_number
    assert [t.flow_task.name for t in open_tasks(case)] == ["disbursement"]
    # The applicant's own account, the holder's name typed with a space: paid.
    name = demo.worker1.full_name
    own = pay(api, demo.town_finance, case, holder=f"{name[0]} {name[1:]}")
    assert own.status_code == 200, own.json()
    paid = record(case)
    assert paid.account_number == account_of(demo.worker1)
    assert paid.account_holder == f"{name[0]} {name[1:]}"


def test_the_account_is_shown_masked_like_an_id_number(demo, api, browser_client):
    case = festival_at_disbursement(api, demo)
    response = pay(api, demo.town_finance, case, account=PAID_INTO)
    assert response.status_code == 200, response.json()
    masked = "6222***********3445"

    def shown(user):
        body = api(user).get(f"/api/v1/cases/{case.pk}/").json()
        return body["account_holder"], body["account_number"]

    # Whole for the applicant and the officer who paid; masked for an auditor.
    assert shown(demo.worker1) == (demo.worker1.full_name, WHOLE)
    assert shown(demo.town_finance) == (demo.worker1.full_name, WHOLE)
    assert shown(demo.county_auditor) == (demo.worker1.full_name, masked)
    page = browser_client(demo.county_auditor).get(f"/cases/{case.pk}/").content.decode()
    assert masked in page and WHOLE not in page
    assert WHOLE in browser_client(demo.worker1).get(f"/cases/{case.pk}/").content.decode()

    # Encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_number FROM hardship_hardshipapplication WHERE case_id = %s",
            [case.pk],
        )
        [stored] = cursor.fetchone()
    assert WHOLE not in stored and "3445" not in stored
    # Masked in the task data (task API), the trail and the applicant's notification.
    task = CaseTask.objects.get(case=case, flow_task__endswith=".disbursement")
    assert task.data["account_number"] == masked
    task_json = api(demo.county_auditor).get(f"/api/v1/tasks/{task.pk}/").content.decode()
    trail_json = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/").content.decode()
    for text in (task_json, trail_json):
        assert WHOLE not in text and PAID_INTO not in text
    paid = case.trail.get(action="task.completed", step="disbursement")
    assert paid.data["account_number"] == masked
    told = Notification.objects.get(recipient=demo.worker1, case=case, verb="hardship_disbursed")
    assert WHOLE not in json.dumps(told.data) and told.data["account"] == masked
    # A log line carrying it loses it.
    assert WHOLE not in redact_text(f'complete data={{"account_number": "{WHOLE}"}}')
