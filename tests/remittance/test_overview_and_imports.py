"""The overview page answers as the API does (403 / 400, no misleading "no unions" line) and
shows zero amounts as 0.00; a due day past a month's end breaks nothing; a bulk import makes
the union's treasurer the declarant, so the parent's finance officer verifies it."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from cases.models import Case
from cases.remittance.models import Remittance
from cases.remittance.tasks import run_import, send_reminders
from core.models import Parameter
from notifications.models import Notification
from tests.helpers import complete, open_tasks, post
from tests.remittance.helpers import declarations_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
NO_UNIONS = "您的管辖范围内没有工会。"  # "No unions in your reach." (catalogued)
DECLARATION = {
    "period": "2026-01",
    "payroll_total": "100000.00",
    "headcount": 120,
    "member_count": 100,
}


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


# --- the overview page's refusals --------------------------------------------------------


@pytest.mark.parametrize(
    "username, period, status",
    [
        ("worker1", "2026-10", 403),  # holds no office
        ("town_finance", "2027-10", 400),  # the future
        ("town_finance", "abc", 400),
        ("town_finance", "2026-13", 400),
    ],
)
def test_the_overview_page_refuses_as_the_api_does(
    demo, api, browser_client, username, period, status
):
    user = demo.user(username)
    with at(2026, 11, 5, 10):
        page = browser_client(user).get(f"/remittance/overview/?period={period}")
        answer = api(user).get(f"/api/v1/fee-remittances/overview/?period={period}")
    assert page.status_code == answer.status_code == status
    html = page.content.decode()
    assert 'data-testid="overview-refusal"' in html
    assert NO_UNIONS not in html and "<table" not in html


def test_a_future_period_is_refused_as_one_to_view_not_to_declare(demo, api):
    with at(2026, 11, 5, 10):
        viewed = api(demo.town_finance).get("/api/v1/fee-remittances/overview/?period=2027-10")
        declared = post(
            api(demo.treasurer1),
            "/api/v1/fee-remittances/",
            {
                **DECLARATION,
                "period": "2027-10",
            },
        )
    assert viewed.status_code == declared.status_code == 400
    assert viewed.json()["fields"]["period"] != declared.json()["fields"]["period"]


def test_the_overview_page_still_lists_the_unions(demo, browser_client):
    with at(2026, 11, 5, 10):
        page = browser_client(demo.town_finance).get("/remittance/overview/?period=2026-10")
    html = page.content.decode()
    assert page.status_code == 200 and "东湖机械厂工会" in html
    assert 'data-testid="overview-refusal"' not in html


# --- zero amounts ------------------------------------------------------------------------


def test_zero_amounts_show_as_zero_not_as_nothing(demo, api, browser_client):
    """A payroll so small that the upper share rounds to 0.00, paid on time: upper share,
    amount paid and late fee are 0.00 on the overview, not "—"."""
    with at(2026, 2, 5, 10):
        body = post(
            api(demo.treasurer1),
            "/api/v1/fee-remittances/",
            {**DECLARATION, "payroll_total": "0.50", "headcount": 1, "member_count": 1},
        ).json()
        assert body["upper_share"] == "0.00"
        case = Case.objects.get(pk=body["id"])
        complete(api(demo.chair1), open_tasks(case)[0])
        paid = complete(
            api(demo.treasurer1),
            open_tasks(case, "payment")[0],
            "submit",
            data={"paid_amount": "0.00", "paid_on": "2026-02-05", "bank_reference": "none due"},
        )
        assert paid.status_code == 200, paid.json()  # nothing due: paying nothing is right
        complete(api(demo.town_finance), open_tasks(case, "verification")[0])
        html = (
            browser_client(demo.town_finance)
            .get("/remittance/overview/?period=2026-01")
            .content.decode()
        )
    row = html.split("东湖机械厂工会", 1)[1].split("</tr>", 1)[0]
    for testid in ("upper-share", "paid-amount", "late-fee"):
        assert f'data-testid="{testid}">0.00<' in row, testid
    # A union that has declared nothing still shows "—".
    other = html.split("东湖纺织公司工会", 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="upper-share">—<' in other and 'data-testid="paid-amount">—<' in other


# --- a due day past the end of a month ---------------------------------------------------


def test_a_due_day_of_31_breaks_neither_declaring_nor_overview_nor_reminders(
    demo, api, browser_client
):
    Parameter.objects.create(
        key="remittance.due_day", effective_from=date(2000, 1, 1), value=Decimal("31")
    )
    with at(2026, 11, 5, 10):
        created = post(
            api(demo.treasurer1), "/api/v1/fee-remittances/", {**DECLARATION, "period": "2026-10"}
        )
        assert created.status_code == 201, created.json()
        assert created.json()["due_date"] == "2026-11-30"
        overview = api(demo.town_finance).get("/api/v1/fee-remittances/overview/?period=2026-10")
        assert overview.status_code == 200
        assert {r["due_date"] for r in overview.json()["unions"]} == {"2026-11-30"}
        page = browser_client(demo.town_finance).get("/remittance/overview/?period=2026-10")
        assert page.status_code == 200
    with at(2026, 12, 1, 10):  # past 30 November: overdue reminders go out
        send_reminders.run()
    assert Notification.objects.filter(
        recipient=demo.treasurer2, verb="remittance_overdue"
    ).exists()


# --- bulk imports ------------------------------------------------------------------------


def test_an_imported_declaration_is_the_unions_and_the_parents_finance_officer_verifies_it(
    demo, api
):
    client = api(demo.town_finance)
    with at(2026, 2, 5, 10):
        job = client.post(
            "/api/v1/fee-remittances/imports/",
            {"file": declarations_csv([["东湖机械厂工会", "2026-01", "100000", "120", "100"]])},
            format="multipart",
        )
        assert job.status_code == 202, job.json()
        assert run_import.run(job.json()["id"]) == "done"
        case = Remittance.objects.get().case
        assert (case.applicant, case.submitted_by) == (demo.treasurer1, demo.town_finance)
        event = case.trail.get(action="case.submitted")
        assert event.actor == demo.town_finance and event.data["applicant"] == "treasurer1"
        assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
        [payment] = open_tasks(case, "payment")
        paid = complete(
            api(demo.treasurer1),
            payment,
            "submit",
            data={"paid_amount": "800.00", "paid_on": "2026-02-05", "bank_reference": "B1"},
        )
        assert paid.status_code == 200
        [verification] = open_tasks(case, "verification")
        # Verified at the parent (东湖镇), by the finance officer who imported it.
        assert verification.candidate_organization == demo.org("东湖镇总工会")
        queue = api(demo.town_finance).get("/api/v1/tasks/?view=queue").json()["results"]
        assert verification.pk in [t["id"] for t in queue]
        assert complete(api(demo.town_finance), verification).status_code == 200
    case.refresh_from_db()
    assert case.status == "closed"


def test_an_import_row_for_a_union_without_a_treasurer_is_refused(demo, api):
    from organizations.models import Membership, Role

    Membership.objects.filter(
        organization=demo.org("东湖纺织公司工会"), role=Role.TREASURER
    ).delete()
    client = api(demo.town_finance)
    with at(2026, 2, 5, 10):
        job = client.post(
            "/api/v1/fee-remittances/imports/",
            {
                "file": declarations_csv(
                    [
                        ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
                        ["东湖纺织公司工会", "2026-01", "50000", "60", "50"],
                    ]
                )
            },
            format="multipart",
        )
        assert run_import.run(job.json()["id"]) == "failed"
    result = client.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/").json()
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(3, "union")]
    assert not Case.objects.exists()


def test_an_import_row_naming_a_union_that_several_share_is_refused(demo, api):
    """Union names need not be unique: a name that several unions in reach share is refused,
    asking for the id, not charged to whichever came last."""
    from organizations.models import Membership, Role

    donghu = demo.org("东湖机械厂工会")
    from organizations.models import Organization

    twin = Organization.objects.add_child(
        demo.org("东湖镇总工会"), {"name": "东湖机械厂工会", "kind": "grassroots"}
    )
    Membership.objects.create(user=demo.treasurer2, organization=twin, role=Role.TREASURER)
    client = api(demo.town_finance)
    with at(2026, 2, 5, 10):
        job = client.post(
            "/api/v1/fee-remittances/imports/",
            {"file": declarations_csv([["东湖机械厂工会", "2026-01", "100000", "120", "100"]])},
            format="multipart",
        )
        assert run_import.run(job.json()["id"]) == "failed"
    result = client.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/").json()
    [error] = result["errors"]
    assert (error["row"], error["field"]) == (2, "union")
    assert str(donghu.pk) in error["message"] and str(twin.pk) in error["message"]
    assert not Case.objects.exists()
    # By its id, the row is clear.
    with at(2026, 2, 5, 11):
        job = client.post(
            "/api/v1/fee-remittances/imports/",
            {"file": declarations_csv([[str(twin.pk), "2026-01", "100000", "120", "100"]])},
            format="multipart",
        )
        assert run_import.run(job.json()["id"]) == "done"
    assert Case.objects.get().organization == twin
