"""A page session ends after SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS
after signing in however active it is."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _signed_in(user):
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": "demo-pass-2026"})
    return client


def _at(minutes):
    return time_machine.travel(START + timedelta(minutes=minutes), tick=False)


def _status(client):
    response = client.get("/tasks/")
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
        return "signed out"
    assert response.status_code == 200
    return "signed in"


def test_a_session_left_alone_ends_after_the_idle_period(demo, settings):
    with _at(0):
        phone = _signed_in(demo.town_aid1)
        assert _status(phone) == "signed in"
    with _at(settings.SESSION_IDLE_MINUTES + 1):
        assert _status(phone) == "signed out"


def test_using_the_session_keeps_it_alive_until_the_maximum(demo, settings):
    step = settings.SESSION_IDLE_MINUTES * 3 // 4
    with _at(0):
        phone = _signed_in(demo.town_aid1)
    minutes = step
    while minutes < settings.SESSION_MAX_HOURS * 60:
        with _at(minutes):
            assert _status(phone) == "signed in", minutes
        minutes += step
    with _at(settings.SESSION_MAX_HOURS * 60 + 1):  # within the idle period of the last
        response = phone.get("/tasks/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "请重新登录" in response.content.decode()


def test_the_periods_are_configuration(settings, monkeypatch):
    from project.settings import _positive_int

    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    assert _positive_int("SESSION_IDLE_MINUTES", 120) == 30
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "0")
    with pytest.raises(Exception, match="SESSION_IDLE_MINUTES must be a whole number"):
        _positive_int("SESSION_IDLE_MINUTES", 120)
