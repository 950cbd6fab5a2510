"""A case list exported at once is read once: the export does not COUNT the cases and then
fetch the same rows again; it fetches one row more than it may send at once, and a list
longer than that becomes a job."""

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from reports import services
from reports.models import ExportJob
from tests.reports.helpers import reading

pytestmark = pytest.mark.django_db

FORM = {"format": "xlsx", "figure": "opened", "process": "hardship"}
HARDSHIP_IN_DONGHU = 6  # H1–H5 and H7 (tests/reports/helpers.py)


def _case_queries(captured):
    """The queries that read the cases table itself (not a join from another table)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if re.search(r'FROM "cases_case"', q["sql"]) and q["sql"].lstrip().startswith("SELECT")
    ]


def _export(client, form=FORM):
    with reading(), CaptureQueriesContext(connection) as captured:
        response = client.post("/reports/cases/export/", form)
    return response, _case_queries(captured)


def test_a_short_list_is_read_once_from_the_page(demo, client, known, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", HARDSHIP_IN_DONGHU)  # just short enough
    client.force_login(demo.town_auditor)
    response, reads = _export(client)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert len(reads) == 1, reads
    assert "COUNT(" not in reads[0].upper()
    assert f"LIMIT {HARDSHIP_IN_DONGHU + 1}" in reads[0]
    book = load_workbook(io.BytesIO(response.content))
    assert len(list(book["案件清单"].iter_rows())) == 4 + HARDSHIP_IN_DONGHU
    assert not ExportJob.objects.exists()


def test_a_list_one_longer_becomes_a_job(demo, client, known, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", HARDSHIP_IN_DONGHU - 1)
    client.force_login(demo.town_auditor)
    response, _reads = _export(client)
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/exports/{job.pk}/"
    assert job.total == HARDSHIP_IN_DONGHU


def test_a_short_list_is_read_once_through_the_api(demo, api, known):
    client = api(demo.town_auditor)
    with reading(), CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/reports/cases.csv", {"process": "hardship"})
    assert response.status_code == 200
    reads = _case_queries(captured)
    assert len(reads) == 1 and "COUNT(" not in reads[0].upper(), reads
    assert response.content.decode("utf-8-sig").count("\n") == 1 + HARDSHIP_IN_DONGHU


def test_a_long_list_through_the_api_is_still_refused_with_its_count(demo, api, known, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 2)
    with reading():
        response = api(demo.town_auditor).get("/api/v1/reports/cases.csv", {"process": "hardship"})
    assert response.status_code == 409 and response.json()["code"] == "export_too_large"
    assert str(HARDSHIP_IN_DONGHU) in response.json()["detail"]
