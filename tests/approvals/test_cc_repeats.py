"""抄送 repeated: the page's form sent twice (a double tap), the same request sent again, or
people named again who were copied already — each person is copied, recorded and told once."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from cases.models import CaseCC
from notifications.models import Delivery, Notification
from tests.helpers import complete, open_tasks, post, race, submit


def _claimed(demo, api):
    """A case at the town's approval, claimed by town_aid1 (CC is offered there)."""
    case = submit("sample", demo.worker1)
    complete(api(demo.chair1), open_tasks(case)[0])
    [task] = open_tasks(case, "approval")
    assert post(api(demo.town_aid1), f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    return case, task


def _told(case, user):
    return Notification.objects.filter(case=case, verb="case_cc", recipient=user).count()


def _cc_events(case):
    return list(case.trail.filter(action="case.cc").order_by("seq"))


def _cc_form(page, task):
    """What the CC form on the task page sends besides what the officer types: its one-time
    key, when it carries one."""
    html = page.get(f"/tasks/{task.pk}/").content.decode()
    form = html.split('value="cc"')[1].split("</form>")[0]
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', form)
    return {"form_key": key.group(1)} if key else {}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_page_form_sent_twice_at_once_copies_once(demo, api):
    case, task = _claimed(demo, api)
    phone = [Client(), Client()]  # one browser's two sends, each on its own connection
    for client in phone:
        client.force_login(demo.town_aid1)
    # The same rendered form, tapped twice: two requests at the same moment.
    body = {"op": "cc", "users": "county_finance", "comment": "fyi", **_cc_form(phone[0], task)}
    responses = race([lambda c=c: c.post(f"/tasks/{task.pk}/", body) for c in phone])

    [event] = _cc_events(case)
    assert event.data == {"users": ["county_finance"]}
    assert _told(case, demo.county_finance) == 1
    assert CaseCC.objects.filter(case=case).count() == 1
    assert [r.status_code for r in responses] == [302, 302]
    assert {r["Location"] for r in responses} == {f"/tasks/{task.pk}/"}
    assert "form_key" in body, "the CC form carries a one-time key"


def _notes(response):
    return [m.message for m in response.context["messages"]]


def _in_site_language(message):
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(message)


@pytest.mark.django_db
def test_the_page_form_sent_again_records_nothing_twice(demo, api, browser_client):
    case, task = _claimed(demo, api)
    page = browser_client(demo.town_aid1)
    body = {"op": "cc", "users": "county_finance", **_cc_form(page, task)}
    first = page.post(f"/tasks/{task.pk}/", body, follow=True)
    assert first.redirect_chain == [(f"/tasks/{task.pk}/", 302)]
    assert _notes(first) == [_in_site_language("Done.")]
    again = page.post(f"/tasks/{task.pk}/", body, follow=True)
    assert again.redirect_chain == [(f"/tasks/{task.pk}/", 302)]
    assert _notes(again) == [
        _in_site_language("This form had already been sent; nothing was recorded twice.")
    ]
    # A new form naming the same person: nothing to do, and the page says so.
    body.update(_cc_form(page, task))
    fresh = page.post(f"/tasks/{task.pk}/", body, follow=True)
    assert fresh.redirect_chain == [(f"/tasks/{task.pk}/", 302)]
    assert _notes(fresh) == [
        _in_site_language("Everyone named had already been copied; nothing was changed.")
    ]
    assert len(_cc_events(case)) == 1
    assert _told(case, demo.county_finance) == 1


@pytest.mark.django_db
def test_the_same_person_copied_again_through_the_api_changes_nothing(demo, api):
    case, task = _claimed(demo, api)
    officer = api(demo.town_aid1)
    url = f"/api/v1/tasks/{task.pk}/cc/"
    first = post(officer, url, {"users": ["county_finance"], "comment": "fyi"})
    assert first.status_code == 200, first.json()
    events, deliveries = case.trail.count(), Delivery.objects.count()

    again = post(officer, url, {"users": ["county_finance"], "comment": "fyi"})
    assert again.status_code == 200, again.json()
    assert again.json() == first.json(), "the task as it is"
    assert case.trail.count() == events
    assert Delivery.objects.count() == deliveries
    assert _told(case, demo.county_finance) == 1
    assert CaseCC.objects.filter(case=case).count() == 1


@pytest.mark.django_db
def test_only_the_newly_copied_are_recorded_and_told(demo, api):
    case, task = _claimed(demo, api)
    officer = api(demo.town_aid1)
    url = f"/api/v1/tasks/{task.pk}/cc/"
    assert post(officer, url, {"users": ["county_finance"]}).status_code == 200
    both = post(officer, url, {"users": ["county_finance", "county_auditor"], "comment": "and"})
    assert both.status_code == 200, both.json()

    assert [e.data for e in _cc_events(case)] == [
        {"users": ["county_finance"]},
        {"users": ["county_auditor"]},
    ]
    assert _told(case, demo.county_finance) == 1
    assert _told(case, demo.county_auditor) == 1
    # One message per copy: a webhook posts each copy once, however many people it names.
    events = Notification.objects.filter(case=case, verb="case_cc").values_list("event", flat=True)
    assert len(set(events)) == 2
    assert set(CaseCC.objects.filter(case=case).values_list("user__username", flat=True)) == {
        "county_finance",
        "county_auditor",
    }
