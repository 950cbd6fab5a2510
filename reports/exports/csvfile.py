"""CSV files: UTF-8 with a byte-order mark (so that Excel opens the Chinese headers right),
amounts as plain decimals with two places, rates as fractions, times in local time."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from . import tables

PROGRESS_EVERY = 200


# A spreadsheet opening the file runs a cell that starts like this as a formula (CSV
# injection: =HYPERLINK(…) in a name someone typed); a leading apostrophe keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _encode(buffer):
    return buffer.getvalue().encode("utf-8-sig")


def summary_csv(summary):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(tables.SUMMARY_HEADERS)
    for label, value, _kind in tables.heading(summary):
        writer.writerow(["统计范围", label, "", text(value)])
    for row in tables.summary_rows(summary):
        writer.writerow([row.section, row.figure, row.item, text(row.value)])
    return _encode(buffer)


def table_csv(columns, rows, *, progress=None):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header for header, _kind, _get in columns])
    count = 0
    for values in rows:
        writer.writerow([text(v) for v in values])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return _encode(buffer)
