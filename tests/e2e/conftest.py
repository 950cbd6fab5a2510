"""Browser tests: Debian's chromium driven by Playwright against the live test server.
No browser is downloaded: the system chromium is launched by path."""

import os
import shutil

import pytest

# Playwright's sync API keeps an event loop in the test thread; the test's own ORM calls are
# still synchronous, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    e2e = [i for i in items if str(i.fspath).startswith(here)]
    for item in e2e:
        item.add_marker(
            pytest.mark.postgres
        )  # live_server flushes tables; trails refuse DELETE on SQLite
    if not os.path.exists(CHROMIUM):
        if os.environ.get("UNIONFLOW_REQUIRE_BROWSER"):
            raise pytest.UsageError(f"chromium not found at {CHROMIUM}")
        for item in e2e:
            item.add_marker(pytest.mark.skip(reason="chromium is not installed"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The product's default: Simplified Chinese, Beijing time.
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


@pytest.fixture(autouse=True)
def _close_the_loops_connections(page):
    """While Playwright's event loop runs in the test thread, Django keeps that thread's
    database connections per context (asgiref's Local), apart from the ones pytest-django
    closes: close them before the loop stops, or they outlive the test and keep the test
    database from being dropped."""
    yield
    from django.db import connections

    connections.close_all()


@pytest.fixture
def seeded(transactional_db):
    from organizations.demo import seed_demo

    seed_demo()


@pytest.fixture
def login(live_server, page):
    """login(username, viewport=(w, h)) → the page, logged in, on the home page."""

    def do(username, *, width=1280, height=900):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "demo-pass-2026")
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return do


@pytest.fixture
def logout(page, live_server):
    def do():
        page.context.clear_cookies()

    return do
