"""A NUL character (U+0000) in a query parameter or a form field is refused with 400 naming
the field, on the API and on the pages alike; PostgreSQL cannot store or compare one, and a
view that filtered on it used to fail with a 500."""

import json
from urllib.parse import urlencode

import pytest

from cases.models import CaseStatus
from tests.helpers import open_task, submit_sample

NUL_MESSAGE = "不能包含空字符（U+0000）。"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tasks/?process=%00",
        "/api/v1/tasks/?view=inbox&step=a%00b",
        "/api/v1/cases/?search=%00",
    ],
)
def test_the_api_refuses_a_null_character_in_a_query_parameter(demo, api, url):
    response = api(demo.chair1).get(url)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    name = url.split("?")[1].split("&")[-1].split("=")[0]
    assert body["fields"] == {name: [NUL_MESSAGE]}
    assert name in body["detail"]


@pytest.mark.parametrize("url", ["/cases/?q=%00", "/cases/?process=%00", "/tasks/?process=%00"])
def test_a_page_refuses_a_null_character_in_a_query_parameter(demo, client, url):
    client.force_login(demo.town_aid1)
    response = client.get(url)
    assert response.status_code == 400
    page = response.content.decode()
    name = url.split("?")[1].split("=")[0]
    assert f"<code>{name}</code>" in page and NUL_MESSAGE in page


def test_a_form_with_a_null_character_is_refused_and_changes_nothing(demo, client):
    case = submit_sample(demo.worker1)
    client.force_login(demo.worker1)
    response = client.post(f"/cases/{case.pk}/withdraw/", {"reason": "不再需要\x00"})
    # The test client sends a multipart body, which the form refuses (a browser's urlencoded
    # one is refused before the view, as a query parameter is).
    assert response.status_code == 400 and f"理由：{NUL_MESSAGE}" in response.content.decode()
    urlencoded = client.post(
        f"/cases/{case.pk}/withdraw/",
        urlencode({"reason": "不再需要\x00"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert urlencoded.status_code == 400 and "<code>reason</code>" in urlencoded.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
    assert not case.trail.filter(action="case.withdrawn").exists()


def test_a_withdrawal_reason_from_the_page_is_held_to_the_api_length(demo, client):
    case = submit_sample(demo.worker1)
    client.force_login(demo.worker1)
    response = client.post(f"/cases/{case.pk}/withdraw/", {"reason": "长" * 2001})
    assert response.status_code == 400 and "理由：" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS


def test_a_json_field_with_a_null_character_gets_the_same_message(demo, api):
    case = submit_sample(demo.worker1)
    task = open_task(case)
    response = api(demo.chair1).post(
        f"/api/v1/tasks/{task.pk}/complete/",
        json.dumps({"decision": "approve", "comment": "\x00"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"comment": [NUL_MESSAGE]}
