"""Filing: written by a member, recorded by a mediator (oral or on a worker's behalf),
collective cases, the computed dates and flags, bad input, identifiers and scoping."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.identifiers import RIC_BAD_REGION, RIC_FUTURE_BIRTH
from cases.mediation import services
from cases.mediation.models import MediationCase
from cases.models import Case
from core.errors import Invalid
from core.sensitive import blind_index
from organizations.demo import COUNTY, DONGHU, XISHAN

from .helpers import (
    ID_NUMBER,
    accept,
    assign,
    at,
    body,
    detail,
    file,
    filed,
    post,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "field, value",
    [
        ("employer_credit_code", "91330100MA2B3C4D5X"),  # wrong check character
        ("employer_credit_code", "12345"),
        ("applicant_id_number", "110105199003071238"),  # wrong check digit
        ("applicant_id_number", "110105199013071239"),  # month 13
        ("known_on", "2026-03-03"),  # tomorrow
        ("claim_amount", "-0.01"),
        ("category", "wages"),
        ("channel", "email"),
        ("applicant_phone", "call me"),
        ("applicant_phone", "-----"),  # the shape of a phone, without a digit
        ("applicant_phone", "+86 123"),  # 5 digits
    ],
)
def test_bad_input_is_a_400_naming_the_field(demo, api, field, value):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(api, demo.worker1, demo, **{field: value})
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Case.objects.exists()


def test_several_bad_fields_are_reported_together(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(
            api,
            demo.worker1,
            demo,
            employer_credit_code="nonsense",
            known_on="2027-01-01",
            claim_amount="-1",
        )
    assert response.status_code == 400
    assert {"employer_credit_code", "known_on", "claim_amount"} <= set(response.json()["fields"])


def test_missing_fields_and_an_organization_without_a_mediation_room(demo, api):
    response = post(api(demo.worker1), "/api/v1/mediation-cases/", {"channel": "written"})
    assert response.status_code == 400
    assert {"organization", "applicant_name", "employer_credit_code", "facts", "known_on"} <= set(
        response.json()["fields"]
    )
    response = file(api, demo.worker1, demo, organization=demo.org(COUNTY).pk)
    assert response.status_code == 400 and "organization" in response.json()["fields"]
    response = file(api, demo.worker1, demo, organization=999999)
    assert response.status_code == 400 and "organization" in response.json()["fields"]


def test_written_application_by_a_member(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(api, demo.worker1, demo, applicant_id_number="11010519880101105x")
    assert response.status_code == 201
    data = response.json()
    assert (
        data["applicant"]["username"] == "worker1" and data["submitted_by"]["username"] == "worker1"
    )
    assert data["organization"]["name"] == "东湖镇总工会"
    assert data["channel"] == "written" and data["recorded_on_behalf"] is False
    # Normalized, and shown whole to its owner.
    assert data["applicant_id_number"] == "11010519880101105X"
    assert data["amount"] == "8600.00"
    record = MediationCase.objects.get(case_id=data["id"])
    assert record.applicant_id_index == blind_index("11010519880101105X", scope="ric")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT applicant_id_number FROM mediation_mediationcase WHERE case_id = %s",
            [data["id"]],
        )
        stored = cursor.fetchone()[0]
    assert "11010519880101105X" not in stored  # encrypted at rest


def test_only_members_file_and_only_mediators_record_oral_applications(demo, api):
    response = file(api, demo.worker1, demo, channel="oral")
    assert response.status_code == 403
    response = file(api, demo.town_aid1, demo)  # an officer, not a member
    assert response.status_code == 403
    # A mediator of another organization cannot record here either.
    response = file(api, demo.xs_mediator, demo, channel="oral")
    assert response.status_code == 403
    response = file(api, demo.worker1, demo, applicant_username="worker2")
    assert response.status_code == 400 and "applicant_username" in response.json()["fields"]
    assert not Case.objects.exists()


def test_oral_application_recorded_by_a_mediator(demo, api):
    """A worker without an account comes to the room: the mediator records it and is the
    case's applicant of record — and may still mediate it."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(
            api,
            demo.mediator1,
            demo,
            channel="oral",
            applicant_name="无账号工人",
            category="dismissal",
        )
        assert response.status_code == 201
        data = response.json()
        assert data["channel"] == "oral" and data["recorded_on_behalf"] is True
        assert data["applicant"]["username"] == "mediator1"
        assert data["applicant_name"] == "无账号工人"
        case = Case.objects.get(pk=data["id"])
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
        assert task(case, "mediation").owner == demo.mediator1
    # The worker's side of the notifications reaches the recorder, who hands them over.
    assert {"mediation_accepted", "mediation_mediator_assigned"} <= verbs(demo.mediator1, case)


def test_application_recorded_for_a_worker_with_an_account(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(api, demo.mediator2, demo, channel="oral", applicant_username="worker3")
    assert response.status_code == 201
    data = response.json()
    assert data["applicant"]["username"] == "worker3"
    assert data["submitted_by"]["username"] == "mediator2"
    case = Case.objects.get(pk=data["id"])
    assert "mediation_recorded" in verbs(demo.worker3, case)
    assert detail(api, demo.worker3, case)["applicant_id_number"] == ID_NUMBER
    response = file(api, demo.mediator2, demo, applicant_username="mediator2")
    assert response.status_code == 400 and "applicant_username" in response.json()["fields"]


@pytest.mark.parametrize("username", ["xs_aid1", "county_finance", "worker4", "med_head"])
def test_the_named_worker_is_a_member_of_a_union_the_room_serves(demo, api, username):
    """An officer of another town, of the county, a member of another town's union, the head:
    none becomes the worker of a 东湖 case, who would see the worker's ID and phone whole."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(api, demo.mediator1, demo, channel="oral", applicant_username=username)
    assert response.status_code == 400
    assert "applicant_username" in response.json()["fields"]
    assert not Case.objects.exists()


@pytest.mark.parametrize("username, town", [("worker1", XISHAN), ("worker4", DONGHU)])
def test_a_member_files_only_with_a_room_that_serves_their_union(demo, api, username, town):
    """The page offers a member only the rooms over their own union; the API (and the service,
    for any caller) refuses another town's room by the field, and files nothing — that room's
    officers would otherwise read the worker's identifiers."""
    member = demo.user(username)
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(api, member, demo, town=town)
        assert response.status_code == 400
        assert response.json()["fields"]["organization"] == [
            f"{town}不负责您所在的工会：请向负责您所在工会的调解组织申请。"
        ]
        values = {**body(demo, town=town), "claim_amount": Decimal("8600.00")}
        values["known_on"] = date.fromisoformat(values["known_on"])
        values.pop("organization")
        with pytest.raises(Invalid) as refused:
            services.submit_application(user=member, organization=demo.org(town), **values)
        assert set(refused.value.fields) == {"organization"}
        assert not Case.objects.exists()
        # Their own town's room takes it.
        own = DONGHU if town == XISHAN else XISHAN
        assert file(api, member, demo, town=own).status_code == 201


@pytest.mark.parametrize(
    "phone", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "0571-87654321", "87654321"]
)
def test_phone_numbers_as_people_write_them(demo, api, phone):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(
            api,
            demo.worker1,
            demo,
            applicant_phone=phone,
            worker_count=10,
            representatives=[{"name": "甲代表", "phone": phone}],
        )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("phone", ["-----", "+ - +", "12345"])
def test_a_representative_phone_needs_digits(demo, api, phone):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        response = file(
            api,
            demo.worker1,
            demo,
            worker_count=10,
            representatives=[{"name": "甲代表", "phone": phone}],
        )
    assert response.status_code == 400
    assert "representatives.0.phone" in response.json()["fields"]
    assert not Case.objects.exists()


def test_the_service_checks_phones_for_any_caller(demo):
    from cases.mediation import services
    from core.errors import Invalid

    values = {
        "channel": "written",
        "applicant_name": "杨工人",
        "applicant_id_number": ID_NUMBER,
        "applicant_phone": "-----",
        "employer_name": "东湖机械厂",
        "employer_credit_code": "91330100MA2B3C4D5N",
        "category": "pay",
        "claim_amount": Decimal("1.00"),
        "facts": "拖欠工资。",
        "known_on": date(2026, 2, 1),
        "worker_count": 10,
        "representatives": [{"name": "甲代表", "phone": "- -"}],
    }
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False), pytest.raises(Invalid) as refused:
        services.submit_application(
            user=demo.worker1, organization=demo.org("东湖镇总工会"), **values
        )
    assert {"applicant_phone", "representatives"} <= set(refused.value.fields)
    assert not Case.objects.exists()


def test_a_name_other_than_the_account_is_flagged_for_the_head(demo, api):
    """A member files in their own name; another name (or a mediator naming an account whose
    name differs) is not refused — a legal name may differ from the account's — but flagged."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        own = filed(api, demo.worker1, demo, applicant_name="杨 工人")
        other = filed(api, demo.worker2, demo, applicant_name="李四")
        named = filed(api, demo.mediator1, demo, channel="oral", applicant_username="worker3")
        unnamed = filed(api, demo.mediator1, demo, channel="oral", applicant_name="无账号工人")
        assert detail(api, demo.med_head, own)["applicant_name_differs"] is False
        assert detail(api, demo.med_head, other)["applicant_name_differs"] is True
        assert detail(api, demo.med_head, named)["applicant_name_differs"] is True  # 杨工人
        assert detail(api, demo.med_head, unnamed)["applicant_name_differs"] is False


def test_collective_case_acts_through_representatives(demo, api):
    representatives = [
        {"name": "甲代表", "phone": "13900000001"},
        {"name": "乙代表"},
        {"name": "丙代表", "phone": "13900000003"},
    ]
    response = file(api, demo.worker1, demo, worker_count=12)
    assert response.status_code == 400 and "representatives" in response.json()["fields"]
    response = file(api, demo.worker1, demo, worker_count=9, representatives=representatives)
    assert response.status_code == 400 and "representatives" in response.json()["fields"]
    duplicated = [{"name": "甲代表"}, {"name": "甲代表"}]
    response = file(api, demo.worker1, demo, worker_count=12, representatives=duplicated)
    assert response.status_code == 400 and "representatives" in response.json()["fields"]
    response = file(api, demo.worker1, demo, worker_count=12, representatives=[{"phone": "1"}])
    assert response.status_code == 400
    assert "representatives.0.name" in response.json()["fields"]

    response = file(api, demo.worker1, demo, worker_count=12, representatives=representatives)
    assert response.status_code == 201
    data = response.json()
    assert data["collective"] is True and data["worker_count"] == 12
    assert [r["name"] for r in data["representatives"]] == ["甲代表", "乙代表", "丙代表"]
    assert data["representatives"][0]["phone"] == "13900000001"


def test_collective_threshold_is_a_parameter(demo, api):
    from core.models import Parameter

    Parameter.objects.create(
        key="mediation.collective_min_workers",
        organization=demo.org("东湖镇总工会"),
        effective_from=date(2020, 1, 1),
        value=30,
    )
    assert file(api, demo.worker1, demo, worker_count=12).status_code == 201
    response = file(api, demo.worker1, demo, worker_count=12, representatives=[{"name": "甲"}])
    assert response.status_code == 400


@pytest.mark.parametrize(
    "received, due, statutory",
    [
        # Wed 30 Sep: 8 Oct (Thu) and 9 Oct (Fri) after the holiday of 1–7 Oct, then the
        # make-up working Saturday 10 Oct (chinese_calendar 1.11).
        (at(2026, 9, 30, 16, 0), at(2026, 10, 10, 23, 59, 59), at(2026, 10, 15, 23, 59, 59)),
        # Thu 24 Sep: Mid-Autumn (25–27 Sep) is off, 28–30 Sep are working days.
        (at(2026, 9, 24, 9, 0), at(2026, 9, 30, 23, 59, 59), at(2026, 10, 9, 23, 59, 59)),
        # Fri 18 Sep: Sun 20 Sep is a make-up working day before National Day.
        (at(2026, 9, 18, 9, 0), at(2026, 9, 22, 23, 59, 59), at(2026, 10, 3, 23, 59, 59)),
        # Tue 29 Sep: 30 Sep, then 8 and 9 Oct.
        (at(2026, 9, 29, 9, 0), at(2026, 10, 9, 23, 59, 59), at(2026, 10, 14, 23, 59, 59)),
    ],
)
def test_acceptance_due_across_the_2026_national_day_holiday(demo, api, received, due, statutory):
    with time_machine.travel(received, tick=False):
        case = filed(api, demo.worker1, demo, known_on="2026-09-01")
        data = detail(api, demo.worker1, case)
    assert data["acceptance_due_at"] == due.isoformat()
    assert data["open_tasks"][0]["due_at"] == due.isoformat()
    # The statutory term counts calendar days, holidays included.
    assert data["statutory_deadline"] == statutory.isoformat()


@pytest.mark.parametrize(
    "known_on, received, flagged",
    [
        ("2027-03-01", (2028, 3, 1), False),  # one year to the day, across 29 Feb 2028
        ("2027-03-01", (2028, 3, 2), True),
        ("2024-02-29", (2025, 2, 28), False),  # no 29 Feb: the month's last day
        ("2024-02-29", (2025, 3, 1), True),
        ("2027-02-28", (2028, 2, 28), False),
        ("2027-02-28", (2028, 2, 29), True),
    ],
)
def test_limitation_is_a_calendar_year(demo, api, known_on, received, flagged):
    with time_machine.travel(at(*received, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo, known_on=known_on)
        assert detail(api, demo.worker1, case)["limitation_flag"] is flagged


def test_limitation_period_is_a_parameter_in_months(demo, api):
    from core.models import Parameter

    Parameter.objects.create(
        key="mediation.limitation_months", value=24, effective_from=date(2020, 1, 1)
    )
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo, known_on="2024-03-02")
        assert detail(api, demo.worker1, case)["limitation_flag"] is False
        case = filed(api, demo.worker1, demo, known_on="2024-03-01")
        assert detail(api, demo.worker1, case)["limitation_flag"] is True


def test_limitation_flag_after_a_year(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        within = filed(api, demo.worker1, demo, known_on="2025-03-02")  # 365 days
        beyond = filed(api, demo.worker1, demo, known_on="2025-03-01")  # 366 days
        assert detail(api, demo.worker1, within)["limitation_flag"] is False
        assert detail(api, demo.worker1, beyond)["limitation_flag"] is True
        # Flagged, not blocked: the head may still accept it.
        accept(api, demo, beyond)
        assert detail(api, demo.worker1, beyond)["accepted_at"] is not None


def test_identifiers_masked_for_people_outside_the_mediation(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
    masked = "110105********1239"
    for user in (demo.worker1, demo.med_head, demo.mediator2):
        data = detail(api, user, case)
        assert data["applicant_id_number"] == ID_NUMBER, user
        assert data["applicant_phone"] == "13800138000"
    for user in (demo.town_auditor, demo.county_auditor, demo.town_aid1):
        data = detail(api, user, case)
        assert data["applicant_id_number"] == masked, user
        assert data["applicant_phone"] == "138****8000"
    listed = api(demo.county_auditor).get("/api/v1/cases/?process=mediation").json()["results"]
    assert listed[0]["applicant_id_number"] == masked
    listed = api(demo.med_head).get("/api/v1/cases/?process=mediation").json()["results"]
    assert listed[0]["applicant_id_number"] == ID_NUMBER


def test_xishan_officers_see_nothing_of_donghu_cases(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
        for user in (demo.xs_med_head, demo.xs_mediator, demo.xs_aid1, demo.worker4):
            client = api(user)
            assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
            assert client.get("/api/v1/cases/?process=mediation").json()["count"] == 0
            assert client.get(f"/api/v1/cases/{case.pk}/trail/").status_code == 404
            assert client.get("/api/v1/tasks/?view=queue").json()["count"] == 0
            for url in ("notice.pdf", "agreement.pdf", "recusals/"):
                assert client.get(f"/api/v1/mediation-cases/{case.pk}/{url}").status_code == 404
            for url, data in (
                ("sessions/", {"date": "2026-03-02", "attendees": ["x"], "notes": "x"}),
                ("signatures/", {"party": "seal"}),
                ("extensions/", {"worker_consent": True, "employer_consent": True, "days": 5}),
                ("recusals/", {"party": "worker", "reason": "x"}),
            ):
                assert (
                    post(client, f"/api/v1/mediation-cases/{case.pk}/{url}", data).status_code
                    == 404
                )
        # And their own room's cases are theirs alone.
        own = filed(api, demo.worker4, demo, town=XISHAN)
        assert api(demo.xs_med_head).get("/api/v1/cases/?process=mediation").json()["count"] == 1
        assert api(demo.med_head).get(f"/api/v1/cases/{own.pk}/").status_code == 404


def test_idempotent_filing(demo, api):
    client = api(demo.worker1)
    first = client.post(
        "/api/v1/mediation-cases/", body(demo), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = client.post(
        "/api/v1/mediation-cases/", body(demo), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1


def test_case_list_costs_the_same_for_one_or_many(demo, api):
    client = api(demo.med_head)
    filed(api, demo.worker1, demo)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/cases/?process=mediation")
    for _ in range(4):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case)
    with CaptureQueriesContext(connection) as five:
        response = client.get("/api/v1/cases/?process=mediation")
    assert response.json()["count"] == 5
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_calendar_package_on_the_2026_national_day():
    """What the deadlines above rest on (chinese_calendar): 1–7 Oct off, Sun 20 Sep and
    Sat 10 Oct worked, Thu 8 Oct an ordinary working day; Mid-Autumn 25–27 Sep off."""
    import chinese_calendar

    assert not any(chinese_calendar.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert all(
        chinese_calendar.is_workday(date(2026, m, d)) for m, d in ((9, 20), (10, 8), (10, 10))
    )
    assert not any(chinese_calendar.is_workday(date(2026, 9, d)) for d in (25, 26, 27))


@pytest.mark.parametrize(
    "number, message",
    [
        ("000000199003071236", RIC_BAD_REGION),  # a valid check digit; no such region
        ("110105202912310019", RIC_FUTURE_BIRTH),  # born 2029-12-31
    ],
)
def test_the_id_number_is_checked_as_for_aid_naming_what_is_wrong(demo, api, number, message):
    """The same resident-ID rules as a hardship application (cases.identifiers): a region code
    that is no division, a birth in the future; the message says which."""
    response = file(api, demo.worker1, demo, applicant_id_number=number)
    assert response.status_code == 400
    assert response.json()["fields"]["applicant_id_number"] == [str(message)]
