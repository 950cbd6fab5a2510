import json
import re

import pytest
from django.core.management import call_command

from cases.models import Case
from organizations.demo import DEMO_PASSWORD, USERS


def test_token_for_every_demo_user(demo, client):
    for username, *_rest in USERS:
        response = client.post(
            "/api/v1/auth/token/",
            {"username": username, "password": DEMO_PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == 200, username
        token = response.json()["token"]
        me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
        assert me.status_code == 200 and me.json()["username"] == username


def test_wrong_password_is_a_400_with_a_message(demo, client):
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "worker1", "password": "nope"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and response.json()["detail"]


def test_unauthenticated_is_401_json(db, client):
    response = client.get("/api/v1/cases/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_a_token_authenticates_its_user_in_one_query(demo, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(demo.chair1)
    client.get("/api/v1/me/")  # warm
    with CaptureQueriesContext(connection) as queries:
        me = client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "chair1"
    token_reads = [q["sql"] for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert len(token_reads) == 1


@pytest.mark.parametrize(
    "header, message",
    [
        ("Token not-a-key", "认证令牌无效。"),
        ("Token", "没有提供认证信息（认证令牌HTTP头无效）。"),
    ],
)
def test_a_bad_token_is_a_401_in_chinese(demo, client, header, message):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"] == message


def test_a_deactivated_users_token_is_a_401(demo, api):
    client = api(demo.chair1)
    assert client.get("/api/v1/me/").status_code == 200
    demo.chair1.__class__.objects.filter(username="chair1").update(is_active=False)
    response = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_the_token_user_is_the_whole_user(demo, api):
    """The user read with the token carries every field (the roles and reach come from them)."""
    from django.test import RequestFactory
    from rest_framework.authtoken.models import Token

    from core.authentication import TokenAuthentication

    key = Token.objects.create(user=demo.town_aid1).key
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    user, token = TokenAuthentication().authenticate(request)
    fresh = type(user).objects.get(pk=demo.town_aid1.pk)
    fields = [f.attname for f in type(user)._meta.concrete_fields]
    assert [getattr(user, f) for f in fields] == [getattr(fresh, f) for f in fields]
    assert token.key == key and token.user is user and token.created is not None
    assert user._state.adding is False and user._state.db == "default"


def test_me_lists_memberships(demo, api):
    me = api(demo.chair1).get("/api/v1/me/").json()
    assert sorted((m["organization"]["name"], m["role"]) for m in me["memberships"]) == [
        ("东湖机械厂工会", "chair"),
        ("东湖机械厂工会", "member"),
    ]


def test_organizations_within_reach(demo, api):
    def names(user):
        return [o["name"] for o in api(user).get("/api/v1/organizations/").json()["results"]]

    assert names(demo.county_auditor) == [
        "示范县总工会",
        "东湖镇总工会",
        "东湖机械厂工会",
        "东湖纺织公司工会",
        "西山镇总工会",
        "西山食品厂工会",
    ]
    assert names(demo.xs_aid1) == ["西山镇总工会", "西山食品厂工会"]
    assert names(demo.worker1) == ["东湖机械厂工会"]
    town = api(demo.town_aid1).get("/api/v1/organizations/").json()["results"]
    by_name = {o["name"]: o for o in town}
    assert by_name["东湖机械厂工会"]["parent"] == by_name["东湖镇总工会"]["id"]
    assert by_name["东湖镇总工会"]["kind"] == "town"


def test_seed_demo_is_idempotent(demo, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "county_aid" in out and DEMO_PASSWORD in out
    from organizations.models import Membership, Organization, User

    assert Organization.objects.count() == 6
    assert User.objects.count() == len(USERS)
    assert Membership.objects.filter(user__username="chair1").count() == 2


def test_schema_and_offline_docs(db, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in (
        "/api/v1/tasks/{id}/complete/",
        "/api/v1/cases/{id}/trail/verify/",
        "/api/v1/notifications/",
    ):
        assert path in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # Every script and stylesheet comes from this server, none from a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
    for asset in [a for a in assets if a.endswith((".js", ".css"))]:
        static = client.get(asset)
        assert static.status_code == 200, asset


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": "x", "amount": "abc"}, "amount"),
        ({"title": "x", "amount": "-5"}, "amount"),
        ({"title": ["not", "a", "string"], "amount": "1"}, "title"),
        ({"title": "x" * 100_000, "amount": "1"}, "title"),
        ({"amount": "1"}, "title"),
        ({"title": "x", "amount": "1" * 40}, "amount"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_creates_nothing(demo, api, body, field):
    response = api(demo.worker1).post("/api/v1/sample-cases/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert Case.objects.count() == 0


def test_malformed_json_is_400(demo, api):
    response = api(demo.worker1).post(
        "/api/v1/sample-cases/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = api(demo.worker1).post(
        "/api/v1/sample-cases/", "[1, 2]", content_type="application/json"
    )
    assert response.status_code == 400


def test_task_complete_with_wrong_types(demo, api):
    from tests.helpers import open_task, submit_sample

    task = open_task(submit_sample(demo.worker1))
    chair = api(demo.chair1)
    for body in (
        {"decision": 5},
        {"decision": "approve", "data": "text"},
        {"decision": "approve", "data": {"zzz": 1}},
    ):
        response = chair.post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["fields"]


def test_unknown_ids_are_404_json(demo, api):
    client = api(demo.county_auditor)
    for url in (
        "/api/v1/cases/999999/",
        "/api/v1/tasks/999999/",
        "/api/v1/cases/999999/trail/verify/",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client.post("/api/v1/tasks/999999/claim/")
    assert response.status_code == 404


def test_idempotency_key_returns_first_result_and_creates_nothing(demo, api):
    client = api(demo.worker1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    first = client.post(
        "/api/v1/sample-cases/", {"title": "x", "amount": "1"}, format="json", **headers
    )
    second = client.post(
        "/api/v1/sample-cases/", {"title": "x", "amount": "1"}, format="json", **headers
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] == second.json()["number"]
    assert Case.objects.count() == 1
    reused = client.post(
        "/api/v1/sample-cases/", {"title": "y", "amount": "1"}, format="json", **headers
    )
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    # Another user's identical key is theirs alone.
    other = api(demo.worker2).post(
        "/api/v1/sample-cases/", {"title": "x", "amount": "1"}, format="json", **headers
    )
    assert other.status_code == 201 and Case.objects.count() == 2


def test_failed_request_is_not_remembered_under_its_key(demo, api):
    client = api(demo.worker1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    assert (
        client.post("/api/v1/sample-cases/", {"title": "x"}, format="json", **headers).status_code
        == 400
    )
    ok = client.post(
        "/api/v1/sample-cases/", {"title": "x", "amount": "2"}, format="json", **headers
    )
    assert ok.status_code == 201


def test_error_body_is_json_with_detail_and_code(demo, api):
    response = api(demo.worker1).post("/api/v1/sample-cases/", {}, format="json")
    body = json.loads(response.content)
    assert {"detail", "code", "fields"} <= set(body)


def test_unknown_api_url_is_json_404(demo, api):
    response = api(demo.worker1).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["detail"]


def test_openapi_schema_is_valid_and_complete(db, tmp_path):
    """Every endpoint documented with its types: the schema validates with warnings as errors."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    schema = (tmp_path / "s.yml").read_text()
    for path in (
        "/api/v1/tasks/{id}/add-approver/",
        "/api/v1/tasks/{id}/send-back/",
        "/api/v1/cases/{id}/withdraw/",
        "/api/v1/delegations/",
    ):
        assert path in schema
