"""Bulk declarations from a spreadsheet, for a finance officer above the unions: every row
becomes a declaration, or — if any row is wrong — none does, and the report names each bad row.
Each declaration is the union's own (its treasurer is the declarant of record), submitted by
the importer: it goes through the union's chair and the parent's finance officer like any
other. Runs in a worker; progress is kept in the cache so the uploader can watch it."""

import csv
import functools
import io
import logging
import zipfile

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs, queue
from core.errors import DomainError, Forbidden, Invalid
from organizations.models import Membership, Organization, OrganizationKind, Role
from organizations.selectors import memberships_of

from . import services
from .models import ImportJob

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# Header names accepted for each column (English or Chinese).
COLUMNS = {
    "union": ("union", "organization", "工会", "基层工会", "单位"),
    "period": ("period", "期间", "月份", "所属期"),
    "payroll_total": ("payroll", "payroll_total", "工资总额"),
    "headcount": ("headcount", "职工人数", "职工数"),
    "member_count": ("members", "member_count", "会员人数", "会员数"),
}


def _progress_key(job_id):
    return f"remittance-import:{job_id}:processed"


def progress(job):
    if job.status in (ImportJob.Status.DONE,):
        return job.total_rows
    return cache.get(_progress_key(job.pk), 0)


def start(*, user, upload):
    """Check the file and queue the job (the worker parses and declares)."""
    if not any(m.role == Role.FINANCE_OFFICER for m in memberships_of(user)):
        raise Forbidden(_("Only a finance officer may import declarations."))
    if upload.size > MAX_BYTES:
        raise Invalid(fields={"file": [_("The file is larger than 5 MB.")]})
    content = upload.read()
    if not content.lstrip(b"\xef\xbb\xbf").strip():  # nothing, or a UTF-8 mark and blanks
        raise Invalid(fields={"file": [_("The file is empty.")]})
    if _kind(content) is None:
        raise Invalid(fields={"file": [_("Upload an .xlsx or a .csv (UTF-8) file.")]})
    with transaction.atomic():
        job = ImportJob.objects.create(created_by=user, filename=upload.name[:255], content=content)
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


def _rows(content):
    """[(row number, {column: raw value})] with the header mapped to our column names."""
    if _kind(content) == "xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    if not table:
        raise Invalid(fields={"file": [_("The file is empty.")]})
    header = [str(h or "").strip().lower() for h in table[0]]
    index = {}
    for column, names in COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if not found:
            raise Invalid(fields={"file": [_("Missing column: %(column)s.") % {"column": column}]})
        index[column] = found[0]
    rows = []
    for number, raw in enumerate(table[1:], start=2):
        if not any(str(v or "").strip() for v in raw):
            continue  # blank lines are not rows
        rows.append((number, {c: (raw[i] if i < len(raw) else None) for c, i in index.items()}))
    if len(rows) > MAX_ROWS:
        raise Invalid(fields={"file": [_("At most %(n)d rows per file.") % {"n": MAX_ROWS}]})
    return rows


def _period_text(value):
    if hasattr(value, "strftime"):  # a spreadsheet date cell
        return value.strftime("%Y-%m")
    return str(value or "").strip()


def _union(user, value, unions):
    key = str(value or "").strip()
    if key.endswith(".0"):
        key = key[:-2]  # numbers read back from a spreadsheet
    union = unions["id"].get(key)
    if union is None:
        named = unions["name"].get(key, [])
        if len(named) > 1:  # never guess which: the declaration would be charged to it
            ids = ", ".join(str(o.pk) for o in named)
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


def _check(job, rows):
    """Validate every row without writing; returns the errors [{row, field, message}]."""
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
        try:
            union = _union(user, row["union"], unions)
            if union.pk not in with_treasurer:
                message = _("%(union)s has no treasurer to declare for.") % {"union": union.name}
                raise Invalid(fields={"union": [message]})
            period = services.parse_period(_period_text(row["period"]))
            services.validate_figures(
                payroll_total=row["payroll_total"],
                headcount=row["headcount"],
                member_count=row["member_count"],
            )
            key = (union.pk, period)
            if key in seen:
                raise Invalid(
                    fields={
                        "period": [_("Same union and period as row %(row)d.") % {"row": seen[key]}]
                    }
                )
            seen[key] = number
            if services.Remittance.objects.filter(
                organization=union, period=period, supplements__isnull=True, voided=False
            ).exists():
                raise Invalid(fields={"period": [_("Already declared.")]})
            row["organization"], row["period"] = union.pk, f"{period:%Y-%m}"
        except DomainError as exc:
            for field, messages in (exc.fields or {"row": [str(exc.detail)]}).items():
                errors.extend({"row": number, "field": field, "message": str(m)} for m in messages)
        cache.set(_progress_key(job.pk), done, 3600)
    return errors


def _give_up(job):
    """A job that stopped its worker every time it was taken (core.jobs)."""
    job.status = ImportJob.Status.FAILED
    message = _(
        "The import stopped before it finished, again and again; nothing was declared. Try "
        "again, or split the file."
    )
    job.errors = [{"row": None, "field": "file", "message": message}]


def run(job_id):
    """The worker's part. Safe to run twice: only a waiting job is taken, or one whose worker
    died (core.jobs)."""
    with jobs.take(ImportJob, job_id, give_up=_give_up) as job:
        if job is None:
            return None
        try:
            errors = _declare_all(job)
        except Exception:
            logger.exception("Import job %s failed", job.pk)
            errors = [{"row": None, "field": "file", "message": _("The import failed; try again.")}]
            job.created_cases = []
        job.errors = errors
        job.status = ImportJob.Status.FAILED if errors else ImportJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["errors", "status", "finished_at", "created_cases", "total_rows"])
    return job


def _declare_all(job):
    """Check every row, then declare them all in one transaction; the errors (none: done)."""
    try:
        rows = _rows(bytes(job.content))
        job.total_rows = len(rows)
        job.save(update_fields=["total_rows"])
        errors = _check(job, rows)
        if errors:
            return errors
        with transaction.atomic():
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
                    return [
                        {"row": number, "field": f, "message": str(m)}
                        for f, ms in (exc.fields or {"row": [str(exc.detail)]}).items()
                        for m in ms
                    ]
                created.append(case.number)
            job.created_cases = created
        return []
    except DomainError as exc:
        return [
            {"row": None, "field": f, "message": str(m)}
            for f, ms in (exc.fields or {"file": [str(exc.detail)]}).items()
            for m in ms
        ]
