"""The reports dashboard in the browser: charts drawn, a figure followed to its cases, the
trail verification for auditors, at desktop width in zh-CN."""

from django.core.management import call_command
from playwright.sync_api import expect

YEAR_2026 = "from=2026-01-01&to=2026-12-31"


def test_dashboard_with_charts(seeded, live_server, login, page, api, tmp_path):
    """On the known cases of the report tests (tests/reports/helpers.py), as the county's
    auditor."""
    from reports.services import verify_all_trails
    from tests.conftest import Demo
    from tests.reports.helpers import build

    known = build(api, Demo())
    verify_all_trails(source="beat")

    login("county_auditor", width=1280, height=900)
    page.goto(f"{live_server.url}/reports/?{YEAR_2026}")
    expect(page.locator("h1")).to_contain_text("示范县总工会")
    charts = page.locator("main svg[data-chart]")
    expect(charts).to_have_count(6)
    expect(page.locator("tr[data-process=hardship] a[data-figure=opened]")).to_have_text("7")
    for name in ("processes", "monthly", "aid_types", "mediation_categories", "outcomes", "steps"):
        chart = page.locator(f"main svg[data-chart={name}]")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 200 and box["height"] > 80, name
    # Bars are drawn (one per process, opened and finished) and some are not empty.
    bars = page.locator("svg[data-chart=processes] rect[data-value]")
    expect(bars).to_have_count(6)
    assert any(float(v) > 0 for v in bars.evaluate_all("els => els.map(e => e.dataset.value)"))
    expect(page.locator("[data-testid=trail-verification] .verify.valid")).to_be_visible()
    # The README's picture is taken by scripts/screenshots.py; here the page must simply render.
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # A figure leads to its cases: the overdue hardship case is H7.
    expect(page.locator("[data-testid=success-rate]")).to_have_text("25.00 %")
    overdue = page.locator("tr[data-process=hardship] a[data-figure=overdue]")
    expect(overdue).to_have_text("1")
    overdue.click()
    expect(page.locator("[data-testid=case-count]")).to_contain_text("1")
    expect(page.locator("main table.list tbody tr")).to_have_count(1)
    expect(page.locator("main table.list tbody a").first).to_have_text(known["H7"].number)
    # So does a bar of a chart: emergency aid disbursed is H2.
    page.goto(f"{live_server.url}/reports/?{YEAR_2026}")
    page.locator("svg[data-chart=aid_types] a").nth(4).click()
    expect(page.locator("main table.list tbody a").first).to_have_text(known["H2"].number)

    # The period picker narrows the figures.
    page.goto(f"{live_server.url}/reports/")
    page.fill("#id_from", "2000-01-01")
    page.fill("#id_to", "2000-12-31")
    page.click("main form[data-testid=report-filters] button[type=submit]")
    expect(page.locator("tr[data-process=hardship] a[data-figure=opened]")).to_have_text("0")


def test_dashboard_on_a_phone(seeded, live_server, login, page):
    call_command("seed_cases", verbosity=0)
    login("town_auditor", width=375, height=812)
    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("main svg[data-chart]").first).to_be_visible()
    # Nothing wider than the screen but the page's own scroll containers.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
