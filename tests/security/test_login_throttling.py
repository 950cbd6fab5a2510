"""Login throttling (django-axes): after the configured number of failed logins for a username
from one address, even the right password is refused — on the login page and on the token
endpoint alike — until the cool-off has passed. Other people, and the same person from
elsewhere, are not affected."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.utils import timezone

from organizations.demo import DEMO_PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


def token(client, username, password, address="127.0.0.1"):
    return client.post(
        TOKEN_URL,
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def web_login(client, username, password, address="127.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def fail(times, login, client, username="worker1"):
    return [login(client, username, "wrong-password").status_code for _ in range(times)]


@pytest.fixture
def limit():
    return settings.AXES_FAILURE_LIMIT


def test_the_configuration_is_on_in_tests_with_the_documented_defaults():
    assert settings.AXES_ENABLED is True
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_the_token_endpoint_locks_after_the_limit(demo, client, limit):
    # Until the limit, a wrong password is the usual 400.
    assert fail(limit - 1, token, client) == [400] * (limit - 1)
    locked = token(client, "worker1", "wrong-password")
    assert locked.status_code == 429
    # Now even the right password is refused, with the reason, in the API's error format.
    response = token(client, "worker1", DEMO_PASSWORD)
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "locked_out"
    assert body["detail"] == "登录失败次数过多，请在 15 分钟后再试。"
    assert response["Retry-After"] == "900"
    assert "token" not in body


def test_the_lockout_message_follows_the_language(demo, client, limit):
    fail(limit, token, client)
    response = client.post(
        TOKEN_URL,
        {"username": "worker1", "password": DEMO_PASSWORD},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.json()["detail"] == ("Too many failed login attempts. Try again in 15 minutes.")


def test_a_wrong_password_on_the_login_page_is_refused_with_400(demo, client):
    response = web_login(client, "worker1", "wrong-password")
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_login_page_locks_after_the_limit(demo, client, limit):
    statuses = fail(limit, web_login, client)
    # The form says "wrong password" (400, as the token endpoint) until the limit, then the
    # lockout page.
    assert statuses == [400] * (limit - 1) + [429]
    response = web_login(client, "worker1", DEMO_PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert 'data-testid="locked-out"' in page
    assert "登录失败次数过多，请在 15 分钟后再试。" in page
    assert 'href="/accounts/login/"' in page
    assert "Traceback" not in page
    # Not logged in.
    assert client.get("/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_failures_on_the_page_and_the_api_count_together(demo, client, limit):
    fail(limit - 2, web_login, client)
    fail(2, token, client)
    assert token(client, "worker1", DEMO_PASSWORD).status_code == 429
    assert web_login(client, "worker1", DEMO_PASSWORD).status_code == 429


def test_others_are_not_locked_out(demo, client, limit):
    fail(limit, token, client)
    assert token(client, "worker1", DEMO_PASSWORD).status_code == 429
    # Another user from the same address.
    assert token(client, "worker2", DEMO_PASSWORD).status_code == 200
    # The same user from another address (locking is by username and address together).
    assert token(client, "worker1", DEMO_PASSWORD, address="10.0.0.7").status_code == 200
    assert web_login(client, "worker2", DEMO_PASSWORD).status_code == 302


def test_access_returns_after_the_cool_off(demo, client, limit):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        fail(limit, token, client)
        traveller.shift(timedelta(minutes=14))
        assert token(client, "worker1", DEMO_PASSWORD).status_code == 429
        # Trying during the lockout starts the cool-off again.
        traveller.shift(timedelta(minutes=14))
        assert token(client, "worker1", DEMO_PASSWORD).status_code == 429
        traveller.shift(timedelta(minutes=16))
        assert token(client, "worker1", DEMO_PASSWORD).status_code == 200
        assert web_login(client, "worker1", DEMO_PASSWORD).status_code == 302


def test_an_administrator_can_lift_a_lockout(demo, client, limit):
    fail(limit, web_login, client)
    assert web_login(client, "worker1", DEMO_PASSWORD).status_code == 429
    assert reset(username="worker1") == 1
    assert web_login(client, "worker1", DEMO_PASSWORD).status_code == 302


@pytest.mark.parametrize("login", [token, web_login], ids=["api", "page"])
def test_a_successful_login_forgets_earlier_failures(demo, client, limit, login):
    fail(limit - 1, login, client)
    assert login(client, "worker1", DEMO_PASSWORD).status_code in (200, 302)
    client.logout()
    assert fail(limit - 1, login, client) == [400] * (limit - 1)
    assert login(client, "worker1", DEMO_PASSWORD).status_code in (200, 302)


def test_the_password_is_not_stored_with_the_attempt(demo, client):
    web_login(client, "worker1", "hunter2-secret")
    token(client, "worker1", "hunter2-secret")
    [attempt] = AccessAttempt.objects.all()
    assert attempt.failures_since_start == 2
    assert "hunter2-secret" not in f"{attempt.get_data} {attempt.post_data}"
