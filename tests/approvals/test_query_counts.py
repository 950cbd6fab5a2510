"""What a list or a case costs in queries does not depend on how much it holds: the inbox and
the case list cost the same for one row as for many (of every process), and a case's detail
and trail the same for a fresh case as for one with its whole history. Counts, never timings.
The cases are driven through the services as bench/engine.py drives them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services
from bench.engine import (
    Driver,
    hardship_case,
    mediation_case,
    remittance_case,
    ric_number,
    submit_festival_aid,
    submit_mediation,
)
from cases.remittance import services as remittance

pytestmark = pytest.mark.django_db


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), response.json()


def declare(user, period):
    return remittance.declare(
        user=user, period=period, payroll_total="100000.00", headcount=120, member_count=100
    )


def test_inbox_costs_the_same_for_one_task_and_many(demo, api):
    driver = Driver()
    chair = api(demo.chair1)
    url = "/api/v1/tasks/?view=inbox&page_size=100"

    def claim_approval(case):
        task = driver.open_task(case, "chair_approval")
        services.claim(task_id=task.pk, user=demo.chair1)

    claim_approval(declare(demo.treasurer1, "2024-01"))
    chair.get(url)  # first use of the client
    one, body = queries(chair, url)
    assert body["count"] == 1
    for month in range(2, 6):
        claim_approval(declare(demo.treasurer1, f"2024-{month:02d}"))
    # A task of another process and step in the same inbox.
    case = submit_festival_aid(demo.worker1, ric_number(1))
    task = driver.open_task(case, "grassroots_review")
    services.claim(task_id=task.pk, user=demo.chair1)
    many, body = queries(chair, url)
    assert body["count"] == 6
    assert {t["step"] for t in body["results"]} == {"chair_approval", "grassroots_review"}
    assert many == one


def test_case_list_costs_the_same_for_one_case_and_many_of_every_process(demo, api):
    driver = Driver()
    officer = api(demo.town_aid1)
    url = "/api/v1/cases/?page_size=100"
    # A hardship case reads, once per request, on which cases the viewer acts (whether they
    # see ID numbers whole): the single row is one, so both lists pay that query.
    hardship_case(driver, 0)
    officer.get(url)
    one, body = queries(officer, url)
    assert body["count"] == 1
    hardship_case(driver, 1)
    mediation_case(driver, 2)
    remittance_case(driver, 3)
    declare(demo.treasurer2, "2024-01")  # one still open, with its open task in the JSON
    many, body = queries(officer, url)
    assert body["count"] == 5
    assert {c["process"] for c in body["results"]} == {"hardship", "mediation", "remittance"}
    assert any(c["open_tasks"] for c in body["results"])
    assert many == one


@pytest.mark.parametrize("drive", [hardship_case, mediation_case, remittance_case])
def test_case_detail_and_trail_cost_the_same_whatever_the_history(demo, api, drive):
    driver = Driver()
    done = drive(driver, 0)
    client = api(demo.admin)
    client.get(f"/api/v1/cases/{done.pk}/")
    detail_done, _ = queries(client, f"/api/v1/cases/{done.pk}/")
    trail_done, events = queries(client, f"/api/v1/cases/{done.pk}/trail/?page_size=100")
    assert events["count"] > 10  # a whole history
    new = _submitted(demo, driver, done.process)
    detail_new, body = queries(client, f"/api/v1/cases/{new.pk}/")
    assert body["open_tasks"]  # unlike the finished case
    trail_new, events = queries(client, f"/api/v1/cases/{new.pk}/trail/?page_size=100")
    assert events["count"] < 10
    assert detail_new == detail_done
    assert trail_new == trail_done


def _submitted(demo, driver, process):
    """A case of the process, just submitted."""
    if process == "remittance":
        return declare(demo.treasurer3, "2024-01")
    if process == "hardship":
        return submit_festival_aid(demo.worker3, ric_number(3))
    return submit_mediation(
        demo.worker2,
        applicant_name="朱工人",
        applicant_id_number="330106198506124569",
        applicant_phone="13800138001",
        claim_amount=Decimal("5000.00"),
        known_days_ago=10,
    )
