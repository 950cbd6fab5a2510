"""/api/v1/notifications/: the caller's own inbox."""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from notifications.models import Notification

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/"
_events = itertools.count(1)


@pytest.fixture
def member(make_user):
    return make_user("member")


@pytest.fixture
def client_of():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def add(member):
    """add(n, user=member, case=None, read=False) → notifications, the last one newest."""

    def make(n=1, *, user=None, case=None, read=False):
        now = timezone.now()
        rows = [
            Notification.objects.create(
                recipient=user or member,
                case=case,
                event=f"test:{next(_events)}",
                verb="task_created",
                title=f"待办 {i}",
                created_at=now - timedelta(minutes=n - i),
                read_at=now if read else None,
            )
            for i in range(n)
        ]
        return rows

    return make


def test_list_shows_only_my_notifications_newest_first(
    member, make_user, make_case, add, client_of
):
    case = make_case()
    older, newer = add(2, case=case)
    add(3, user=make_user())

    response = client_of(member).get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [n["id"] for n in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0] == {
        "id": newer.pk,
        "verb": "task_created",
        "title": "待办 1",
        "body": "",
        "case": {"id": case.pk, "number": case.number},
        "data": {},
        "created_at": body["results"][0]["created_at"],
        "read_at": None,
        "read": False,
    }


def test_unread_filter(member, add, client_of):
    [unread] = add(1)
    [read] = add(1, read=True)
    client = client_of(member)

    def ids(query):
        response = client.get(LIST + query)
        assert response.status_code == 200
        return [n["id"] for n in response.json()["results"]]

    assert ids("?unread=true") == [unread.pk]
    assert ids("?unread=false") == [read.pk]
    assert sorted(ids("")) == sorted([unread.pk, read.pk])
    bad = client.get(LIST + "?unread=maybe")
    assert bad.status_code == 400 and "unread" in bad.json()["fields"]


def test_mark_one_read(member, add, client_of):
    first, second = add(2)
    client = client_of(member)

    response = client.post(f"{LIST}{first.pk}/read/")

    assert response.status_code == 200
    assert response.json()["id"] == first.pk and response.json()["read"] is True
    read_at = response.json()["read_at"]
    assert read_at is not None
    # Again: still read, first time kept.
    assert client.post(f"{LIST}{first.pk}/read/").json()["read_at"] == read_at
    assert client.get(LIST + "unread-count/").json() == {"unread": 1}


def test_another_users_notification_is_not_found(member, make_user, add, client_of):
    [theirs] = add(1, user=make_user())

    response = client_of(member).post(f"{LIST}{theirs.pk}/read/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_only_mine(member, make_user, add, client_of):
    add(3)
    add(1, read=True)
    [theirs] = add(1, user=make_user())
    client = client_of(member)
    assert client.get(LIST + "unread-count/").json() == {"unread": 3}

    response = client.post(LIST + "read-all/")

    assert response.status_code == 200 and response.json() == {"marked": 3}
    assert client.get(LIST + "unread-count/").json() == {"unread": 0}
    assert client.post(LIST + "read-all/").json() == {"marked": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", LIST),
        ("get", LIST + "unread-count/"),
        ("post", LIST + "1/read/"),
        ("post", LIST + "read-all/"),
    ],
)
def test_anonymous_gets_401(method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_token_authentication_works(member, add, api):
    add(1)
    assert api(member).get(LIST).json()["count"] == 1


def test_list_costs_the_same_queries_for_1_or_20_rows(member, make_case, add, client_of):
    client = client_of(member)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST)
        assert response.status_code == 200
        return len(ctx), response.json()["count"]

    add(1, case=make_case())
    one, count = queries()
    assert count == 1
    for _ in range(19):
        add(1, case=make_case())
    twenty, count = queries()
    assert count == 20
    assert one == twenty


def test_the_endpoints_are_documented():
    # Only this app's URLs, mounted as in project/api_urls.py: the test stays about them.
    generator = SchemaGenerator(patterns=[path("api/v1/", include("notifications.api"))])
    schema = generator.get_schema(request=None, public=True)
    paths = schema["paths"]
    listing = paths["/api/v1/notifications/"]["get"]
    assert listing["tags"] == ["notifications"]
    assert "unread" in {p["name"] for p in listing["parameters"]}
    assert {"200", "400", "401"} <= set(listing["responses"])
    [read_path] = [p for p in paths if p.endswith("/read/") and "{" in p]
    assert {"200", "401", "404"} <= set(paths[read_path]["post"]["responses"])
    assert "/api/v1/notifications/read-all/" in paths
    assert "/api/v1/notifications/unread-count/" in paths
