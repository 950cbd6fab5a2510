"""Excel workbooks (openpyxl, write-only: rows stream to the file, so a long case list does not
sit in memory twice). Numbers are numbers with formats — money with two decimals and
thousands separators, rates as percentages — and dates are dates (local time: Excel has no
time zones)."""

import io
from datetime import datetime

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from . import tables

FORMATS = {
    "int": "0",
    "money": "#,##0.00",
    "rate": "0.00%",
    "days": "0.0",
    "hours": "0.0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "text": "@",
}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F3D9D7")
TITLE_FONT = Font(bold=True, size=14)
WIDTHS = {"text": 18, "money": 16, "datetime": 20, "date": 12}
PROGRESS_EVERY = 200


def _excel_value(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def cell(sheet, value, kind="text", *, bold=False):
    c = WriteOnlyCell(sheet, value=_excel_value(value))
    if isinstance(value, str):
        c.data_type = "s"  # never a formula, whatever it starts with (openpyxl makes "=…" one)
    if value is not None and kind != "text":
        c.number_format = FORMATS[kind]
    if bold:
        c.font = HEADER_FONT
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="center")
    return c


def _header(sheet, headers):
    sheet.append([cell(sheet, h, bold=True) for h in headers])


def _widths(sheet, kinds, first=None):
    for index, kind in enumerate(kinds, start=1):
        width = WIDTHS.get(kind, 12)
        if index == 1 and first:
            width = first
        sheet.column_dimensions[get_column_letter(index)].width = width


def _save(workbook):
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def summary_workbook(summary):
    """汇总 (every figure, one per row), 办理时长 (per step) and 月度新立案件 (per month)."""
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("汇总")
    _widths(sheet, ("text", "text", "text", "money"), first=16)
    sheet.column_dimensions["B"].width = 26
    sheet.column_dimensions["C"].width = 26
    title = f"{summary['organization']['name']} 工作统计"
    sheet.append([WriteOnlyCell(sheet, value=title)])
    sheet.append([])
    for label, value, kind in tables.heading(summary):
        sheet.append([cell(sheet, label, bold=True), cell(sheet, value, kind)])
    sheet.append([])
    _header(sheet, tables.SUMMARY_HEADERS)
    for row in tables.summary_rows(summary):
        sheet.append(
            [
                cell(sheet, row.section),
                cell(sheet, row.figure),
                cell(sheet, row.item),
                cell(sheet, row.value, row.kind),
            ]
        )

    steps = wb.create_sheet("办理时长")
    _widths(steps, tables.TASK_KINDS, first=16)
    steps.column_dimensions["B"].width = 18
    _header(steps, tables.TASK_HEADERS)
    for values in tables.task_table(summary):
        steps.append([cell(steps, v, k) for v, k in zip(values, tables.TASK_KINDS, strict=True)])

    months = wb.create_sheet("月度新立案件")
    _widths(months, ("text", "int", "int", "int"))
    _header(months, tables.MONTHLY_HEADERS)
    for values in tables.monthly_table(summary):
        months.append([cell(months, values[0]), *(cell(months, v, "int") for v in values[1:])])
    return _save(wb)


def table_workbook(title, columns, rows, *, heading=(), progress=None):
    """One sheet: optional heading lines, a header row, then `rows` (lists of values in the
    order of `columns`, each (header, kind, getter)). `progress(n)` is told every few hundred
    rows."""
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(title)
    kinds = [kind for _header, kind, _get in columns]
    _widths(sheet, kinds)
    for label, value, kind in heading:
        sheet.append([cell(sheet, label, bold=True), cell(sheet, value, kind)])
    if heading:
        sheet.append([])
    _header(sheet, [header for header, _kind, _get in columns])
    count = 0
    for values in rows:
        sheet.append([cell(sheet, v, k) for v, k in zip(values, kinds, strict=True)])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return _save(wb)


def today_heading(label, value):
    return [(label, value, "text"), ("导出时间", timezone.now(), "datetime")]
