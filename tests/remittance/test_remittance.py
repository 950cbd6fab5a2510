"""Fee remittance through the API: declare, approve, pay, verify; late fees, returns,
duplicates, supplements, the overview, reminders and the bulk import."""

import io
import threading
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections

from cases import trail
from cases.models import Case
from cases.remittance.models import ImportJob, Remittance
from cases.remittance.tasks import run_import, send_reminders
from notifications.models import Notification
from tests.helpers import complete, open_tasks, post
from tests.remittance.helpers import declarations_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


def declare(client, **body):
    payload = {
        "period": "2026-01",
        "payroll_total": "100000.00",
        "headcount": 120,
        "member_count": 100,
    }
    payload.update(body)
    return post(client, "/api/v1/fee-remittances/", payload)


def pay(demo, api, case_id, paid_on, amount="800.00"):
    [task] = open_tasks(Case.objects.get(pk=case_id), "payment")
    return complete(
        api(demo.treasurer1),
        task,
        "submit",
        data={"paid_amount": amount, "paid_on": paid_on, "bank_reference": "ICBC-0001"},
    )


def test_declare_approve_pay_verify(demo, api):
    with at(2026, 2, 5, 10):
        created = declare(api(demo.treasurer1))
        assert created.status_code == 201, created.json()
        case = created.json()
        assert case["number"].startswith("JF-2026-") and case["process"] == "remittance"
        assert (case["period"], case["fund_due"], case["upper_share"], case["retained_share"]) == (
            "2026-01",
            "2000.00",
            "800.00",
            "1200.00",
        )
        assert case["due_date"] == "2026-02-24"  # 15 Feb falls in the Spring Festival holiday
        assert case["open_tasks"][0]["step"] == "chair_approval"
        assert (
            complete(api(demo.chair1), open_tasks(Case.objects.get(pk=case["id"]))[0]).status_code
            == 200
        )
    with at(2026, 2, 24, 16):
        assert pay(demo, api, case["id"], "2026-02-24").status_code == 200
        [verification] = open_tasks(Case.objects.get(pk=case["id"]), "verification")
        assert verification.candidate_organization.name == "东湖镇总工会"
        assert complete(api(demo.town_finance), verification).status_code == 200
    final = api(demo.treasurer1).get(f"/api/v1/cases/{case['id']}/").json()
    assert final["status"] == "closed" and final["outcome"] == "verified"
    assert (final["paid_amount"], final["days_late"], final["late_fee"]) == ("800.00", 0, "0.00")
    # Treasurer and chair hear of each decision.
    assert Notification.objects.filter(recipient=demo.chair1, verb="remittance_step").count() == 2
    assert (
        Notification.objects.filter(recipient=demo.treasurer1, verb="step_decided").count() == 2
    )  # approval, verification: not their own payment
    assert Notification.objects.filter(recipient=demo.treasurer1, verb="case_closed").count() == 1
    assert trail.verify(Case.objects.get(pk=case["id"])).valid


def test_late_payment_costs_a_late_fee_computed_at_confirmation(demo, api):
    with at(2026, 2, 5, 10):
        case_id = declare(api(demo.treasurer1)).json()["id"]
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=case_id))[0])
    with at(2026, 3, 4, 10):
        pay(demo, api, case_id, "2026-03-03")
        complete(api(demo.town_finance), open_tasks(Case.objects.get(pk=case_id))[0])
    final = api(demo.town_finance).get(f"/api/v1/cases/{case_id}/").json()
    assert (final["days_late"], final["late_fee"]) == (7, "28.00")  # 800 × 0.5 % × 7


def test_return_at_verification_and_pay_again(demo, api):
    with at(2026, 2, 5, 10):
        case_id = declare(api(demo.treasurer1)).json()["id"]
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=case_id))[0])
        pay(demo, api, case_id, "2026-02-05", amount="700.00")
        [verification] = open_tasks(Case.objects.get(pk=case_id))
        no_reason = complete(api(demo.town_finance), verification, "return")
        assert no_reason.status_code == 400 and "comment" in no_reason.json()["fields"]
        returned = complete(
            api(demo.town_finance), verification, "return", comment="amount mismatch: 700 ≠ 800"
        )
        assert returned.status_code == 200
        assert open_tasks(Case.objects.get(pk=case_id))[0].flow_task.name == "payment"
        assert (
            Notification.objects.filter(recipient=demo.chair1, verb="remittance_step").count() == 2
        )
        assert pay(demo, api, case_id, "2026-02-05", amount="800.00").status_code == 200
        complete(api(demo.town_finance), open_tasks(Case.objects.get(pk=case_id))[0])
    final = api(demo.treasurer1).get(f"/api/v1/cases/{case_id}/").json()
    assert final["paid_amount"] == "800.00" and final["status"] == "closed"


def test_payment_fields_are_checked(demo, api):
    with at(2026, 2, 5, 10):
        case_id = declare(api(demo.treasurer1)).json()["id"]
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=case_id))[0])
        response = pay(demo, api, case_id, "2026-02-06")  # tomorrow
        assert response.status_code == 400 and "data.paid_on" in response.json()["fields"]
        response = pay(demo, api, case_id, "2026-02-05", amount="-1")
        assert response.status_code == 400 and "data.paid_amount" in response.json()["fields"]


def test_one_regular_declaration_per_union_and_period(demo, api):
    with at(2026, 2, 5, 10):
        first = declare(api(demo.treasurer1))
        second = declare(api(demo.treasurer1), payroll_total="90000")
        assert second.status_code == 409 and second.json()["code"] == "already_declared"
        # Another union, same period: fine.
        assert declare(api(demo.treasurer2)).status_code == 201
        # A rejected declaration gives the period back.
        [task] = open_tasks(Case.objects.get(pk=first.json()["id"]))
        complete(api(demo.chair1), task, "reject", comment="payroll excludes bonuses")
        assert declare(api(demo.treasurer1), payroll_total="120000").status_code == 201


def test_supplementary_declaration(demo, api):
    with at(2026, 2, 5, 10):
        original = declare(api(demo.treasurer1)).json()
        other = declare(api(demo.treasurer2)).json()
        # A supplement corrects a declaration the chair has approved (test_supplements.py).
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=original["id"]))[0])
        supplement = declare(
            api(demo.treasurer1), payroll_total="5000.00", supplements=original["id"]
        )
        assert supplement.status_code == 201
        body = supplement.json()
        assert body["supplements"] == original["id"] and body["fund_due"] == "100.00"
        assert body["title"].startswith("补缴") or "Supplementary" in body["title"]
        wrong = declare(api(demo.treasurer1), payroll_total="5000.00", supplements=other["id"])
        assert wrong.status_code == 400 and "supplements" in wrong.json()["fields"]
        wrong_period = declare(api(demo.treasurer1), period="2025-12", supplements=original["id"])
        assert wrong_period.status_code == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"payroll_total": "0"}, "payroll_total"),
        ({"payroll_total": "-100"}, "payroll_total"),
        ({"payroll_total": "lots"}, "payroll_total"),
        ({"payroll_total": "1e30"}, "payroll_total"),
        ({"payroll_total": "100000000000"}, "payroll_total"),
        ({"payroll_total": "1.234"}, "payroll_total"),
        ({"period": "2026-13"}, "period"),
        ({"period": "2026/01"}, "period"),
        ({"period": "2026-03"}, "period"),  # the future, seen from February
        ({"headcount": 0}, "headcount"),
        ({"member_count": 500}, "member_count"),
        ({"headcount": "many"}, "headcount"),
    ],
)
def test_bad_declarations_are_400_and_create_nothing(demo, api, body, field):
    with at(2026, 2, 5, 10):
        response = declare(api(demo.treasurer1), **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Case.objects.exists()


def test_who_may_declare(demo, api):
    with at(2026, 2, 5, 10):
        assert declare(api(demo.worker1)).status_code in (400, 403)
        machinery = demo.org("东湖机械厂工会").pk
        assert declare(api(demo.treasurer2), organization=machinery).status_code == 400
        town = demo.org("东湖镇总工会").pk
        response = declare(api(demo.town_finance), organization=town)
        assert response.status_code == 400 and "organization" in response.json()["fields"]


def test_overview_lists_every_union_in_reach(demo, api):
    with at(2026, 2, 5, 10):
        case_id = declare(api(demo.treasurer1)).json()["id"]
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=case_id))[0])
        pay(demo, api, case_id, "2026-02-05")
        complete(api(demo.town_finance), open_tasks(Case.objects.get(pk=case_id))[0])
        declare(api(demo.treasurer3))
    with at(2026, 3, 2, 10):
        town = api(demo.town_finance).get("/api/v1/fee-remittances/overview/?period=2026-01").json()
        county = (
            api(demo.county_finance).get("/api/v1/fee-remittances/overview/?period=2026-01").json()
        )
    by_name = {row["organization"]["name"]: row for row in county["unions"]}
    assert set(by_name) == {"东湖机械厂工会", "东湖纺织公司工会", "西山食品厂工会"}
    assert [r["organization"]["name"] for r in town["unions"]] == [
        "东湖机械厂工会",
        "东湖纺织公司工会",
    ]
    assert (
        by_name["东湖机械厂工会"]["state"] == "verified" and not by_name["东湖机械厂工会"]["late"]
    )
    assert (
        by_name["东湖纺织公司工会"]["state"] == "not_declared"
        and by_name["东湖纺织公司工会"]["late"]
    )
    assert by_name["西山食品厂工会"]["state"] == "declared" and by_name["西山食品厂工会"]["late"]
    assert by_name["西山食品厂工会"]["upper_share"] == "800.00"
    assert county["summary"] == {
        "not_declared": 1,
        "declared": 1,
        "paid": 0,
        "verified": 1,
        "late": 2,
    }
    bad = api(demo.county_finance).get("/api/v1/fee-remittances/overview/?period=soon")
    assert bad.status_code == 400 and "period" in bad.json()["fields"]


def test_member_dues_helper(demo, api):
    response = api(demo.treasurer1).get("/api/v1/fee-remittances/member-dues/?wage=4567")
    assert response.json() == {"wage": "4567.00", "dues": "22.80", "rate": "0.005000"}
    assert (
        api(demo.treasurer1).get("/api/v1/fee-remittances/member-dues/?wage=-1").status_code == 400
    )


def _reminders(user, verb):
    return Notification.objects.filter(recipient=user, verb=verb).count()


def test_reminders_before_due_and_on_each_overdue_working_day(demo, api):
    with at(2026, 2, 5, 10):
        declare(api(demo.treasurer1))  # declared but never paid; 东湖纺织 never declares
    with at(2026, 2, 11, 10):
        send_reminders.run()
        assert _reminders(demo.treasurer1, "remittance_due_soon") == 0
    with at(2026, 2, 12, 10):  # three working days before 24 Feb (14 Feb is a make-up day)
        send_reminders.run()
        send_reminders.run()
    with at(2026, 2, 14, 10):
        send_reminders.run()
    assert _reminders(demo.treasurer1, "remittance_due_soon") == 1
    assert _reminders(demo.chair2, "remittance_due_soon") == 1
    with at(2026, 2, 25, 9):
        send_reminders.run()
        send_reminders.run()
    assert _reminders(demo.treasurer2, "remittance_overdue") == 1
    assert _reminders(demo.town_finance, "remittance_overdue") == 2  # one per union
    with at(2026, 3, 1, 9):  # a Sunday: no reminders
        send_reminders.run()
    with at(2026, 3, 2, 9):
        send_reminders.run()
    assert _reminders(demo.treasurer2, "remittance_overdue") == 2
    assert (
        _reminders(demo.treasurer3, "remittance_overdue") == 2
    )  # 西山 too, its own finance officer
    assert _reminders(demo.xs_finance, "remittance_overdue") == 2


def _upload(client, file):
    return client.post("/api/v1/fee-remittances/imports/", {"file": file}, format="multipart")


def test_import_creates_one_declaration_per_row(demo, api):
    client = api(demo.county_finance)
    with at(2026, 2, 5, 10):
        job = _upload(
            client,
            declarations_csv(
                [
                    ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
                    ["西山食品厂工会", "2026-01", "55000.50", "60", "60"],
                ]
            ),
        )
        assert job.status_code == 202, job.json()
        assert run_import.run(job.json()["id"]) == "done"
        assert run_import.run(job.json()["id"]) is None  # a second delivery of the job does nothing
    result = client.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/").json()
    assert result["status"] == "done" and result["total_rows"] == result["processed_rows"] == 2
    assert len(result["created_cases"]) == 2
    # 55,000.50 × 2 % = 1,100.01; × 40 % = 440.004 → 440.00
    assert Remittance.objects.get(organization__name="西山食品厂工会").upper_share == Decimal(
        "440.00"
    )


def test_import_with_one_bad_row_rejects_the_whole_file(demo, api):
    client = api(demo.county_finance)
    with at(2026, 2, 5, 10):
        job = _upload(
            client,
            declarations_csv(
                [
                    ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
                    ["东湖纺织公司工会", "2026-01", "-5", "10", "10"],
                    ["不存在的工会", "2026-01", "100", "1", "1"],
                ]
            ),
        )
        run_import.run(job.json()["id"])
    result = client.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/").json()
    assert result["status"] == "failed" and result["created_cases"] == []
    assert {(e["row"], e["field"]) for e in result["errors"]} == {
        (3, "payroll_total"),
        (4, "union"),
    }
    assert not Case.objects.exists()


def test_import_xlsx_and_refusals(demo, api):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["union", "period", "payroll", "headcount", "members"])
    sheet.append([demo.org("东湖纺织公司工会").pk, "2026-01", 20000, 30, 25])
    data = io.BytesIO()
    book.save(data)
    client = api(demo.county_finance)
    with at(2026, 2, 5, 10):
        job = _upload(client, SimpleUploadedFile("d.xlsx", data.getvalue()))
        assert job.status_code == 202
        run_import.run(job.json()["id"])
        assert ImportJob.objects.get().status == "done"
        # Not a spreadsheet; not a finance officer.
        exe = _upload(client, SimpleUploadedFile("d.xlsx", b"MZ\x90\x00binary\x00"))
        assert exe.status_code == 400 and "file" in exe.json()["fields"]
        # An empty file is refused at once, not queued to fail in the worker.
        empty = _upload(client, SimpleUploadedFile("d.csv", b"\xef\xbb\xbf\r\n"))
        assert empty.status_code == 400 and empty.json()["fields"] == {"file": ["文件为空。"]}
        assert ImportJob.objects.count() == 1
        assert _upload(api(demo.treasurer1), declarations_csv([])).status_code == 403
    assert Remittance.objects.get().organization.name == "东湖纺织公司工会"


def test_withdrawal_until_payment(demo, api):
    with at(2026, 2, 5, 10):
        first = declare(api(demo.treasurer1)).json()["id"]
        response = post(
            api(demo.treasurer1), f"/api/v1/cases/{first}/withdraw/", {"reason": "wrong payroll"}
        )
        assert response.status_code == 200
        second = declare(api(demo.treasurer1)).json()["id"]  # the period is free again
        complete(api(demo.chair1), open_tasks(Case.objects.get(pk=second))[0])
        pay(demo, api, second, "2026-02-05")
        late = post(api(demo.treasurer1), f"/api/v1/cases/{second}/withdraw/", {"reason": "x"})
        assert late.status_code == 409


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_declarations_of_one_period(api):
    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    client = api(User.objects.get(username="treasurer1"))
    barrier = threading.Barrier(2)
    results = []

    def go():
        try:
            barrier.wait()
            results.append(declare(client).status_code)
        finally:
            close_old_connections()

    with at(2026, 2, 5, 10):
        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [201, 409]
    assert Remittance.objects.count() == 1


def test_due_dates_into_2027(demo, api):
    with at(2027, 1, 5, 10):
        body = declare(api(demo.treasurer1), period="2026-12").json()
    assert body["due_date"] == "2027-01-15"
    assert date.fromisoformat(body["due_date"]).weekday() == 4


def test_overview_query_count_does_not_grow_with_unions(demo, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from organizations.models import Organization

    client = api(demo.county_finance)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/fee-remittances/overview/?period=2026-01").status_code == 200
        return len(ctx.captured_queries)

    with at(2026, 2, 5, 10):
        before = count()
        town = Organization.objects.get(name="东湖镇总工会")
        for i in range(10):
            Organization.objects.add_child(
                Organization.objects.get(pk=town.pk), {"name": f"新工会{i}", "kind": "grassroots"}
            )
        declare(api(demo.treasurer1))
        assert (
            len(client.get("/api/v1/fee-remittances/overview/?period=2026-01").json()["unions"])
            == 13
        )
        assert count() == before


def test_rates_are_configuration_per_organization_and_effective_date(demo, api):
    from core.models import Parameter

    Parameter.objects.create(
        key="remittance.upper_share_rate",
        organization=demo.org("西山镇总工会"),
        effective_from=date(2026, 2, 1),
        value=Decimal("0.5"),
    )
    with at(2026, 3, 5, 10):
        xishan_jan = declare(api(demo.treasurer3), period="2026-01").json()
        xishan_feb = declare(api(demo.treasurer3), period="2026-02").json()
        donghu_feb = declare(api(demo.treasurer1), period="2026-02").json()
    assert xishan_jan["upper_share"] == "800.00"  # the rate in force for January
    assert (xishan_feb["upper_share"], xishan_feb["retained_share"]) == ("1000.00", "1000.00")
    assert xishan_feb["upper_share_rate"] == "0.500000"
    assert donghu_feb["upper_share"] == "800.00"  # another town keeps the default
