"""Bulk declarations from a spreadsheet, for a finance officer above the unions: every row
becomes a declaration, or — if the file cannot be read or any row is wrong — none does, and the
report names every bad field of every bad row (row number and column as the file spells it).
Each declaration is the union's own (its treasurer is the declarant of record), submitted by
the importer: it goes through the union's chair and the parent's finance officer like any
other. Runs in a worker; progress is kept in the cache so the uploader can watch it."""

import contextlib
import csv
import functools
import io
import logging
import zipfile
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from cases.services import numbers_reserved
from core import jobs, queue
from core.errors import DomainError, Forbidden, Invalid
from core.i18n import reader_language
from organizations.models import Membership, Organization, OrganizationKind, Role
from organizations.selectors import memberships_of

from . import services
from .models import ImportJob

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# A workbook is a zip archive, and a few kilobytes of it can unpack to gigabytes (a "zip
# bomb"): before openpyxl opens one, what its parts really unpack to is counted, and past this
# it is refused. It also bounds the upload's time: openpyxl reads about 2 MB of sheet a second,
# and a workbook of MAX_ROWS declarations with long names and a notes column unpacks to 8 MB;
# 30 MB stays well inside the web server's 30 s.
MAX_UNPACKED_BYTES = 30 * 1024 * 1024
# A workbook is a dozen parts (a few hundred with pictures); each costs a read.
MAX_PARTS = 1000
# Cells read from each row of a workbook: one cell far to the right (column XFD) would
# otherwise make every row sixteen thousand cells wide.
MAX_COLUMNS = 100
# Excel's last row: a sheet that numbers a row past it is not one Excel wrote, and the rows
# up to it are produced one by one even when the sheet skips them.
EXCEL_MAX_ROWS = 1_048_576
# A report of more problems than this lists these, then says how many more there are: a file
# wrong throughout (a shifted column) would otherwise give a report longer than the file.
MAX_ERRORS = 500
# Header names accepted for each column (English or Chinese; case, spaces and underscores
# do not matter), besides its label (LABELS) in any of the site's languages.
COLUMNS = {
    "union": ("union", "organization", "工会", "基层工会", "单位"),
    "period": ("period", "期间", "月份", "所属期"),
    "payroll_total": ("payroll", "payroll_total", "工资总额"),
    "headcount": ("headcount", "职工人数", "职工数"),
    "member_count": ("members", "member_count", "会员人数", "会员数"),
}
# How a message names a column the file lacks: the header a file should give it (the
# declaration's own field names, in the reader's language).
LABELS = {
    "union": gettext_lazy("union"),
    "period": gettext_lazy("period"),
    "payroll_total": gettext_lazy("payroll total"),
    "headcount": gettext_lazy("headcount"),
    "member_count": gettext_lazy("member count"),
}


def _progress_key(job_id):
    return f"remittance-import:{job_id}:processed"


def progress(job):
    if job.status in (ImportJob.Status.DONE,):
        return job.total_rows
    return cache.get(_progress_key(job.pk), 0)


def start(*, user, upload):
    """Check the file and queue the job (the worker checks the rows and declares). The file is
    read here, so that one that cannot be declared at all (columns missing or twice, the wrong
    separator, no rows, too many, a workbook that cannot be read or unpacks to too much) is
    refused at once (400 on `file`) and no job is made."""
    if not any(m.role == Role.FINANCE_OFFICER for m in memberships_of(user)):
        raise Forbidden(_("Only a finance officer may import declarations."))
    if upload.size > MAX_BYTES:
        raise Invalid(fields={"file": [_("The file is larger than 5 MB.")]})
    content = upload.read()
    if not content.lstrip(b"\xef\xbb\xbf").strip():  # nothing, or a UTF-8 mark and blanks
        raise Invalid(fields={"file": [_("The file is empty.")]})
    kind = _kind(content)
    if kind is None:
        raise Invalid(fields={"file": [_("Upload an .xlsx or a .csv (UTF-8) file.")]})
    _rows(content)
    with transaction.atomic():
        job = ImportJob.objects.create(
            created_by=user,
            filename=upload.name[:255],
            content=content,
            language=translation.get_language() or "",
        )
        transaction.on_commit(functools.partial(enqueue, job.pk), robust=True)
    return job


def enqueue(job_id):
    from .tasks import run_import  # the tasks module imports this one

    # Not sent, the job waits, and beat queues it again (core.jobs).
    queue.publish(lambda: run_import.delay(job_id), f"import job {job_id}")


def _kind(content):
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                if "xl/workbook.xml" in archive.namelist():
                    return "xlsx"
        except zipfile.BadZipFile:
            return None
        return None
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return "csv" if b"\x00" not in content else None


def _header_key(value):
    """A header cell as compared with the accepted names: case, spaces, hyphens and
    underscores do not matter ("Payroll total" is "payroll_total")."""
    return "_".join(str(value or "").replace("-", " ").replace("_", " ").lower().split())


def _accepted():
    """{header key: column}: COLUMNS' names and each column's label in every language."""
    accepted = {}
    for column, names in COLUMNS.items():
        labels = []
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                labels.append(str(LABELS[column]))
        for name in (*names, *labels):
            accepted[_header_key(name)] = column
    return accepted


def _file_error(*messages):
    return Invalid(fields={"file": [str(m) for m in messages]})


def _joined(names):
    return pgettext("list separator", ", ").join(str(n) for n in names)


def _cell(value):
    """A spreadsheet cell as typed: numbers come back as floats (120.0, or 1234.5600000000002
    from a formula), which read as whole numbers and amounts."""
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return Decimal(repr(value)).quantize(Decimal("0.000001")).normalize()
    return value


def _columns_found(header, accepted):
    return {accepted[_header_key(h)] for h in header if _header_key(h) in accepted}


def _csv_rows(text, delimiter=","):
    """The rows of a CSV text, whatever its line endings (CR alone, from old spreadsheets,
    too); one that the csv module cannot read (a cell longer than it takes) is refused."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise _file_error(
            _(
                "The file cannot be read as CSV (a cell is too long, or a quote is not "
                "closed): save it again as a comma-separated CSV (UTF-8)."
            )
        ) from None


def _check_separator(content, header, accepted):
    """A CSV saved with semicolons (Excel in many European locales) or tabs reads as one
    column: say so rather than list every column as missing."""
    if len(_columns_found(header, accepted)) == len(COLUMNS):
        return
    text = content.decode("utf-8-sig")
    for delimiter, message in (
        (
            ";",
            _(
                "The file seems to be separated by semicolons, not commas: save it as a "
                "comma-separated CSV (UTF-8) and upload it again."
            ),
        ),
        (
            "\t",
            _(
                "The file seems to be separated by tabs, not commas: save it as a "
                "comma-separated CSV (UTF-8) and upload it again."
            ),
        ),
    ):
        other = next((r for r in _csv_rows(text, delimiter) if any(v.strip() for v in r)), [])
        if len(_columns_found(other, accepted)) > len(_columns_found(header, accepted)):
            raise _file_error(message)


def _header(header, accepted):
    """({column: its position}, {column: its header as the file spells it}), or a refusal
    naming every column given twice and every column missing."""
    positions = {}
    for i, cell in enumerate(header):
        column = accepted.get(_header_key(cell))
        if column is not None:
            positions.setdefault(column, []).append(i)
    spelled = {i: " ".join(str(cell or "").split()) for i, cell in enumerate(header)}
    problems = []
    for column, found in positions.items():
        if len(found) < 2:
            continue
        names = list(dict.fromkeys(spelled[i] for i in found))
        if len(names) == 1:
            problems.append(
                _("The column %(column)s appears more than once; keep only one.")
                % {"column": names[0]}
            )
        else:
            problems.append(
                _(
                    "The columns %(columns)s would each be read as the %(label)s column; keep "
                    "only one."
                )
                % {"columns": _joined(names), "label": LABELS[column]}
            )
    missing = [LABELS[c] for c in COLUMNS if c not in positions]
    if missing:
        message = ngettext(
            "Missing column: %(columns)s.", "Missing columns: %(columns)s.", len(missing)
        ) % {"columns": _joined(missing)}
        expected = _("The first row must name the columns: %(columns)s.") % {
            "columns": _joined(LABELS.values())
        }
        problems.append(f"{message} {expected}")
    if problems:
        raise _file_error(*problems)
    return (
        {c: found[0] for c, found in positions.items()},
        {c: spelled[found[0]] for c, found in positions.items()},
    )


def _unreadable():
    return _file_error(
        _(
            "The workbook cannot be read: open it in Excel or WPS, save it again as .xlsx (or as "
            "a CSV, UTF-8) and upload it again."
        )
    )


def _check_unpacked(content):
    """Refuse a workbook of more than MAX_PARTS parts or that unpacks to more than
    MAX_UNPACKED_BYTES, before openpyxl opens it. What each part really unpacks to is counted,
    chunk by chunk; the sizes the archive declares are not trusted (they can lie)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_PARTS:
                raise _file_error(
                    _(
                        "The workbook is made of more than %(n)d parts: copy the declarations "
                        "into a new workbook, or save them as a CSV (UTF-8), and upload that."
                    )
                    % {"n": MAX_PARTS}
                )
            unpacked = 0
            for part in parts:
                with archive.open(part) as member:
                    while chunk := member.read(64 * 1024):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise _file_error(
                                _(
                                    "The workbook unpacks to more than %(n)d MB: copy the "
                                    "declarations into a new workbook, or save them as a CSV "
                                    "(UTF-8), and upload that."
                                )
                                % {"n": MAX_UNPACKED_BYTES // (1024 * 1024)}
                            )
    except DomainError:
        raise
    except Exception as exc:  # a bad CRC, bad deflate data, a truncated or encrypted part…
        logger.info("Unreadable workbook archive", exc_info=True)
        raise _unreadable() from exc


def _filled(raw):
    return any(raw) and any(str(v or "").strip() for v in raw)  # any(raw): a blank row, fast


def _workbook_rows(content):
    """[(row number, cells)] of the workbook's active sheet, its blank rows left out, read up to
    one row more than a file may have; a workbook that cannot be read is refused."""
    _check_unpacked(content)
    from openpyxl import load_workbook

    rows = []
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = book.active
            sheet.reset_dimensions()  # else every row is padded to the size the sheet declares
            cells = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
            for number, raw in enumerate(cells, start=1):
                if number > EXCEL_MAX_ROWS:
                    raise ValueError(f"row {number}")
                if not any(raw):
                    continue
                width = len(raw)
                while raw[width - 1] is None:  # rows come MAX_COLUMNS wide
                    width -= 1
                raw = [_cell(v) for v in raw[:width]]
                if _filled(raw):
                    rows.append((number, raw))
                    if len(rows) > MAX_ROWS + 1:  # the header and one row too many
                        break
        finally:
            book.close()
    except Exception as exc:  # openpyxl: KeyError (a part missing), ValueError, TypeError…
        logger.info("Unreadable workbook", exc_info=True)
        raise _unreadable() from exc
    return rows


def _rows(content):
    """([(row number, {column: raw value})], {column: its header as the file spells it}), the
    header mapped to our column names; a file that cannot be read so is refused (Invalid)."""
    accepted = _accepted()
    xlsx = _kind(content) == "xlsx"
    if xlsx:
        filled = _workbook_rows(content)
    else:
        table = _csv_rows(content.decode("utf-8-sig"))
        filled = [(number, raw) for number, raw in enumerate(table, start=1) if _filled(raw)]
    if not filled:
        raise _file_error(_("The file is empty."))
    (_number, header), body = filled[0], filled[1:]  # the header: the first row not blank
    if not xlsx:
        _check_separator(content, header, accepted)
    index, names = _header(header, accepted)
    rows = [
        (number, {c: (raw[i] if i < len(raw) else None) for c, i in index.items()})
        for number, raw in body
    ]
    if not rows:
        raise _file_error(_("The file has only its header row: there are no rows to declare."))
    if len(rows) > MAX_ROWS:
        raise _file_error(_("At most %(n)d rows per file.") % {"n": MAX_ROWS})
    return rows, names


def _period_text(value):
    if hasattr(value, "strftime"):  # a spreadsheet date cell
        return value.strftime("%Y-%m")
    return str(value or "").strip()


def _union(user, value, unions):
    key = str(value or "").strip()
    if key.endswith(".0"):
        key = key[:-2]  # numbers read back from a spreadsheet
    if not key:
        raise Invalid(fields={"union": [_("Give the union's name or its id.")]})
    union = unions["id"].get(key)
    if union is None:
        named = unions["name"].get(key, [])
        if len(named) > 1:  # never guess which: the declaration would be charged to it
            ids = _joined(o.pk for o in named)
            message = _(
                "Several unions in your reach are named %(union)s (ids %(ids)s): give its id."
            ) % {"union": key, "ids": ids}
            raise Invalid(fields={"union": [message]})
        union = named[0] if named else None
    if union is None:
        raise Invalid(
            fields={"union": [_("No grassroots union %(union)s in your reach.") % {"union": key}]}
        )
    return union


def _row_errors(number, problems, names):
    """The errors [{row, field, column, message}] of row `number` from {field: [messages]},
    in the file's column order; each message names the row and the column as the file spells
    it."""
    order = list(names)
    errors = []
    for field in sorted(problems, key=lambda f: order.index(f) if f in order else -1):
        column = names.get(field)
        for problem in problems[field]:
            if column:
                message = _("Row %(row)d, column %(column)s: %(problem)s") % {
                    "row": number,
                    "column": column,
                    "problem": problem,
                }
            else:
                message = _("Row %(row)d: %(problem)s") % {"row": number, "problem": problem}
            errors.append({"row": number, "field": field, "column": column, "message": message})
    return errors


def _problems(exc, default):
    """{field: [messages]} of a refusal."""
    fields = exc.fields or {default: [exc.detail]}
    return {field: [str(m) for m in messages] for field, messages in fields.items()}


def _add_problems(problems, exc):
    for field, messages in _problems(exc, "row").items():
        problems.setdefault(field, []).extend(messages)


def _check(job, rows, names):
    """Validate every row without writing; returns the errors [{row, field, column, message}],
    every bad field of every row."""
    user = job.created_by
    paths = [m.organization.path for m in memberships_of(user) if m.role == Role.FINANCE_OFFICER]
    in_reach = [
        o
        for o in Organization.objects.filter(kind=OrganizationKind.GRASSROOTS)
        if any(o.path.startswith(p) and o.path != p for p in paths)
    ]
    unions = {"id": {str(o.pk): o for o in in_reach}, "name": {}}
    for o in in_reach:
        unions["name"].setdefault(o.name, []).append(o)
    with_treasurer = set(
        Membership.objects.filter(
            role=Role.TREASURER, organization__in=in_reach, user__is_active=True
        ).values_list("organization_id", flat=True)
    )
    errors, seen = [], {}
    for done, (number, row) in enumerate(rows, start=1):
        problems = {}
        refused = functools.partial(_add_problems, problems)
        union = period = None
        try:
            union = _union(user, row["union"], unions)
            if union.pk not in with_treasurer:
                message = _("%(union)s has no treasurer to declare for.") % {"union": union.name}
                union = None
                raise Invalid(fields={"union": [message]})
        except DomainError as exc:
            refused(exc)
        try:
            period = services.parse_period(_period_text(row["period"]))
        except DomainError as exc:
            refused(exc)
        try:
            services.validate_figures(
                payroll_total=row["payroll_total"],
                headcount=row["headcount"],
                member_count=row["member_count"],
            )
        except DomainError as exc:
            refused(exc)
        if union is not None and period is not None:
            key = (union.pk, period)
            if key in seen:
                message = _("Same union and period as row %(row)d.") % {"row": seen[key]}
                problems.setdefault("period", []).append(message)
            else:
                seen[key] = number
                if services.Remittance.objects.filter(
                    organization=union, period=period, supplements__isnull=True, voided=False
                ).exists():
                    message = _(
                        "%(union)s has already declared %(period)s: a correction is filed as a "
                        "supplementary declaration on that declaration's page."
                    ) % {"union": union.name, "period": f"{period:%Y-%m}"}
                    problems.setdefault("period", []).append(message)
        if problems:
            errors.extend(_row_errors(number, problems, names))
        else:
            row["organization"], row["period"] = union.pk, f"{period:%Y-%m}"
        cache.set(_progress_key(job.pk), done, 3600)
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        errors = errors[:MAX_ERRORS]
        message = ngettext(
            "…and %(n)d more problem, not listed: correct these and upload the file again.",
            "…and %(n)d more problems, not listed: correct these and upload the file again.",
            more,
        ) % {"n": more}
        errors.append({"row": None, "field": "file", "column": None, "message": message})
    return errors


def _file_errors(exc):
    return [
        {"row": None, "field": field, "column": None, "message": message}
        for field, messages in _problems(exc, "file").items()
        for message in messages
    ]


@contextlib.contextmanager
def _in_reader_language(job):
    """The job's messages are read later by whoever uploaded it: in the language they uploaded
    it in (a page follows their saved choice, an API client its Accept-Language), else theirs
    (core.i18n); not the worker's."""
    with translation.override(job.language or reader_language(job.created_by)):
        yield


def _give_up(job):
    """A job that stopped its worker every time it was taken (core.jobs)."""
    job.status = ImportJob.Status.FAILED
    with _in_reader_language(job):
        message = _(
            "The import stopped before it finished, again and again; nothing was declared. Try "
            "again, or split the file."
        )
    job.errors = [{"row": None, "field": "file", "column": None, "message": message}]


def run(job_id):
    """The worker's part. Safe to run twice: only a waiting job is taken, or one whose worker
    died (core.jobs)."""
    with jobs.take(ImportJob, job_id, give_up=_give_up) as job:
        if job is None:
            return None
        with _in_reader_language(job):
            try:
                errors = _declare_all(job)
            except Exception:
                logger.exception("Import job %s failed", job.pk)
                message = _("The import failed; try again.")
                errors = [{"row": None, "field": "file", "column": None, "message": message}]
                job.created_cases = []
        job.errors = errors
        job.status = ImportJob.Status.FAILED if errors else ImportJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["errors", "status", "finished_at", "created_cases", "total_rows"])
    return job


def _declare_all(job):
    """Check every row, then declare them all in one transaction; the errors (none: done).
    A file that cannot be read, or with any bad row, declares nothing."""
    from workflows.base import flow_for

    try:
        rows, names = _rows(bytes(job.content))
    except DomainError as exc:
        return _file_errors(exc)
    job.total_rows = len(rows)
    job.save(update_fields=["total_rows"])
    errors = _check(job, rows, names)
    if errors:
        return errors
    # Other declarations get their numbers while the import's long transaction runs.
    prefix = flow_for("remittance").number_prefix
    with numbers_reserved(prefix, len(rows)), transaction.atomic():
        created = []
        for number, row in rows:
            try:
                case = services.declare(
                    user=job.created_by,
                    organization=row["organization"],
                    period=row["period"],
                    payroll_total=row["payroll_total"],
                    headcount=row["headcount"],
                    member_count=row["member_count"],
                    bulk=True,
                )
            except DomainError as exc:
                transaction.set_rollback(True)
                return _row_errors(number, _problems(exc, "row"), names)
            created.append(case.number)
        job.created_cases = created
    return []
