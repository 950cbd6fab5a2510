"""Resident ID numbers of the applicant and of the child: the message names what is wrong (the
region code is not the birth date), and a birth date in the future or implausibly far back
is refused — through the API and on the application page alike."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework import serializers

from cases.hardship.api import validate_ric
from cases.hardship.models import HardshipApplication
from cases.identifiers import RIC_BAD_DATE, RIC_BAD_REGION, RIC_FUTURE_BIRTH, RIC_TOO_OLD
from cases.models import Case

from .helpers import apply, ric_number
from .test_pages import APPLY, field_error, form_body, html

TODAY = date(2026, 3, 9)
MORNING = datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

REGION_000000 = "000000199003071236"  # a valid check digit; no such region
BORN_2029 = "110105202912310019"  # born 2029-12-31
BORN_1800 = "110105180001011005"  # born 1800-01-01
MONTH_13 = ric_number(1, birth="19801301")


def message(value):
    with pytest.raises(serializers.ValidationError) as refused:
        validate_ric(value, today=TODAY)
    [text] = refused.value.detail
    return str(text)


def test_the_message_names_the_part_that_is_wrong():
    assert message(REGION_000000) == str(RIC_BAD_REGION)
    assert message(MONTH_13) == str(RIC_BAD_DATE)
    assert message(BORN_2029) == str(RIC_FUTURE_BIRTH)
    assert message(BORN_1800) == str(RIC_TOO_OLD % {"years": 120})
    assert len({message(n) for n in (REGION_000000, MONTH_13, BORN_2029, BORN_1800)}) == 4


def test_plausible_birth_dates_pass():
    assert validate_ric(ric_number(1, birth="19800101"), today=TODAY)
    assert validate_ric(ric_number(1, birth="20260309"), today=TODAY)  # born today
    assert validate_ric(ric_number(1, birth="19100101"), today=TODAY)  # 116 years old


@pytest.mark.parametrize("number", [REGION_000000, BORN_2029, BORN_1800])
def test_the_api_refuses_them_for_the_applicant_and_the_child(demo, api, number):
    with time_machine.travel(MORNING, tick=False):
        own = apply(api, demo.worker1, id_number=number)
        child = apply(
            api, demo.worker1, aid_type="education", child_name="小明", child_id_number=number
        )
    assert own.status_code == 400 and list(own.json()["fields"]) == ["id_number"]
    assert child.status_code == 400 and list(child.json()["fields"]) == ["child_id_number"]
    assert own.json()["fields"]["id_number"] == [message(number)]
    assert child.json()["fields"]["child_id_number"] == [message(number)]
    assert not HardshipApplication.objects.exists()


@pytest.mark.parametrize("number", [REGION_000000, BORN_2029, BORN_1800])
def test_the_page_shows_the_same_message_next_to_the_field(demo, browser_client, number):
    client = browser_client(demo.worker1)
    with time_machine.travel(MORNING, tick=False):
        own = client.post(APPLY, form_body(id_number=number))
        child = client.post(
            APPLY,
            form_body(aid_type="education", child_name="小明", child_id_number=number),
        )
    assert own.status_code == 400 and child.status_code == 400
    assert field_error(html(own), "id_number") == message(number)
    assert field_error(html(child), "child_id_number") == message(number)
    assert not Case.objects.exists()
