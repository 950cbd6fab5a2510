"""The task lists' step filter (环节): the step's code, as the API always took it, or the
title the list shows, in the active language — on the page and through the API alike."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Q

from approvals import selectors
from cases.models import Case
from tests.helpers import post, submit_sample

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def two_steps(demo, api):
    """In chair1's queue: a remittance declaration to approve (chair_approval, 审核申报) and a
    sample case to review (review, "Review")."""
    with time_machine.travel(datetime(2026, 2, 5, 10, tzinfo=SHANGHAI), tick=False):
        body = {"period": "2026-01", "payroll_total": "100000", "headcount": 10, "member_count": 8}
        response = post(api(demo.treasurer1), "/api/v1/fee-remittances/", body)
        assert response.status_code == 201
    remittance = Case.objects.get(pk=response.json()["id"])
    return remittance, submit_sample(demo.worker1)


def _page(client, step, **headers):
    response = client.get("/tasks/", {"view": "queue", "step": step}, **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("step", ["审核申报", " 审核申报 ", "chair_approval", "申报"])
def test_the_page_filters_by_the_title_it_shows_or_the_code(demo, client, two_steps, step):
    remittance, sample = two_steps
    client.force_login(demo.chair1)
    page = _page(client, step)
    assert remittance.number in page and sample.number not in page


def test_the_title_in_english_when_the_page_is_in_english(demo, client, two_steps):
    remittance, sample = two_steps
    client.force_login(demo.chair1)
    page = _page(client, "approve the declaration", HTTP_ACCEPT_LANGUAGE="en")
    assert remittance.number in page and sample.number not in page


def test_a_step_nobody_has_finds_nothing(demo, client, two_steps):
    remittance, sample = two_steps
    client.force_login(demo.chair1)
    page = _page(client, "核实到账")  # verification: not in the chair's queue
    assert remittance.number not in page and sample.number not in page
    page = _page(client, "no such step")
    assert remittance.number not in page and sample.number not in page


def test_the_api_takes_codes_as_before_and_titles_too(demo, api, two_steps):
    chair = api(demo.chair1)

    def count(step, **headers):
        response = chair.get("/api/v1/tasks/", {"view": "queue", "step": step}, **headers)
        assert response.status_code == 200
        return response.json()["count"]

    assert count("chair_approval") == 1 and count("review") == 1
    assert count("审核申报") == 1
    assert count("Approve the declaration", HTTP_ACCEPT_LANGUAGE="en") == 1
    assert count("核实到账") == 0 and count("verification") == 0


def test_a_code_means_that_step_only():
    """A code is not also read as a part of titles: `review` is the step so named, not every
    step with "review" in its English title."""
    assert selectors.step_q("review") == Q(flow_task__endswith=".review")
