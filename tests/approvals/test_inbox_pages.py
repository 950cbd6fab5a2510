"""The inbox reads a page and its total in one statement (approvals.selectors.InboxPages,
core.rest.OneReadPaginator); what the list answers is the same as the two-statement path that
every filtered list takes, page by page, including the refusals."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services
from tests.helpers import open_task, submit_sample

INBOX = "/api/v1/tasks/?view=inbox&page_size=3"
# The same inbox through the ORM's two reads: every task here is of the sample process.
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
