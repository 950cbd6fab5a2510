"""A task list reads a page and its total in one statement (core.rest.OneReadPaginator): the
inbox through a statement each process builds once (approvals.selectors.InboxPages), every
other list — filtered, the queue, the archive — through the ORM (core.rest.PagesWithTotal).
Page by page, refusals included, the inbox answers what the filtered path answers, and each
list holds the rows and the count of Django's own paginator (a count, then the page)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services
from tests.helpers import open_task, submit_sample

INBOX = "/api/v1/tasks/?view=inbox&page_size=3"
# The same inbox through the ORM: every task here is of the sample process.
FILTERED = INBOX + "&process=sample"


@pytest.fixture
def seven_claimed(demo):
    for i in range(7):
        task = open_task(submit_sample(demo.worker1, title=f"Sample {i}"))
        services.claim(task_id=task.pk, user=demo.chair1)


def _same_but_links(one, other):
    assert one.status_code == other.status_code
    a, b = one.json(), other.json()
    for body in (a, b):
        for link in ("next", "previous"):
            if body.get(link):
                body[link] = body[link].replace("&process=sample", "")
    assert a == b


def test_every_page_is_what_the_two_read_path_gives(demo, api, seven_claimed):
    chair = api(demo.chair1)
    seen = []
    for page in ("1", "2", "3", "last"):
        got = chair.get(f"{INBOX}&page={page}")
        _same_but_links(got, chair.get(f"{FILTERED}&page={page}"))
        body = got.json()
        assert body["count"] == 7
        seen += [t["id"] for t in body["results"]] if page != "last" else []
    assert len(seen) == len(set(seen)) == 7
    first, last = chair.get(f"{INBOX}&page=1").json(), chair.get(f"{INBOX}&page=3").json()
    assert first["previous"] is None and "page=2" in first["next"]
    assert last["next"] is None and len(last["results"]) == 1


@pytest.mark.parametrize("page", ["4", "0", "-1", "abc", "1.5"])
def test_a_page_that_is_not_there_is_refused_as_on_every_list(demo, api, seven_claimed, page):
    chair = api(demo.chair1)
    got = chair.get(f"{INBOX}&page={page}")
    assert got.status_code == 404
    _same_but_links(got, chair.get(f"{FILTERED}&page={page}"))


def test_an_empty_inbox_is_one_empty_page(demo, api):
    got = api(demo.chair2).get(INBOX).json()
    assert (got["count"], got["results"], got["next"]) == (0, [], None)
    assert api(demo.chair2).get(f"{INBOX}&page=2").status_code == 404


def test_a_page_and_its_total_are_one_read(demo, api, seven_claimed):
    chair = api(demo.chair1)
    chair.get(INBOX)
    with CaptureQueriesContext(connection) as queries:
        assert chair.get(f"{INBOX}&page=2").json()["count"] == 7
    task_reads = [q["sql"] for q in queries if "approvals_casetask" in q["sql"]]
    assert len(task_reads) == 1 and "COUNT(" in task_reads[0] and "OVER ()" in task_reads[0]


@pytest.mark.parametrize("view", ["queue", "archive", "inbox&process=sample"])
def test_every_list_is_one_read_per_page_and_pages_as_djangos_paginator(demo, api, view):
    """Seven sample tasks offered to chair1 (the queue), claimed (the inbox), or decided (the
    archive): each page holds the rows and the count Django's paginator gives, in one read."""
    from django.core.paginator import Paginator

    from approvals import selectors

    tasks = [open_task(submit_sample(demo.worker1, title=f"Sample {i}")) for i in range(7)]
    for task in tasks if view != "queue" else ():
        services.claim(task_id=task.pk, user=demo.chair1)
        if view == "archive":
            services.complete(task_id=task.pk, user=demo.chair1, decision="approve")
    name = view.split("&")[0]
    order = "-finished" if name == "archive" else "created"
    expected = Paginator(
        getattr(selectors, name)(demo.chair1).order_by(order, "pk").values_list("pk", flat=True),
        3,
    )
    chair = api(demo.chair1)
    url = f"/api/v1/tasks/?view={view}&page_size=3"
    chair.get(url)
    for number in (1, 2, 3):
        with CaptureQueriesContext(connection) as queries:
            body = chair.get(f"{url}&page={number}").json()
        assert body["count"] == expected.count == 7
        assert [t["id"] for t in body["results"]] == list(expected.page(number).object_list)
        task_reads = [q["sql"] for q in queries if "approvals_casetask" in q["sql"]]
        assert len(task_reads) == 1 and "OVER ()" in task_reads[0]
    assert chair.get(f"{url}&page=4").status_code == 404
