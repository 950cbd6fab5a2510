"""Submitting an application: input checks (400 per field, nothing written), who may submit
for whom, duplicate rules (409), ID numbers encrypted at rest and masked for others, and the
case JSON."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.hardship.models import HardshipApplication
from cases.models import Case
from notifications.models import Notification

from .helpers import URL, application, apply, post, ric_number, submit

SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- Bad input --------------------------------------------------------------------------------

BAD_INPUT = [
    ({"id_number": "110105198001010017"}, "id_number"),  # wrong check digit
    ({"id_number": "11010519800101001"}, "id_number"),  # 17 characters
    ({"id_number": "11010519801301001X"}, "id_number"),  # month 13
    ({"id_number": "ABCDEFGHIJKLMNOPQR"}, "id_number"),
    ({"household_size": 0}, "household_size"),
    ({"household_size": -2}, "household_size"),
    ({"household_size": 500}, "household_size"),
    ({"annual_income": "-1.00"}, "annual_income"),
    ({"annual_income": "1000000000000"}, "annual_income"),
    ({"annual_income": "12.345"}, "annual_income"),
    ({"annual_income": "lots"}, "annual_income"),
    ({"rigid_expenses": "-5"}, "rigid_expenses"),
    ({"requested_amount": "0"}, "requested_amount"),
    ({"requested_amount": "-100"}, "requested_amount"),
    ({"requested_amount": "99999999"}, "requested_amount"),
    ({"reason": ""}, "reason"),
    ({"aid_type": "lottery"}, "aid_type"),
    ({"aid_type": "education"}, "child_name"),
    ({"aid_type": "education", "child_name": "小明"}, "child_id_number"),
    ({"aid_type": "education", "child_name": "小明", "child_id_number": "123"}, "child_id_number"),
    (
        {"aid_type": "education", "child_name": "小明", "child_id_number": ric_number(1)},
        "child_id_number",
    ),
    ({"child_name": "小明"}, "child_name"),
    ({"accident_or_illness": True}, "hardship_costs"),
    ({"accident_or_illness": True, "hardship_costs": "-1"}, "hardship_costs"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUT)
def test_bad_input_is_refused_per_field_and_writes_nothing(demo, api, overrides, field):
    response = apply(api, demo.worker1, **overrides)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"], body
    assert all(isinstance(m, str) and m for m in body["fields"][field])
    assert Case.objects.count() == 0 and HardshipApplication.objects.count() == 0


def test_missing_fields_are_named(demo, api):
    response = post(api(demo.worker1), URL, {})
    assert response.status_code == 400
    assert {
        "aid_type",
        "id_number",
        "household_size",
        "annual_income",
        "rigid_expenses",
        "requested_amount",
        "reason",
    } <= set(response.json()["fields"])


def test_id_numbers_are_normalized(demo, api):
    number = next(n for n in map(ric_number, range(1000)) if n.endswith("X"))
    body = apply(api, demo.worker1, id_number=number.lower()).json()
    assert body["id_number"] == number


# --- Who submits for whom -------------------------------------------------------------------


def test_a_member_applies_in_their_union(demo, api):
    body = apply(api, demo.worker1).json()
    assert body["process"] == "hardship" and body["number"].startswith("KN-")
    assert body["organization"]["name"] == "东湖机械厂工会"
    assert body["applicant"]["username"] == body["submitted_by"]["username"] == "worker1"
    assert body["amount"] == body["requested_amount"] == "800.00"
    assert [t["step"] for t in body["open_tasks"]] == ["grassroots_review"]
    assert body["open_tasks"][0]["candidates"]["role"] == "chair"
    # The computed values are returned, not left to the client.
    assert body["per_capita_income"] == "500.00"  # (24000 − 6000) / 12 / 3
    assert body["proposed_category"] == "deep"
    assert body["living_standard"] == "900.00"
    for key in ("approved_amount", "notice_ends_at", "register_entry"):
        assert body[key] is None


def test_a_chair_submits_for_a_member_of_their_union(demo, api):
    response = apply(api, demo.chair1, on_behalf_of="worker2", id_number=ric_number(2))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["applicant"]["username"] == "worker2"
    assert body["submitted_by"]["username"] == "chair1"
    assert body["id_number"] == ric_number(2)  # the submitter sees what they entered
    case = Case.objects.get(pk=body["id"])
    assert case.trail.get(action="case.submitted").data["applicant"] == "worker2"
    assert Notification.objects.filter(
        recipient=demo.worker2, verb="hardship_submitted_for_you", case=case
    ).exists()
    # The member follows their case.
    assert api(demo.worker2).get(f"/api/v1/cases/{case.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("submitter", "target", "status"),
    [
        ("chair1", "worker3", 403),  # a member of another union
        ("chair2", "worker1", 403),  # chair of another union
        ("worker2", "worker1", 403),  # not a chair
        ("chair1", "nobody-here", 400),
    ],
)
def test_submitting_for_others_is_limited(demo, api, submitter, target, status):
    response = apply(api, demo.user(submitter), on_behalf_of=target)
    assert response.status_code == status, response.json()
    if status == 400:
        assert "on_behalf_of" in response.json()["fields"]
    assert Case.objects.count() == 0


def test_only_members_apply(demo, api):
    assert apply(api, demo.town_aid1).status_code == 403
    assert api().post(URL, application(), format="json").status_code == 401


def test_idempotency_key_creates_once(demo, api):
    client = api(demo.worker1)
    first = client.post(URL, application(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(URL, application(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and Case.objects.count() == 1


# --- Duplicates ------------------------------------------------------------------------------


def test_one_open_case_per_person_and_aid_type(demo, api):
    first = submit(api, demo.worker1)
    again = apply(api, demo.worker1)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_open_application"
    assert first.number in again.json()["detail"]  # the applicant may see which case
    # Another aid type is fine; the same person under another account is not.
    assert apply(api, demo.worker1, aid_type="emergency").status_code == 201
    other_account = apply(api, demo.worker2)  # worker1's ID number
    assert other_account.status_code == 409
    assert first.number not in other_account.json()["detail"]  # not in worker2's reach
    # Once the first case is closed, a new one may be filed.
    post(api(demo.worker1), f"/api/v1/cases/{first.pk}/withdraw/", {"reason": "mistake"})
    assert apply(api, demo.worker1).status_code == 201


def _education(child_seq=50, **overrides):
    return {
        "aid_type": "education",
        "child_name": "小明",
        "child_id_number": ric_number(child_seq, birth="20080101"),
        **overrides,
    }


def test_education_once_per_child_per_year(demo, api):
    first = submit(api, demo.worker1, **_education())
    # The other parent, for the same child, the same year.
    again = apply(api, demo.worker2, id_number=ric_number(2), **_education())
    assert again.status_code == 409 and again.json()["code"] == "education_once_per_year"
    # Another child is fine.
    assert apply(api, demo.worker2, id_number=ric_number(2), **_education(51)).status_code == 201
    # A withdrawn application does not use up the year.
    post(api(demo.worker1), f"/api/v1/cases/{first.pk}/withdraw/", {"reason": "wrong form"})
    assert apply(api, demo.worker1, **_education()).status_code == 201


def test_education_again_next_year(demo, api):
    """The year is the submission's: the same child again the next year is fine."""
    with time_machine.travel(datetime(2025, 9, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        submit(api, demo.worker1, **_education())
        assert apply(api, demo.worker2, id_number=ric_number(2), **_education()).status_code == 409
    with time_machine.travel(datetime(2026, 9, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        assert apply(api, demo.worker2, id_number=ric_number(2), **_education()).status_code == 201


# --- Resident ID numbers: encrypted at rest, masked for others ------------------------------


def test_id_numbers_are_not_readable_in_the_database(demo, api):
    number, child = ric_number(1), ric_number(60, birth="20080101")
    submit(api, demo.worker1, **_education(60))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, child_id_number, id_index FROM hardship_hardshipapplication"
        )
        raw = cursor.fetchone()
    assert number not in " ".join(raw) and child not in " ".join(raw)
    assert number[6:14] not in raw[0]  # not even the birth date
    record = HardshipApplication.objects.get()
    assert record.id_number == number and record.child_id_number == child
    # The trail keeps only masked numbers.
    event = record.case.trail.get(action="case.submitted")
    assert event.data["id_number"] == "110105********" + number[-4:]
    assert number not in str(event.data) and child not in str(event.data)


def test_id_numbers_are_masked_except_for_the_applicant_and_acting_officers(demo, api):
    number = ric_number(1)
    case = submit(api, demo.worker1, **_education(61))
    child = ric_number(61, birth="20080101")
    masked = f"{number[:6]}********{number[-4:]}"

    def seen_by(user):
        body = api(user).get(f"/api/v1/cases/{case.pk}/").json()
        return body["id_number"], body["child_id_number"], body["id_numbers_masked"]

    assert seen_by(demo.worker1) == (number, child, False)
    for officer in (demo.chair1, demo.town_aid1, demo.county_aid, demo.county_auditor):
        assert seen_by(officer) == (masked, f"{child[:6]}********{child[-4:]}", True)
    # In lists too.
    listed = api(demo.county_auditor).get("/api/v1/cases/?process=hardship").json()["results"]
    assert listed[0]["id_number"] == masked
    # Once the chair takes the task, they act on the case and see it whole.
    [task] = case.tasks.filter(flow_task_type="HUMAN")
    assert post(api(demo.chair1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    assert seen_by(demo.chair1) == (number, child, False)
    assert seen_by(demo.town_aid1)[2] is True


def test_case_lists_cost_the_same_for_one_or_many(demo, api):
    client = api(demo.county_aid)
    submit(api, demo.worker1)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/cases/?process=hardship").status_code == 200
        return len(ctx.captured_queries)

    one = count()
    submit(api, demo.worker2, id_number=ric_number(2))
    submit(api, demo.worker3, id_number=ric_number(3))
    submit(api, demo.worker4, id_number=ric_number(4))
    assert count() == one
