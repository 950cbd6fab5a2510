"""Exports: the summary and case lists as .xlsx and CSV, a trail as PDF and CSV with every
hash, the yearly report as PDF (Chinese, with charts); who may export; long exports as jobs
with progress and a download."""

import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from cases.models import TrailEvent
from organizations.demo import DONGHU
from reports import services
from reports.models import ExportJob
from reports.tasks import run_export
from tests.helpers import post
from tests.reports.helpers import reading

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == XLSX
    return load_workbook(io.BytesIO(response.getvalue()))


def rows_of(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def summary_table(book):
    """{(section, figure, item): cell} of the 汇总 sheet."""
    sheet = book["汇总"]
    table, started = {}, False
    for row in sheet.iter_rows():
        values = [c.value for c in row]
        if values[:4] == ["板块", "指标", "分项", "数值"]:
            started = True
            continue
        if started and values and values[0]:
            table[tuple(values[:3])] = row[3]
    return table


def pdf_text(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def test_summary_as_xlsx_holds_the_same_numbers(demo, api, known):
    client = api(demo.town_auditor)
    with reading():
        summary = client.get("/api/v1/reports/summary/").json()
        book = workbook(client.get("/api/v1/reports/summary.xlsx"))
    assert book.sheetnames == ["汇总", "办理时长", "月度新立案件"]
    table = summary_table(book)
    expected = {
        ("困难职工帮扶", "帮扶户数", "合计"): summary["hardship"]["households_helped"],
        ("困难职工帮扶", "发放金额（元）", "合计"): summary["hardship"]["disbursed"]["amount"],
        ("困难职工帮扶", "批准金额（元）", "救助类型：临时救助"): "5500.00",
        ("困难职工帮扶", "发放件数", "困难类别：深度困难"): 2,
        ("劳动争议调解", "受理申请数", "争议类别：劳动报酬"): 3,
        ("劳动争议调解", "办结结果", "逾期终止"): 1,
        ("劳动争议调解", "调解成功率", "合计"): summary["mediation"]["success_rate"],
        ("劳动争议调解", "结案天数中位数", "合计"): "16.0",
        ("工会经费上解", "应拨缴经费（元）", "合计"): summary["remittance"]["fund_due"],
        ("工会经费上解", "按期缴款率", "合计"): "0.5000",
        ("工会经费上解", "滞纳金（元）", "合计"): "14.00",
        ("案件总体", "期末逾期", "困难职工帮扶"): 1,
        ("案件总体", "办结案件：已撤回", "劳动争议调解"): 1,
        ("办理时长", "困难职工帮扶·县总工会审批", "超期完成数"): 1,
        # Steps are named as on the pages (the flows' titles).
        ("办理时长", "工会经费上解·登记缴纳", "中位时长（小时）"): "551.5",
        ("月度新立案件", "2026-03", "劳动争议调解"): 5,
    }
    for key, value in expected.items():
        assert Decimal(str(table[key].value)) == Decimal(str(value)), key
    # Real numbers with formats, not text.
    assert table[("困难职工帮扶", "发放金额（元）", "合计")].number_format == "#,##0.00"
    assert table[("劳动争议调解", "调解成功率", "合计")].number_format == "0.00%"
    assert table[("困难职工帮扶", "帮扶户数", "合计")].data_type == "n"
    # The period as dates.
    heading = {row[0].value: row[1] for row in book["汇总"].iter_rows(max_row=8) if row[0].value}
    assert heading["组织"].value == DONGHU
    assert heading["起始日期"].value == datetime(2026, 1, 1)
    assert heading["起始日期"].number_format == "yyyy-mm-dd"
    steps = rows_of(book["办理时长"])
    assert steps[0][:3] == ["流程", "环节", "完成数"]
    assert ["困难职工帮扶", "县总工会审批", 1, 192, 192, 1, 0] in steps
    months = rows_of(book["月度新立案件"])
    assert months[0] == ["月份", "困难职工帮扶", "劳动争议调解", "工会经费上解"]
    assert ["2026-03", 6, 5, 2] in months


def test_summary_as_csv(demo, api, known):
    with reading():
        response = api(demo.town_auditor).get("/api/v1/reports/summary.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel reads the BOM as UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["板块", "指标", "分项", "数值"]
    table = {tuple(r[:3]): r[3] for r in rows[1:]}
    assert table[("困难职工帮扶", "帮扶户数", "合计")] == "2"
    assert table[("工会经费上解", "滞纳金（元）", "合计")] == "14.00"
    assert table[("劳动争议调解", "调解成功率", "合计")] == "0.3333"
    assert table[("统计范围", "起始日期", "")] == "2026-01-01"


def test_case_lists_as_xlsx_and_csv(demo, api, known):
    client = api(demo.town_auditor)
    with reading():
        book = workbook(client.get("/api/v1/reports/cases.xlsx", {"process": "remittance"}))
        behind = workbook(
            client.get("/api/v1/reports/cases.xlsx", {"figure": "hardship.disbursed"})
        )
        as_csv = client.get("/api/v1/reports/cases.csv", {"figure": "remittance.late"})
    rows = rows_of(book["案件清单"])
    header = rows[3]
    assert header[:4] == ["案件编号", "流程", "状态", "结果"]
    cases = {row[0]: dict(zip(header, row, strict=True)) for row in rows[4:]}
    assert set(cases) == {known[n].number for n in ("R1", "R2", "R3", "R4")}
    late = cases[known["R2"].number]
    assert (late["流程"], late["状态"], late["结果"]) == ("工会经费上解", "已办结", "已核收")
    assert (late["滞纳天数"], late["滞纳金（元）"], late["经费所属期"]) == (7, 14, "2026-01")
    assert late["缴款日期"] == datetime(2026, 3, 3)
    assert late["立案时间"] == datetime(2026, 2, 5, 11, 0)  # local time
    sheet = book["案件清单"]
    r2_row = next(i for i, row in enumerate(rows, start=1) if row[0] == known["R2"].number)
    assert sheet.cell(r2_row, header.index("滞纳金（元）") + 1).number_format == "#,##0.00"
    assert sheet.cell(r2_row, header.index("缴款日期") + 1).number_format == "yyyy-mm-dd"
    assert cases[known["R4"].number]["状态"] == "已撤回"

    rows = rows_of(behind["案件清单"])
    paid = {row[0]: row for row in rows[4:]}
    assert set(paid) == {known[n].number for n in ("H1", "H2", "H3")}
    amounts = {number: row[rows[3].index("发放金额（元）")] for number, row in paid.items()}
    assert sorted(amounts.values()) == [800, 3000, 5500]

    lines = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert lines[0][0] == "案件编号" and len(lines) == 2
    assert lines[1][0] == known["R2"].number


def test_a_trail_as_pdf_and_csv_with_every_hash(demo, api, known):
    case = known["H2"]
    events = list(TrailEvent.objects.filter(case=case).order_by("seq"))
    client = api(demo.county_auditor)
    text = pdf_text(client.get(f"/api/v1/reports/cases/{case.pk}/trail.pdf"))
    assert "案件审计轨迹" in text and case.number in text
    assert f"哈希链校验通过：共 {len(events)} 条记录" in text
    assert "县总工会审批" in text and "按救助标准核定为5500元" in text
    for event in events:
        assert event.hash in text
    response = client.get(f"/api/v1/reports/cases/{case.pk}/trail.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "序号" and rows[0][-2:] == ["前一哈希", "哈希"]
    assert [(r[0], r[-2], r[-1]) for r in rows[1:]] == [
        (str(e.seq), e.prev_hash, e.hash) for e in events
    ]
    # Every action, role and step by its Chinese name, as on the case page (codes were left
    # raw: attachment.uploaded, grassroots_review …); the action's code has its own column.
    header = rows[0]
    named = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    for row in named:
        for column in ("操作", "角色", "环节"):
            assert not re.search(r"[a-z_]{3,}", row[column]), (column, row[column])
    assert {r["操作代码"] for r in named} >= {"case.submitted", "task.completed"}
    assert "基层工会审核" in {r["环节"] for r in named}


def test_the_yearly_report_in_chinese_with_charts(demo, api, known):
    with reading():
        response = api(demo.town_auditor).get("/api/v1/reports/yearly.pdf", {"year": 2026})
    text = pdf_text(response)
    for phrase in (
        "东湖镇总工会",
        "2026年度工作统计报告",
        "统计期间：2026年1月1日至2026年12月31日",
        "本年度共帮扶困难职工家庭2户",
        "发放帮扶资金3件、金额9,300.00元",
        "调解成功率33.33%",
        "结案天数中位数16.0天",
        "按期缴款率50.00%",
        "收取滞纳金14.00元",
        "各月新立案件数",  # chart titles
        "各救助类型发放金额（元）",
        "临时救助",
    ):
        assert phrase in text, phrase
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 2


def test_an_auditor_may_export_an_applicant_may_not(demo, api, known):
    case = known["H1"]
    urls = [
        "/api/v1/reports/summary.xlsx",
        "/api/v1/reports/summary.csv",
        "/api/v1/reports/cases.xlsx?process=hardship",
        "/api/v1/reports/cases.csv",
        f"/api/v1/reports/cases/{case.pk}/trail.pdf",
        f"/api/v1/reports/cases/{case.pk}/trail.csv",
        "/api/v1/reports/yearly.pdf",
    ]
    with reading():
        for url in urls:
            assert api(demo.town_auditor).get(url).status_code == 200, url
            # worker1 is the applicant of H1, and still may not export its trail.
            refused = api(demo.worker1).get(url)
            assert refused.status_code == 403, url
            assert refused.json()["code"] == "permission_denied"
        job = post(
            api(demo.worker1), "/api/v1/reports/exports/", {"kind": "summary", "format": "xlsx"}
        )
        assert job.status_code == 403
    # An officer out of the case's reach does not find it.
    assert api(demo.xs_aid1).get(f"/api/v1/reports/cases/{case.pk}/trail.pdf").status_code == 404


def test_wrong_format_or_kind_is_400(demo, api):
    client = api(demo.county_auditor)
    bad = post(client, "/api/v1/reports/exports/", {"kind": "yearly", "format": "csv"})
    assert bad.status_code == 400 and "format" in bad.json()["fields"]
    bad = post(client, "/api/v1/reports/exports/", {"kind": "payroll", "format": "csv"})
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]
    bad = post(client, "/api/v1/reports/exports/", {"kind": "trail", "format": "pdf"})
    assert bad.status_code == 400 and "case" in bad.json()["fields"]
    bad = client.get("/api/v1/reports/yearly.pdf", {"year": "twenty"})
    assert bad.status_code == 400 and "year" in bad.json()["fields"]


def test_a_long_export_runs_as_a_job_with_progress(demo, api, known, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 2)
    client = api(demo.town_auditor)
    with reading():
        too_long = client.get("/api/v1/reports/cases.xlsx", {"process": "remittance"})
        assert too_long.status_code == 409
        assert too_long.json()["code"] == "export_too_large"
        started = post(
            client,
            "/api/v1/reports/exports/",
            {"kind": "cases", "format": "xlsx", "params": {"process": "remittance"}},
        )
    assert started.status_code == 202, started.json()
    job = started.json()
    assert (job["status"], job["total"], job["processed"], job["percent"]) == ("pending", 4, 0, 0)
    assert job["download"] is None
    url = f"/api/v1/reports/exports/{job['id']}/"
    assert client.get(url + "download/").status_code == 409
    # Another user does not see it.
    assert api(demo.county_auditor).get(url).status_code == 404

    with reading():
        assert run_export.run(job["id"]) == "done"
        assert run_export.run(job["id"]) is None  # a second delivery does nothing
    done = client.get(url).json()
    assert (done["status"], done["processed"], done["percent"]) == ("done", 4, 100)
    assert done["download"].endswith(f"/api/v1/reports/exports/{job['id']}/download/")
    book = workbook(client.get(url + "download/"))
    assert len(rows_of(book["案件清单"])) == 4 + 4  # heading, blank, header… and four cases
    assert client.get("/api/v1/reports/exports/").json()["count"] == 1


def test_progress_is_written_while_the_job_runs(demo, api, known, monkeypatch):
    monkeypatch.setattr("reports.exports.xlsx.PROGRESS_EVERY", 1)
    client = api(demo.town_auditor)
    with reading():
        job = post(
            client,
            "/api/v1/reports/exports/",
            {"kind": "cases", "format": "xlsx", "params": {"process": "hardship"}},
        ).json()
    seen = []
    build_rows = services.tables.case_row

    def row(case):
        seen.append(ExportJob.objects.get(pk=job["id"]).processed)
        return build_rows(case)

    monkeypatch.setattr(services.tables, "case_row", row)
    with reading():
        run_export.run(job["id"])
    # The row before the n-th was reported before the n-th was written.
    assert seen == list(range(len(seen)))
    assert len(seen) == 6
    assert ExportJob.objects.get(pk=job["id"]).status == "done"


def test_a_job_that_fails_says_so(demo, api, known, monkeypatch):
    client = api(demo.town_auditor)
    job = post(client, "/api/v1/reports/exports/", {"kind": "yearly", "format": "pdf"}).json()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.pdf, "yearly_pdf", broken)
    run_export.run(job["id"])
    failed = client.get(f"/api/v1/reports/exports/{job['id']}/").json()
    assert failed["status"] == "failed" and failed["error"]
    assert failed["download"] is None
