"""What the API fuzzing found, pinned down one by one: bad query input is a 400 naming the
parameter, empty optional parameters mean "not given", and successful answers match the schema
(which the fuzzer's random data rarely reaches)."""

import pytest
import schemathesis
from django.core.management import call_command

from tests.fuzz.test_api_fuzz import CHECKS, InProcessApp
from tests.hardship.helpers import application
from tests.mediation.helpers import body as mediation_body


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/cases/?page_size=abc", "page_size"),
        ("/api/v1/cases/?page_size=0", "page_size"),
        ("/api/v1/tasks/?page_size=-3", "page_size"),
        ("/api/v1/hardship-register/?status=AAA", "status"),
        ("/api/v1/hardship-register/?category=nonsense", "category"),
        # Year 1132 came back with Shanghai's local mean time offset (+08:05:43), which is not
        # a valid RFC 3339 date-time; year 9999 overflows at the period's end.
        ("/api/v1/reports/summary/?from=1132-07-20", "from"),
        ("/api/v1/reports/summary/?to=9999-12-31", "to"),
        ("/api/v1/reports/cases/?figure=hardship.disbursed&from=1899-12-31", "from"),
        ("/api/v1/reports/cases/?to=AAA", "to"),  # checked even without a figure
        ("/api/v1/cases/?overdue=-58800", "overdue"),
        ("/api/v1/tasks/?overdue=maybe", "overdue"),
        ("/api/v1/reports/cases/?overdue=yes", "overdue"),
        ("/api/v1/reports/cases.csv?process=AAA", "process"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(demo, api, url, field):
    response = api(demo.county_aid).get(url)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_page_size_above_the_maximum_is_capped_and_empty_is_the_default(demo, api):
    client = api(demo.admin)
    assert client.get("/api/v1/organizations/?page_size=1").json()["next"] is not None
    capped = client.get("/api/v1/organizations/?page_size=100000")
    assert capped.status_code == 200 and capped.json()["next"] is None
    assert client.get("/api/v1/organizations/?page_size=").status_code == 200


def test_an_empty_view_is_the_inbox(demo, api):
    client = api(demo.chair1)
    response = client.get("/api/v1/tasks/?view=")
    assert response.status_code == 200
    assert response.json() == client.get("/api/v1/tasks/?view=inbox").json()


@pytest.fixture
def schema(db):
    return schemathesis.openapi.from_wsgi("/api/schema/", InProcessApp())


def _validated_post(schema, api, user, path, body):
    """POST through schemathesis, so the answer is checked against the schema."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    case = schema[path]["POST"].Case(body=body, media_type="application/json")
    response = case.call_and_validate(
        headers={"Authorization": f"Token {token.key}"}, checks=CHECKS
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_each_process_creates_a_case_shaped_as_documented(demo, api, schema):
    hardship = _validated_post(
        schema, api, demo.worker1, "/api/v1/hardship-applications/", application()
    )
    mediation = _validated_post(
        schema, api, demo.worker1, "/api/v1/mediation-cases/", mediation_body(demo)
    )
    remittance = _validated_post(
        schema,
        api,
        demo.treasurer1,
        "/api/v1/fee-remittances/",
        {"period": "2026-01", "payroll_total": "100000.00", "headcount": 120, "member_count": 100},
    )
    assert [c["process"] for c in (hardship, mediation, remittance)] == [
        "hardship",
        "mediation",
        "remittance",
    ]
    assert remittance["fund_due"] == "2000.00"  # the process fields the schema now documents


def test_seeded_cases_and_their_tasks_read_as_documented(demo, api, schema):
    """Every seeded case and task, read by an officer who reaches it, matches the schema."""
    from rest_framework.authtoken.models import Token

    from approvals.models import CaseTask
    from cases.models import Case

    call_command("seed_cases")
    token, _ = Token.objects.get_or_create(user=demo.county_auditor)
    headers = {"Authorization": f"Token {token.key}"}
    for case in Case.objects.all():
        for path in ("/api/v1/cases/{id}/", "/api/v1/cases/{id}/trail/"):
            call = schema[path]["GET"].Case(path_parameters={"id": case.pk})
            assert call.call_and_validate(headers=headers, checks=CHECKS).status_code == 200
    admin_token, _ = Token.objects.get_or_create(user=demo.admin)
    statuses = set()
    for task in CaseTask.objects.filter(flow_task_type="HUMAN"):
        call = schema["/api/v1/tasks/{id}/"]["GET"].Case(path_parameters={"id": task.pk})
        response = call.call_and_validate(
            headers={"Authorization": f"Token {admin_token.key}"}, checks=CHECKS
        )
        statuses.add(response.status_code)
    assert 200 in statuses and statuses <= {200, 404}


def test_every_operation_documents_its_errors_and_its_success_body(db, client):
    """Each operation lists the errors it can answer (401 for a bad token everywhere, 404 for
    a missing object or page, 409 wherever an Idempotency-Key may be sent: the key used for a
    different request) and what a success returns (POST /fee-remittances/ had none;
    POST /reports/exports/ did not list its 409, found by fuzzing with 60 examples)."""
    paths = client.get("/api/schema/?format=json").json()["paths"]
    idempotent = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "Idempotency-Key" in headers:
                idempotent.append((method, path))
                assert "409" in responses, (method, path)
    # Every POST that honours the key documents it (the delegations and the remittance
    # import honoured it undocumented).
    assert sorted(path for _method, path in idempotent) == [
        "/api/v1/cases/{id}/attachments/",
        "/api/v1/cases/{id}/objections/",
        "/api/v1/delegations/",
        "/api/v1/fee-remittances/",
        "/api/v1/fee-remittances/imports/",
        "/api/v1/hardship-applications/",
        "/api/v1/mediation-cases/",
        "/api/v1/mediation-cases/{id}/extensions/",
        "/api/v1/mediation-cases/{id}/recusals/",
        "/api/v1/mediation-cases/{id}/sessions/",
        "/api/v1/mediation-cases/{id}/signatures/",
        "/api/v1/reports/exports/",
        "/api/v1/sample-cases/",  # the test suite's own flow
        "/api/v1/tasks/{id}/add-approver/",
        "/api/v1/tasks/{id}/cc/",
        "/api/v1/tasks/{id}/claim/",
        "/api/v1/tasks/{id}/complete/",
        "/api/v1/tasks/{id}/release/",
        "/api/v1/tasks/{id}/send-back/",
        "/api/v1/tasks/{id}/transfer/",
        "/api/v1/tasks/{id}/urge/",
    ]
    created = paths["/api/v1/fee-remittances/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Case"}
