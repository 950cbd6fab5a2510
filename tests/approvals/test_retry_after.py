"""A refusal that says when to try again (a domain error's `retry_after`, e.g. an urge within
the interval) is answered with Retry-After, by the API's error handler and by the pages, for
every operation and not only the one that sets it."""

from core.errors import Conflict, Throttled
from core.rest import exception_handler
from tests.helpers import complete, open_tasks, post, submit


def test_any_domain_error_that_says_when_gets_retry_after_from_the_api():
    later = Conflict("Busy.", retry_after=30)
    response = exception_handler(later, {})
    assert response.status_code == 409 and response["Retry-After"] == "30"
    assert response.data == {"detail": "Busy.", "code": "conflict"}
    assert "Retry-After" not in exception_handler(Throttled(), {})


def _at_approval(demo, api):
    case = submit("sample", demo.worker1)
    complete(api(demo.chair1), open_tasks(case)[0])
    [task] = open_tasks(case, "approval")
    assert post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    return task


def test_an_urge_too_soon_on_the_page_says_when_to_try_again(demo, api, browser_client):
    task = _at_approval(demo, api)
    applicant = browser_client(demo.worker1)
    assert applicant.post(f"/tasks/{task.pk}/", {"op": "urge"}).status_code == 302
    again = applicant.post(f"/tasks/{task.pk}/", {"op": "urge"})
    hours = 4  # approvals.urge_interval_hours by default
    assert again.status_code == 429 and 0 < int(again["Retry-After"]) <= hours * 3600
    # A refusal that does not say when has none.
    refused = applicant.post(f"/tasks/{task.pk}/", {"op": "cc", "users": "county_aid"})
    assert refused.status_code >= 400 and "Retry-After" not in refused
