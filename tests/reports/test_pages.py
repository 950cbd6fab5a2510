"""The report pages: the dashboard with its pickers, charts and links, the lists behind the
figures, the export downloads and the progress page of a long export."""

import io
import re
from html import unescape

import pytest
from django.utils.translation import gettext, override
from openpyxl import load_workbook

from organizations.demo import COUNTY, DONGHU, XISHAN
from reports import services
from reports.models import ExportJob
from reports.tasks import run_export
from tests.reports.helpers import reading

pytestmark = pytest.mark.django_db


def html(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def links(page, figure):
    return [
        unescape(h) for h in re.findall(rf'data-figure="{re.escape(figure)}" href="([^"]+)"', page)
    ]


def test_the_dashboard_shows_charts_figures_and_pickers(demo, client, known):
    client.force_login(demo.town_auditor)
    with reading():
        page = html(client.get("/reports/"))
    # Charts drawn on the server, as inline SVG.
    charts = re.findall(r'<svg [^>]*data-chart="([a-z_]+)"', page)
    assert set(charts) >= {
        "processes",
        "monthly",
        "aid_types",
        "mediation_categories",
        "outcomes",
        "steps",
    }
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    # The pickers: period and the organizations in reach (not 西山).
    assert 'name="from" value="2026-01-01"' in page and 'name="to" value="2026-12-31"' in page
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', page)
    names = {label.strip("\u3000") for _pk, label in options}
    assert names == {DONGHU, "东湖机械厂工会", "东湖纺织公司工会"}
    # Figures: the hardship row of the process table.
    row = re.search(r'<tr data-process="hardship">(.*?)</tr>', page, re.S).group(1)
    assert [int(n) for n in re.findall(r">(\d+)</a>", row)] == [6, 5, 1, 1]
    assert 'data-testid="success-rate">33.33 %<' in page
    # No verification card for an auditor before any full run.
    assert 'data-testid="no-verification"' in page


def test_each_figure_links_to_its_cases(demo, client, known):
    client.force_login(demo.town_auditor)
    with reading():
        page = html(client.get("/reports/"))
        [overdue] = [href for href in links(page, "overdue") if "process=hardship" in href]
        listed = html(client.get(overdue))
        [households] = links(page, "hardship.households")
        paid = html(client.get(households))
    assert known["H7"].number in listed
    assert re.search(r'data-testid="case-count">1\D', listed)
    for name in ("H1", "H2", "H3"):
        assert known[name].number in paid
    assert known["H4"].number not in paid
    # The bars of the charts link to the cases too.
    assert re.search(
        r'<a href="/reports/cases/\?[^"]*figure=hardship.disbursed[^"]*aid_type=emergency', page
    )


def test_the_organization_picker(demo, client, known):
    client.force_login(demo.county_auditor)
    with reading():
        county = html(client.get("/reports/"))
        xishan = html(client.get(f"/reports/?organization={demo.org(XISHAN).pk}"))
    assert f"· {COUNTY}</h1>" in county
    assert f"· {XISHAN}</h1>" in xishan
    row = re.search(r'<tr data-aid-type="total">(.*?)</tr>', xishan, re.S).group(1)
    assert "800.00" in row
    client.force_login(demo.town_auditor)
    assert client.get(f"/reports/?organization={demo.org(XISHAN).pk}").status_code == 404


def test_members_may_not_see_reports(demo, client, known):
    client.force_login(demo.worker1)
    for url in (
        "/reports/",
        "/reports/cases/?figure=opened",
        "/reports/summary.xlsx",
        "/reports/yearly.pdf",
        f"/reports/cases/{known['H1'].pk}/trail.pdf",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post("/reports/cases/export/", {"format": "xlsx"}).status_code == 403


def test_a_bad_period_is_named_and_the_page_still_works(demo, client):
    client.force_login(demo.town_auditor)
    response = client.get("/reports/?from=2026-02-30")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="report-errors"' in page and 'aria-invalid="true"' in page
    assert "data-chart=" in page  # the default period is shown meanwhile


def test_downloads_from_the_pages(demo, client, known):
    client.force_login(demo.county_auditor)
    with reading():
        xlsx = client.get(f"/reports/summary.xlsx?organization={demo.org(DONGHU).pk}")
        pdf = client.get(f"/reports/yearly.pdf?organization={demo.org(DONGHU).pk}&year=2026")
        trail = client.get(f"/reports/cases/{known['M1'].pk}/trail.pdf")
        short = client.post(
            "/reports/cases/export/", {"format": "csv", "figure": "mediation.closed"}
        )
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].startswith("attachment")
    assert load_workbook(io.BytesIO(xlsx.content))["汇总"]["B3"].value == DONGHU
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert trail.status_code == 200 and trail["Content-Type"] == "application/pdf"
    assert short.status_code == 200
    text = short.content.decode("utf-8-sig")
    assert known["M1"].number in text and known["M3"].number not in text


def test_a_long_export_shows_its_progress_then_the_download(demo, client, known, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 2)
    client.force_login(demo.town_auditor)
    with reading():
        listing = html(client.get("/reports/cases/?figure=opened&process=hardship"))
        assert 'data-testid="case-export"' in listing
        response = client.post(
            "/reports/cases/export/", {"format": "xlsx", "figure": "opened", "process": "hardship"}
        )
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/exports/{job.pk}/"
    waiting = html(client.get(response["Location"]))
    assert 'http-equiv="refresh"' in waiting and "<progress" in waiting
    assert 'data-status="pending"' in waiting
    with reading():
        run_export.run(job.pk)
    done = html(client.get(response["Location"]))
    assert 'http-equiv="refresh"' not in done
    assert 'data-testid="export-download"' in done
    download = client.get(f"/reports/exports/{job.pk}/download/")
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.getvalue()))
    assert len(list(book["案件清单"].iter_rows())) == 4 + 6
    # Someone else's export is not found.
    client.force_login(demo.county_auditor)
    assert client.get(f"/reports/exports/{job.pk}/").status_code == 404
    assert client.get(f"/reports/exports/{job.pk}/download/").status_code == 404


def test_a_refused_export_shows_the_list_again_with_the_reason_and_its_status(demo, client, known):
    client.force_login(demo.town_auditor)
    form = {"figure": "opened", "process": "hardship"}
    with reading():
        wrong_format = client.post("/reports/cases/export/", {**form, "format": "docx"})
        bad_filter = client.post(
            "/reports/cases/export/", {**form, "format": "xlsx", "from": "2026-02-30"}
        )
    # The list the export was asked from, the reason on top, nothing started.
    assert wrong_format.status_code == 400
    page = wrong_format.content.decode()
    assert 'data-testid="case-export"' in page and known["H1"].number in page
    with override("zh-hans"):
        assert f'role="status">{gettext("This export is not available in that format.")}' in page
    # A filter the list cannot read is named on it.
    assert bad_filter.status_code == 400
    errors = html_errors(bad_filter)
    assert "from" in errors
    assert not ExportJob.objects.exists()


def html_errors(response):
    return re.search(r'data-testid="report-errors">(.*?)</div>', response.content.decode()).group(1)


def test_a_refused_download_goes_back_to_the_dashboard_it_was_asked_from(demo, client):
    client.force_login(demo.town_auditor)
    query = f"organization={demo.org(DONGHU).pk}&from=2026-02-30"
    response = client.get(f"/reports/summary.xlsx?{query}")
    assert response.status_code == 302
    assert response["Location"] == f"/reports/?{query}"
    page = client.get(response["Location"])
    # The same organization, the bad date named next to the period, the reason on top.
    assert page.status_code == 400
    html = page.content.decode()
    assert 'data-testid="report-errors"' in html and 'class="messages"' in html
