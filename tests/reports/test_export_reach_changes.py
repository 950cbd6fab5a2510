"""An export is built for its creator's reach at the time (a summary's or yearly report's
organization, a case list's subtrees) and handed over only while their reach still covers it:
moved to another organization (same role), before the download or while the worker writes the
rows, they are told to start it again (403) instead of getting the file of their old reach."""

import importlib
import threading

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import translation

from organizations.models import Membership, Organization
from reports import services
from reports.models import ExportJob
from reports.tasks import run_export
from tests.helpers import post, submit

COUNTY = "示范县总工会"
DONGHU = "东湖镇总工会"
XISHAN = "西山镇总工会"
WITHHELD = "export_reach_changed"
CHANGED = "Your access has changed since this export was made: start it again."
BEFORE = "This export was made before an update: start it again."


def _said(message):
    """The message as the users are told it (the site's language)."""
    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(message)


def _start(client, kind, fmt="csv", params=None):
    response = post(
        client, "/api/v1/reports/exports/", {"kind": kind, "format": fmt, "params": params or {}}
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def _move(user, to_name):
    """The organizations admin moves the person: the same role, another organization."""
    Membership.objects.filter(user=user).update(organization=Organization.objects.get(name=to_name))


def _body(response):
    return b"".join(response.streaming_content).decode("utf-8-sig")


def _withheld(response, message=CHANGED):
    assert response.status_code == 403, response.status_code
    assert response.json() == {"detail": _said(message), "code": WITHHELD}


FORMATS = {"cases": "csv", "summary": "csv", "yearly": "pdf"}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["cases", "summary", "yearly"])
def test_an_export_is_withheld_once_its_reach_is_no_longer_the_creators(demo, api, kind):
    case = submit("sample", demo.worker1)  # 东湖机械厂工会, under 东湖镇
    auditor = demo.town_auditor  # auditor of 东湖镇
    client = api(auditor)
    job = _start(client, kind, FORMATS[kind])  # no organization: the creator's whole reach
    assert run_export.run(job) == "done"
    assert client.get(f"/api/v1/reports/exports/{job}/download/").status_code == 200

    _move(auditor, XISHAN)
    # The auditor no longer sees the case, nor 东湖镇's figures...
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert client.get("/api/v1/reports/summary/").json()["organization"]["name"] == XISHAN

    # ...nor the file built for the old reach: from the API and from the page.
    download = client.get(f"/api/v1/reports/exports/{job}/download/")
    body = _body(download) if download.status_code == 200 else ""
    assert download.status_code == 403, (
        f"downloaded after the move: {download.status_code}, {download['Content-Disposition']!r},"
        f" holds the old case: {case.number in body}"
    )
    _withheld(download)
    _withheld(client.get(f"/api/v1/reports/exports/{job}/"))
    # The pages send the creator to the dashboard, to start it again, and say why.
    browser = Client()
    browser.force_login(auditor)
    for url in (f"/reports/exports/{job}/download/", f"/reports/exports/{job}/"):
        refused = browser.get(url)
        assert refused.status_code == 302 and refused["Location"] == "/reports/", url
        dashboard = browser.get(refused["Location"])
        assert 'class="messages"' in dashboard.content.decode()
        assert [str(m) for m in dashboard.context["messages"]] == [_said(CHANGED)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_export_whose_creator_was_moved_while_it_was_built_is_withheld(demo, api, monkeypatch):
    """The move commits while the worker is writing the rows: the job finishes 'done' with the
    old reach, recorded as such, and the download (after the move) refuses it."""
    case = submit("sample", demo.worker1)
    auditor = demo.town_auditor
    client = api(auditor)
    job = _start(client, "cases")

    building, moved = threading.Event(), threading.Event()
    case_row = services.tables.case_row

    def row(c):
        if not building.is_set():
            building.set()
            moved.wait(10)
        return case_row(c)

    monkeypatch.setattr(services.tables, "case_row", row)
    result = {}

    def worker():
        try:
            result["status"] = run_export.run(job)
        except Exception as exc:  # noqa: BLE001
            result["status"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert building.wait(10), "the worker never started writing rows"
    _move(auditor, XISHAN)  # committed (autocommit) while the worker is mid-file
    moved.set()
    thread.join(30)
    assert result["status"] == "done"
    # What the worker read is what it recorded: 东湖镇's subtree, not 西山镇's.
    assert ExportJob.objects.get(pk=job).reach == [demo.org(DONGHU).path]

    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    download = client.get(f"/api/v1/reports/exports/{job}/download/")
    body = _body(download) if download.status_code == 200 else ""
    assert download.status_code == 403, (
        f"downloaded after the move: {download.status_code}; holds {case.number}: "
        f"{case.number in body}"
    )
    _withheld(download)


@pytest.mark.django_db
def test_exports_of_every_kind_still_download_for_their_creator_when_nothing_changed(demo, api):
    case = submit("sample", demo.worker1)
    client = api(demo.town_auditor)
    donghu = str(demo.org(DONGHU).pk)
    jobs = {
        "cases": _start(client, "cases"),
        "cases of one organization": _start(client, "cases", "xlsx", {"organization": donghu}),
        "summary": _start(client, "summary"),
        "summary of one organization": _start(client, "summary", "xlsx", {"organization": donghu}),
        "yearly": _start(client, "yearly", "pdf", {"year": "2026"}),
        "trail": _start(client, "trail", "csv", {"case": str(case.pk)}),
    }
    for name, job in jobs.items():
        assert run_export.run(job) == "done", name
        assert client.get(f"/api/v1/reports/exports/{job}/").status_code == 200, name
        download = client.get(f"/api/v1/reports/exports/{job}/download/")
        assert download.status_code == 200, name
    cases = client.get(f"/api/v1/reports/exports/{jobs['cases']}/download/")
    assert case.number in _body(cases)
    browser = Client()
    browser.force_login(demo.town_auditor)
    assert browser.get(f"/reports/exports/{jobs['summary']}/download/").status_code == 200


@pytest.mark.django_db
def test_an_export_still_downloads_once_its_creators_reach_grew(demo, api):
    auditor = demo.town_auditor
    client = api(auditor)
    jobs = [_start(client, "cases"), _start(client, "summary")]
    for job in jobs:
        assert run_export.run(job) == "done"
    _move(auditor, COUNTY)  # the county's subtree holds 东湖镇's
    for job in jobs:
        assert client.get(f"/api/v1/reports/exports/{job}/download/").status_code == 200


@pytest.mark.django_db
def test_a_superusers_case_list_covers_every_root_and_downloads(demo, api):
    client = api(demo.admin)
    job = _start(client, "cases")
    assert run_export.run(job) == "done"
    roots = Organization.objects.get_root_nodes().values_list("path", flat=True)
    assert ExportJob.objects.get(pk=job).reach == sorted(roots)
    assert client.get(f"/api/v1/reports/exports/{job}/download/").status_code == 200


@pytest.mark.django_db
def test_a_report_started_without_an_organization_keeps_the_one_it_was_started_for(demo, api):
    """Moved before the worker builds it, the creator does not get the figures of their new
    organization under the old request: the job fails as out of reach."""
    auditor = demo.town_auditor
    client = api(auditor)
    job = _start(client, "summary")
    donghu = demo.org(DONGHU)
    assert ExportJob.objects.get(pk=job).params["organization"] == str(donghu.pk)

    _move(auditor, XISHAN)
    assert run_export.run(job) == "failed"
    failed = ExportJob.objects.get(pk=job)
    assert not failed.file and failed.reach is None


@pytest.mark.django_db
def test_an_export_made_before_its_reach_was_recorded_is_withheld(demo, api):
    client = api(demo.town_auditor)
    donghu = demo.org(DONGHU)
    old = _start(client, "cases")
    named = _start(client, "cases", params={"organization": str(donghu.pk)})
    for job in (old, named):
        assert run_export.run(job) == "done"
    # As built before the reach was recorded: one without an organization, one with.
    ExportJob.objects.filter(pk__in=[old, named]).update(reach=None)

    _withheld(
        client.get(f"/api/v1/reports/exports/{old}/download/"),
        BEFORE,
    )

    # The migration gives the one that named its organization that organization's reach.
    migration = importlib.import_module("reports.migrations.0007_export_reach")
    migration.record_named_reach(apps, None)
    assert ExportJob.objects.get(pk=old).reach is None
    assert ExportJob.objects.get(pk=named).reach == [donghu.path]
    assert client.get(f"/api/v1/reports/exports/{named}/download/").status_code == 200


@pytest.mark.django_db
def test_the_jobs_list_offers_no_download_the_download_would_refuse(
    demo, api, django_assert_max_num_queries
):
    """The list says why a file is withheld (the same code and message as the download) and
    links only those that would be handed over; its queries do not grow with its length."""
    case = submit("sample", demo.worker1)
    auditor = demo.town_auditor
    client = api(auditor)
    donghu = str(demo.org(DONGHU).pk)
    jobs = {
        "cases": _start(client, "cases"),
        "summary of 东湖镇": _start(client, "summary", params={"organization": donghu}),
        "trail": _start(client, "trail", params={"case": str(case.pk)}),
    }
    for job in jobs.values():
        assert run_export.run(job) == "done"

    def listed():
        rows = client.get("/api/v1/reports/exports/").json()["results"]
        return {row["id"]: row for row in rows}

    before = listed()
    for name, job in jobs.items():
        assert before[job]["withheld"] is None, name
        assert before[job]["download"].endswith(f"/api/v1/reports/exports/{job}/download/"), name
        assert client.get(before[job]["download"]).status_code == 200, name

    _move(auditor, XISHAN)
    with django_assert_max_num_queries(12):
        after = listed()
    for name, job in jobs.items():
        download = client.get(f"/api/v1/reports/exports/{job}/download/")
        assert download.status_code in (403, 404), name
        assert after[job]["download"] is None, name
        assert after[job]["withheld"] == download.json(), name

    for _ in range(5):  # more jobs, the same queries
        assert run_export.run(_start(client, "cases")) == "done"
        assert run_export.run(_start(client, "summary")) == "done"
    with django_assert_max_num_queries(12):
        assert len(listed()) == 13
