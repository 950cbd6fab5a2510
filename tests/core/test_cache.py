"""The shared cache on a real Redis that is stopped and started again: while it is down the
cache answers as an empty one and requests go on (a login, an import and its progress), and it
is used again once Redis is back. Django's own Redis backend raised, and the token endpoint
answered 500, because its throttle reads the cache."""

import logging
import time

import pytest
from django.test import override_settings

from cases.remittance.tasks import run_import
from core.api import AuthThrottle
from core.cache import RedisCache
from organizations.demo import DEMO_PASSWORD
from tests.helpers import settings_under
from tests.reliability.services import RedisServer, free_port
from tests.remittance.helpers import declarations_csv

pytestmark = pytest.mark.faults

RETRY_SECONDS = 0.5


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.close()


def options():
    return {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "RETRY_SECONDS": RETRY_SECONDS,
    }


def test_the_cache_is_empty_while_redis_is_down_and_used_again_once_it_is_back(
    redis_server, caplog
):
    cache = RedisCache(redis_server.url, {"OPTIONS": options()})
    cache.set("kept", 1)
    assert cache.get("kept") == 1

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert cache.get("kept") is None
        assert cache.get("kept", "default") == "default"
        assert cache.set("kept", 2) is None
        assert cache.add("new", 1) is False
        assert cache.get_many(["kept", "new"]) == {}
        assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
        assert cache.has_key("kept") is False
        assert cache.delete("kept") is False
        assert cache.delete_many(["a", "b"]) is None
        assert cache.touch("kept") is False
        with pytest.raises(ValueError):
            cache.incr("kept")
        assert cache.get_or_set("computed", 3) == 3
    down = [r.getMessage() for r in caplog.records if r.name == "core.cache"]
    assert len(down) == 1 and "cannot be reached" in down[0]

    redis_server.start()
    cache.set("written-while-left-alone", 1)
    time.sleep(RETRY_SECONDS + 0.1)
    assert cache.get("written-while-left-alone") is None  # not written: it was left alone
    cache.set("kept", 3)
    assert cache.get("kept") == 3
    assert cache.incr("kept") == 4


def test_a_host_that_does_not_answer_costs_one_timeout_then_nothing():
    """A cache whose every call waited for the connect timeout would slow every request down."""
    cache = RedisCache(
        f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {**options(), "RETRY_SECONDS": 60}}
    )
    started = time.monotonic()
    for _ in range(50):
        assert cache.get("anything") is None
    assert cache._down_until is not None and time.monotonic() - started < 60


@pytest.mark.django_db
def test_logins_imports_and_their_progress_go_on_while_the_cache_is_down(
    demo, api, client, redis_server, monkeypatch
):
    monkeypatch.setattr(AuthThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    caches = {
        "default": {"BACKEND": "core.cache.RedisCache", "LOCATION": redis_server.url}
        | {"OPTIONS": options()}
    }
    login = {"username": "county_finance", "password": DEMO_PASSWORD}
    with override_settings(CACHES=caches):
        # Up: the token throttle counts in Redis.
        statuses = [
            client.post("/api/v1/auth/token/", login, content_type="application/json").status_code
            for _ in range(4)
        ]
        assert statuses == [200] * 3 + [429]

        redis_server.stop()
        response = client.post("/api/v1/auth/token/", login, content_type="application/json")
        assert response.status_code == 200 and response.json()["token"]

        officer = api(demo.county_finance)
        job = officer.post(
            "/api/v1/fee-remittances/imports/",
            {"file": declarations_csv([["东湖机械厂工会", "2026-01", "100000", "120", "100"]])},
            format="multipart",
        )
        assert job.status_code == 202, job.json()
        assert run_import.run(job.json()["id"]) == "done"
        result = officer.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/")
        assert result.status_code == 200
        assert result.json()["status"] == "done" and result.json()["processed_rows"] == 1


def test_a_redis_cache_url_uses_this_cache_with_the_configured_timeouts():
    config, module, retry_seconds = settings_under(
        {
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "CACHE_TIMEOUT_SECONDS": "2",
            "CACHE_RETRY_SECONDS": "7",
        },
        "[settings.CACHES['default'], type(caches['default']).__module__, "
        "caches['default'].retry_seconds]",
    )
    assert config["BACKEND"] == "core.cache.RedisCache" and module == "core.cache"
    assert config["OPTIONS"]["socket_connect_timeout"] == config["OPTIONS"]["socket_timeout"] == 2
    assert retry_seconds == 7
