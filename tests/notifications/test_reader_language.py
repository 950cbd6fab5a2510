"""Notifications and emails are written in their reader's language, not in the language of
whoever caused them; a person's choice of language follows them to every device."""

import pytest
from django.test import Client
from django.utils import translation

from cases.hardship.models import AidType
from cases.models import Case
from notifications.models import Channel, Delivery, Notification
from tests.hardship.helpers import URL, application
from tests.helpers import post

pytestmark = pytest.mark.django_db


def _client(api, user, language):
    client = api(user)
    client.credentials(**client._credentials, HTTP_ACCEPT_LANGUAGE=language)
    return client


def _news(user, case):
    note = Notification.objects.get(recipient=user, case=case, verb="task_created")
    email = Delivery.objects.get(recipient=user, channel=Channel.EMAIL, event=note.event)
    return note, email.payload


def _submit_in_english(api, demo, **fields):
    response = post(_client(api, demo.worker1, "en"), URL, application(**fields))
    assert response.status_code == 201, response.json()
    return Case.objects.get(pk=response.json()["id"])


def test_a_member_writing_in_english_does_not_send_english_to_a_chinese_reader(api, demo):
    case = _submit_in_english(api, demo)

    note, email = _news(demo.chair1, case)
    assert note.title.startswith("新待办："), note.title
    assert email["subject"].startswith("新待办："), email["subject"]
    assert "Case: " not in email["body"]
    # The case's title is a record everyone reads: in the site's language, whoever submitted.
    with translation.override("zh-hans"):
        festival = str(AidType.FESTIVAL.label)
    assert case.title == f"{festival}：{demo.worker1.display_name}"
    assert note.body == case.title


def test_a_reader_who_chose_english_gets_english(api, demo):
    response = api(demo.chair1).patch("/api/v1/me/", {"language": "en"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["language"] == "en"

    # The member writes in Chinese (the default); the chair reads English.
    response = post(api(demo.worker1), URL, application())
    assert response.status_code == 201, response.json()
    note, email = _news(demo.chair1, response.json()["id"])
    assert note.title.startswith("New task: "), note.title
    assert email["subject"].startswith("New task: ")
    assert "Case: " in email["body"]


def test_choosing_a_language_names_the_field_when_it_is_not_offered(api, demo):
    response = api(demo.chair1).patch("/api/v1/me/", {"language": "fr"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["language"]
    assert api(demo.chair1).get("/api/v1/me/").json()["language"] == "zh-hans"


def test_the_pages_switch_is_remembered_on_another_device(demo):
    phone = Client()
    phone.force_login(demo.town_aid1)
    response = phone.post("/i18n/setlang/", {"language": "en", "next": "/tasks/"})
    assert response.status_code == 302
    demo.town_aid1.refresh_from_db()
    assert demo.town_aid1.language == "en"

    desktop = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")  # no cookie, a Chinese browser
    desktop.force_login(demo.town_aid1)
    assert '<html lang="en">' in desktop.get("/tasks/").content.decode()

    # Someone who never chose follows their browser, as before.
    other = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    other.force_login(demo.town_aid2)
    assert '<html lang="zh-hans">' in other.get("/tasks/").content.decode()
