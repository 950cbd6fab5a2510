"""A request Django cannot read (too large a body, too many fields) answers 400 in the API's
error format under /api/ and with the 400 page elsewhere, saying which limit it broke."""

import json
from urllib.parse import urlencode

from django.conf import settings

MANY_FIELDS = urlencode([(f"f{i}", "1") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)])


def test_the_api_refuses_too_large_a_body_in_its_error_format(demo, api):
    body = json.dumps({"reason": "长" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = api(demo.worker1).post(
        "/api/v1/hardship-applications/", body, content_type="application/json"
    )
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "请求正文过大。", "code": "bad_request"}


def test_the_api_refuses_too_many_parameters_in_its_error_format(demo, api):
    response = api(demo.chair1).get(f"/api/v1/cases/?{MANY_FIELDS}")
    assert response.status_code == 400
    assert response.json() == {"detail": "请求的字段过多。", "code": "bad_request"}


def test_a_page_refuses_too_many_parameters_with_the_400_page(demo, client):
    client.force_login(demo.chair1)
    response = client.get(f"/cases/?{MANY_FIELDS}")
    assert response.status_code == 400
    assert "请求的字段过多。" in response.content.decode()


def test_a_json_body_nested_past_the_recursion_limit_is_bad_json(demo, api):
    depth = 50_000
    body = '{"decision": "approve", "data": ' + "[" * depth + "]" * depth + "}"
    response = api(demo.chair1).post(
        "/api/v1/hardship-applications/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON 嵌套层数过多。", "code": "parse_error"}
