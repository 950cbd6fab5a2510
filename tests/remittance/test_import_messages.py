"""What a finance officer reads when a declarations file is refused: the columns named as a file
spells them (all the missing ones at once), a file saved with semicolons or with a column twice
called out as such, a file with nothing below its header refused, and every bad field of a row
reported, each with its row and column. A refused file declares nothing. A workbook is read at
upload like a CSV file, once what it unpacks to is known to be bounded (a zip bomb is refused
without being unpacked), and one that cannot be read is refused by name, never a 500."""

import functools
import io
import struct
import zipfile
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import Case
from cases.remittance import imports
from cases.remittance.models import ImportJob
from cases.remittance.tasks import run_import
from tests.remittance.helpers import declarations_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = ["工会", "期间", "工资总额", "职工人数", "会员人数"]
EXPECTED = (
    "The first row must name the columns: union, period, payroll total, headcount, member count."
)
ROW = ["东湖机械厂工会", "2026-01", 100000, 120, 100]
SHEET = "xl/worksheets/sheet1.xml"
UNREADABLE = "The workbook cannot be read: "


@pytest.fixture
def officer(demo):
    """The town's finance officer, who reads the site in English."""
    user = demo.town_finance
    user.language = "en"
    user.save(update_fields=["language"])
    return user


def _csv(text, name="declarations.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8-sig"), "text/csv")


def _workbook(rows):
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _xlsx(rows):
    return _upload(_workbook(rows))


def _upload(content):
    return SimpleUploadedFile("declarations.xlsx", content)


def _with_parts(content, parts):
    """The workbook `content` with its parts replaced: {name: bytes, or None to leave it
    out}."""
    parts = dict(parts)
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = parts.pop(item.filename, source.read(item))
            if data is not None:
                archive.writestr(item.filename, data)
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


ZEROS_MB = 60


@functools.cache
def _bomb(*, lying=False):
    """A good workbook with one more part: 60 MB of zeros, packed to about 60 KB. `lying`: the
    archive's headers (local and central) declare that part as 1 KB."""
    out = io.BytesIO(_workbook([HEADER, ROW]))
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as part,
    ):
        for _ in range(ZEROS_MB):
            part.write(bytes(1024 * 1024))
    content = bytearray(out.getvalue())
    if lying:
        archive = zipfile.ZipFile(io.BytesIO(bytes(content)))
        local = archive.getinfo("xl/media/zeros.bin").header_offset
        struct.pack_into("<I", content, local + 22, 1024)  # uncompressed size
        central = content.index(b"PK\x01\x02", archive.start_dir)
        while content[central + 46 : central + 46 + 18] != b"xl/media/zeros.bin":
            central = content.index(b"PK\x01\x02", central + 4)
        struct.pack_into("<I", content, central + 24, 1024)
        assert (
            zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo("xl/media/zeros.bin").file_size
            == 1024
        )
    return bytes(content)


def _sheet(rows):
    """A sheet's XML: {row number: [text of each cell]}."""
    xml = "".join(
        f'<row r="{number}">'
        + "".join(f'<c t="inlineStr"><is><t>{text}</t></is></c>' for text in cells)
        + "</row>"
        for number, cells in rows.items()
    )
    return (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{xml}</sheetData></worksheet>"
    ).encode()


@pytest.fixture
def unpacked(monkeypatch):
    """How many bytes were read out of archive parts, in all."""
    read = zipfile.ZipExtFile.read
    total = [0]

    def counting(self, n=-1):
        data = read(self, n)
        total[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    return total


def _import(api, user, file, language="en"):
    """Upload, run the worker, and read the job as the API shows it; or the refusal at upload,
    where a file that cannot be declared at all is answered at once (400 on `file`, no job).
    The client asks for `language`; the worker writes in the uploader's."""
    client = api(user)
    asked = {"HTTP_ACCEPT_LANGUAGE": language}
    with time_machine.travel(datetime(2026, 2, 5, 10, tzinfo=SHANGHAI), tick=False):
        job = client.post(
            "/api/v1/fee-remittances/imports/", {"file": file}, format="multipart", **asked
        )
        if job.status_code == 400:
            assert not ImportJob.objects.exists()
            return {"refused_at_upload": job.json()["fields"]["file"]}
        assert job.status_code == 202, job.json()
        run_import.run(job.json()["id"])
        return client.get(f"/api/v1/fee-remittances/imports/{job.json()['id']}/", **asked).json()


def _refused(result):
    """The messages of an import refused at upload, after checking nothing was declared."""
    assert not Case.objects.exists()
    return result["refused_at_upload"]


def _run_queued(user, content):
    """A job queued with `content` past the upload's checks (queued before them, or another
    way), run by the worker: its file-level messages, after checking nothing was declared."""
    job = ImportJob.objects.create(
        created_by=user, filename="declarations.xlsx", content=content, language="en"
    )
    run_import.run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.created_cases == []
    assert all(e["row"] is None and e["field"] == "file" for e in job.errors)
    assert not Case.objects.exists()
    return [e["message"] for e in job.errors]


# --- 1. missing columns ---------------------------------------------------------------------


def test_missing_columns_are_named_as_a_file_spells_them_and_all_at_once(api, officer):
    result = _import(api, officer, _csv("工会,期间,工资总额\n东湖机械厂工会,2026-01,100000\n"))
    assert _refused(result) == [f"Missing columns: headcount, member count. {EXPECTED}"]


def test_one_missing_column_is_named_by_its_label_not_its_internal_name(api, officer):
    result = _import(
        api, officer, _csv("工会,期间,职工人数,会员人数\n东湖机械厂工会,2026-01,120,100\n")
    )
    assert _refused(result) == [f"Missing column: payroll total. {EXPECTED}"]


def test_a_csv_file_that_cannot_be_declared_is_refused_at_upload(api, officer):
    """No job to poll: the officer reads why at once, and no file is kept."""
    response = api(officer).post(
        "/api/v1/fee-remittances/imports/",
        {"file": _csv("工会;期间;工资总额;职工人数;会员人数\n东湖机械厂工会;2026-01;1;1;1\n")},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["file"][0].startswith(
        "The file seems to be separated by semicolons"
    )
    assert not ImportJob.objects.exists()


def test_the_column_names_the_messages_give_are_accepted(api, officer):
    header = "Union,Period,Payroll total,Headcount,Member count"
    result = _import(api, officer, _csv(f"{header}\n东湖机械厂工会,2026-01,100000,120,100\n"))
    assert result["status"] == "done", result["errors"]
    assert len(result["created_cases"]) == 1


# --- 2. semicolons, tabs, a column twice ----------------------------------------------------


def test_a_file_separated_by_semicolons_is_called_out(api, officer):
    text = ";".join(HEADER) + "\n东湖机械厂工会;2026-01;100000,50;120;100\n"
    assert _refused(_import(api, officer, _csv(text))) == [
        "The file seems to be separated by semicolons, not commas: save it as a "
        "comma-separated CSV (UTF-8) and upload it again."
    ]


def test_a_file_separated_by_tabs_is_called_out(api, officer):
    text = "\t".join(HEADER) + "\n东湖机械厂工会\t2026-01\t100000\t120\t100\n"
    assert _refused(_import(api, officer, _csv(text))) == [
        "The file seems to be separated by tabs, not commas: save it as a "
        "comma-separated CSV (UTF-8) and upload it again."
    ]


def test_a_column_given_twice_is_called_out(api, officer):
    text = ",".join([*HEADER, "职工人数"]) + "\n东湖机械厂工会,2026-01,100000,120,100,130\n"
    assert _refused(_import(api, officer, _csv(text))) == [
        "The column 职工人数 appears more than once; keep only one."
    ]


def test_two_spellings_of_one_column_are_called_out(api, officer):
    text = "单位,工会,期间,工资总额,职工人数,会员人数\n东湖机械厂,东湖机械厂工会,2026-01,100000,120,100\n"
    assert _refused(_import(api, officer, _csv(text))) == [
        "The columns 单位, 工会 would each be read as the union column; keep only one."
    ]


# --- 3. nothing below the header ------------------------------------------------------------


@pytest.mark.parametrize(
    "file",
    [
        pytest.param(lambda: declarations_csv([]), id="csv"),
        pytest.param(lambda: _csv(",".join(HEADER) + "\n\n,,,,\n"), id="csv-blank-lines"),
        pytest.param(lambda: _xlsx([HEADER]), id="xlsx"),
        pytest.param(lambda: _xlsx([[], HEADER, [], ["", None, " "]]), id="xlsx-blank-rows"),
    ],
)
def test_a_file_with_only_its_header_is_refused(api, officer, file):
    result = _import(api, officer, file())
    assert _refused(result) == ["The file has only its header row: there are no rows to declare."]


# --- 4. every bad field of a row ------------------------------------------------------------


def test_every_bad_field_of_a_row_is_reported_with_its_row_and_column(api, officer):
    result = _import(
        api,
        officer,
        declarations_csv(
            [
                ["东湖机械厂工会", "2026-01", "100000", "120", "100"],
                ["不存在的工会", "2026-13", "-5", "abc", "x"],
                ["东湖纺织公司工会", "2026-01", "50000", "0", "10"],
            ]
        ),
    )
    assert result["status"] == "failed" and result["created_cases"] == []
    assert [(e["row"], e["field"], e["column"], e["message"]) for e in result["errors"]] == [
        (3, "union", "工会", "Row 3, column 工会: No grassroots union 不存在的工会 in your reach."),
        (3, "period", "期间", "Row 3, column 期间: No such month."),
        (3, "payroll_total", "工资总额", "Row 3, column 工资总额: Must be more than zero."),
        (3, "headcount", "职工人数", "Row 3, column 职工人数: A whole number, zero or more."),
        (3, "member_count", "会员人数", "Row 3, column 会员人数: A whole number, zero or more."),
        (
            4,
            "headcount",
            "职工人数",
            "Row 4, column 职工人数: A union that declares has at least one employee.",
        ),
        (4, "member_count", "会员人数", "Row 4, column 会员人数: Cannot exceed the headcount."),
    ]
    assert not Case.objects.exists()  # the good first row is not declared either


def test_row_messages_name_the_column_as_the_file_spells_it(api, officer):
    rows = [["union", "Period", "payroll", "headcount", "members"], ["", "2026-01", 0, 5, 3]]
    result = _import(api, officer, _xlsx(rows))
    assert [e["message"] for e in result["errors"]] == [
        "Row 2, column union: Give the union's name or its id.",
        "Row 2, column payroll: Must be more than zero.",
    ]
    assert not Case.objects.exists()


# --- spreadsheets, repeats, long reports, Chinese lists --------------------------------------


def test_spreadsheet_numbers_read_as_typed(api, officer):
    """A spreadsheet gives its numbers back as floats: a headcount of 120.0, or a payroll
    total a formula left as 123456.78000000001. They are the figures the officer typed."""
    rows = [HEADER, ["东湖机械厂工会", "2026-01", 123456.78000000001, 120.0, 100.0]]
    result = _import(api, officer, _xlsx(rows))
    assert result["status"] == "done", result["errors"]
    declared = Case.objects.get().remittance
    assert (declared.payroll_total, declared.headcount, declared.member_count) == (
        Decimal("123456.78"),
        120,
        100,
    )


def test_a_period_already_declared_says_which_and_what_to_do(api, officer):
    rows = [["东湖机械厂工会", "2026-01", "100000", "120", "100"]]
    assert _import(api, officer, declarations_csv(rows))["status"] == "done"
    result = _import(api, officer, declarations_csv(rows))
    assert [e["message"] for e in result["errors"]] == [
        "Row 2, column 期间: 东湖机械厂工会 has already declared 2026-01: a correction is filed "
        "as a supplementary declaration on that declaration's page."
    ]
    assert Case.objects.count() == 1


def test_a_long_report_lists_the_first_problems_and_counts_the_rest(api, officer, monkeypatch):
    monkeypatch.setattr("cases.remittance.imports.MAX_ERRORS", 3)
    rows = [["东湖机械厂工会", f"2025-0{month}", "100000", "x", "y"] for month in (1, 2, 3)]
    result = _import(api, officer, declarations_csv(rows))
    assert [(e["row"], e["field"]) for e in result["errors"]] == [
        (2, "headcount"),
        (2, "member_count"),
        (3, "headcount"),
        (None, "file"),  # in all 6: 3 listed, then the rest counted
    ]
    assert result["errors"][-1]["message"] == (
        "…and 3 more problems, not listed: correct these and upload the file again."
    )
    assert not Case.objects.exists()


def test_lists_read_as_chinese_lists(api, demo):
    """In Chinese the columns are listed with 、, not with an English comma."""
    text = "工会,期间,工资总额\n东湖机械厂工会,2026-01,1\n"
    result = _import(api, demo.town_finance, _csv(text), language="zh-hans")
    [message] = _refused(result)
    assert message.startswith("缺少列：职工人数、会员人数。")


def test_the_job_speaks_the_language_the_file_was_uploaded_in(api, demo):
    """An API client with no saved language reads the worker's report in the language it asked
    for at upload (Accept-Language), not in the site's."""
    rows = [HEADER, ["东湖机械厂工会", "2026-01", 0, 5, 3]]
    result = _import(api, demo.town_finance, _xlsx(rows), language="en")
    assert [e["message"] for e in result["errors"]] == [
        "Row 2, column 工资总额: Must be more than zero."
    ]
    result = _import(api, demo.town_finance, _xlsx(rows), language="zh-hans")
    assert result["errors"][0]["message"].startswith("第2行")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(",".join(HEADER) + "\r东湖机械厂工会,2026-01,100000,120,100\r", id="cr-only"),
        pytest.param(",".join(HEADER) + "\n" + "x" * 200_000 + "\n", id="a-huge-cell"),
        pytest.param("y" * 200_000 + "," + ",".join(HEADER[1:]) + "\n", id="a-huge-header"),
    ],
)
def test_odd_csv_files_are_read_or_refused_by_name_never_a_500(api, officer, text):
    response = api(officer).post(
        "/api/v1/fee-remittances/imports/", {"file": _csv(text)}, format="multipart"
    )
    if text.startswith(HEADER[0]) and "\r" in text:
        assert response.status_code == 202, response.json()  # CR line endings read as lines
    else:
        assert response.status_code == 400 and "file" in response.json()["fields"]


# --- workbooks: read at upload, safely --------------------------------------------------------


@pytest.mark.parametrize(
    "rows, expected",
    [
        pytest.param(
            [HEADER[:3], ROW[:3]],
            [f"Missing columns: headcount, member count. {EXPECTED}"],
            id="missing-columns",
        ),
        pytest.param(
            [[*HEADER, "职工人数"], [*ROW, 130]],
            ["The column 职工人数 appears more than once; keep only one."],
            id="a-column-twice",
        ),
        pytest.param([HEADER, ROW, ROW, ROW], ["At most 2 rows per file."], id="too-many-rows"),
    ],
)
def test_a_workbook_that_cannot_be_declared_is_refused_at_upload(
    api, officer, monkeypatch, rows, expected
):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    assert _refused(_import(api, officer, _xlsx(rows))) == expected


def test_a_good_workbook_is_accepted_and_declared_by_the_worker(api, officer):
    rows = [HEADER, [ROW[0], datetime(2026, 1, 1), *ROW[2:]]]  # the period as a date cell
    result = _import(api, officer, _xlsx(rows))
    assert result["status"] == "done", result["errors"]
    assert result["total_rows"] == 1 and len(result["created_cases"]) == 1
    assert f"{Case.objects.get().remittance.period:%Y-%m}" == "2026-01"


def test_a_note_far_to_the_right_is_no_trouble(api, officer):
    """A cell in column XFD: the sheet declares itself 16384 columns wide; only the first
    imports.MAX_COLUMNS are read."""
    rows = [[*HEADER, *[None] * 16378, "note"], ROW]
    result = _import(api, officer, _xlsx(rows))
    assert result["status"] == "done", result["errors"]


@pytest.mark.parametrize(
    "lying, expected",
    [
        pytest.param(False, "The workbook unpacks to more than 30 MB: ", id="honest-sizes"),
        # zipfile stops at the declared size, and the part's CRC is then wrong.
        pytest.param(True, UNREADABLE, id="headers-that-lie"),
    ],
)
def test_a_zip_bomb_is_refused_at_upload_without_being_unpacked(
    api, officer, unpacked, lying, expected
):
    content = _bomb(lying=lying)
    assert len(content) < imports.MAX_BYTES
    unpacked[0] = 0
    [message] = _refused(_import(api, officer, _upload(content)))
    assert message.startswith(expected)
    assert unpacked[0] <= imports.MAX_UNPACKED_BYTES + 64 * 1024 < ZEROS_MB * 1024 * 1024


def test_a_workbook_of_too_many_parts_is_refused_at_upload(api, officer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_PARTS", 3)
    [message] = _refused(_import(api, officer, _xlsx([HEADER, ROW])))
    assert message.startswith("The workbook is made of more than 3 parts: ")


def _flipped(content, name, at=0.5):
    """`content` with bytes in the middle of part `name`'s packed data flipped."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(name)
    names, extra = struct.unpack_from("<HH", content, info.header_offset + 26)
    start = info.header_offset + 30 + names + extra + int(info.compress_size * at)
    data = bytearray(content)
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    "content, expected",
    [
        pytest.param(
            lambda: _workbook([HEADER, ROW])[:-100],
            "Upload an .xlsx or a .csv (UTF-8) file.",
            id="truncated",
        ),
        pytest.param(lambda: _flipped(_workbook([HEADER, ROW]), SHEET), UNREADABLE, id="bad-data"),
        pytest.param(
            lambda: _with_parts(_workbook([HEADER, ROW]), {SHEET: None}),
            UNREADABLE,
            id="no-worksheet",
        ),
        pytest.param(
            lambda: _with_parts(_workbook([HEADER, ROW]), {SHEET: b"<x"}),
            UNREADABLE,
            id="not-xml",
        ),
        pytest.param(
            lambda: _with_parts(
                _workbook([HEADER]),
                {SHEET: _sheet({1: HEADER, 2_000_000: ROW[:2]})},
            ),
            UNREADABLE,
            id="a-row-past-excels-last",
        ),
    ],
)
def test_a_corrupt_workbook_is_refused_at_upload_never_a_500(api, officer, content, expected):
    response = api(officer).post(
        "/api/v1/fee-remittances/imports/",
        {"file": _upload(content())},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400, response.content
    [message] = response.json()["fields"]["file"]
    assert message.startswith(expected)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        pytest.param(_bomb, "The workbook unpacks to more than 30 MB: ", id="bomb"),
        pytest.param(lambda: _bomb(lying=True), UNREADABLE, id="bomb-whose-headers-lie"),
        pytest.param(
            lambda: _with_parts(_workbook([HEADER, ROW]), {SHEET: None}),
            UNREADABLE,
            id="no-worksheet",
        ),
        pytest.param(lambda: _workbook([HEADER]), "The file has only its header row", id="header"),
    ],
)
def test_the_worker_refuses_a_workbook_queued_past_the_upload_checks(
    officer, unpacked, content, expected
):
    """The worker applies the same checks before openpyxl opens the file: its report names
    the file's fault ("The import failed; try again." would send the officer round again)."""
    data = content()
    unpacked[0] = 0
    [message] = _run_queued(officer, data)
    assert message.startswith(expected)
    assert unpacked[0] <= imports.MAX_UNPACKED_BYTES + 64 * 1024
