"""Screenshots of the main pages for the README: builds a throwaway demo (SQLite, the demo
users and cases), serves it, and photographs each page with the system chromium.

    make screenshots        # writes docs/screenshots/*.png
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "demo-pass-2026"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env, *args):
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main():
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as var:
        env = {
            **os.environ,
            "UNIONFLOW_VAR_DIR": var,
            "DATABASE_URL": f"sqlite:///{var}/demo.sqlite3",
            "CELERY_BROKER_URL": "memory://",
        }
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        manage(env, "seed_cases")
        manage(env, "verify_trail", "--all", "--no-progress")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--no-first-run",
                    ],
                )
                shoot(browser, base)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"screenshots written to {OUT}")


def session(browser, base, username, width, height):
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    return context, page


def shot(page, name, *, full_page=True):
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)


def first_case_url(page, base, listing, text):
    page.goto(f"{base}{listing}")
    link = page.locator("table.list a", has_text=text).first
    return base + link.get_attribute("href")


def shoot(browser, base):
    # An applicant on a phone: their cases, a case, and the application form.
    context, page = session(browser, base, "worker1", 375, 812)
    shot(page, "applicant-my-cases-phone")
    page.goto(first_case_url(page, base, "/cases/mine/", "KN-"))
    shot(page, "applicant-case-phone")
    page.goto(f"{base}/apply/")
    shot(page, "applicant-apply-phone")
    context.close()

    # An officer at a desk: the inbox and a task page.
    context, page = session(browser, base, "town_aid1", 1280, 900)
    page.goto(f"{base}/tasks/?view=queue")
    shot(page, "officer-inbox")
    page.locator("table.list a").first.click()
    page.wait_for_load_state("networkidle")
    shot(page, "officer-task")
    context.close()

    # The dashboard of figures.
    context, page = session(browser, base, "county_auditor", 1280, 900)
    page.goto(f"{base}/reports/")
    shot(page, "dashboard")
    context.close()

    # An auditor reads a trail.
    context, page = session(browser, base, "county_auditor", 1280, 900)
    page.goto(first_case_url(page, base, "/cases/", "KN-"))
    shot(page, "auditor-trail")
    context.close()


if __name__ == "__main__":
    main()
