"""An unexpected error on a page shows the site's own 500 page, in the user's language, with
no trace of the error; the API answers in its error format."""

from django.test import Client

import cases.views
from tests.helpers import submit_sample


def test_a_page_that_fails_shows_the_500_page(demo, monkeypatch):
    case = submit_sample(demo.worker1)

    def fail(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(cases.views, "case_context", fail)
    client = Client(raise_request_exception=False)
    client.force_login(demo.worker1)
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 500
    page = response.content.decode()
    assert 'data-testid="server-error"' in page and "出错了" in page
    assert "secret detail" not in page and "RuntimeError" not in page
