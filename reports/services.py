"""Writes and file builds of the reports: the export files (built at once for small ones, by a
worker for long ones, with progress on the job row) and the full verification of every
case's trail, whose result is kept for the auditors' dashboard.

Direct or background: a summary, a trail and a yearly report have a bounded size and are
built while the caller waits; a case list is built while the caller waits up to
`SYNC_MAX_ROWS` cases (2,000 by default — a couple of seconds as .xlsx) and otherwise only as
an export job (POST /api/v1/reports/exports/, or the export button, which starts one).
The threshold is configuration: `EXPORT_SYNC_MAX_ROWS` (README, Configuration)."""

import functools
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import trail
from cases.models import Case
from cases.selectors import case_in_reach, cases_in_reach, trail_of, trail_shown_to
from core import jobs, queue
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from organizations.models import Organization
from organizations.selectors import officer_paths, organization_in_reach

from . import params as report_params
from . import selectors
from .exports import csvfile, pdf, tables, xlsx
from .models import EXPORTS_DIR, ExportJob, TrailVerification

logger = logging.getLogger(__name__)

SYNC_MAX_ROWS = settings.REPORTS_EXPORT_SYNC_MAX_ROWS

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}
FORMATS = {
    ExportJob.Kind.SUMMARY: ("xlsx", "csv"),
    ExportJob.Kind.CASES: ("xlsx", "csv"),
    ExportJob.Kind.TRAIL: ("pdf", "csv"),
    ExportJob.Kind.YEARLY: ("pdf",),
}
# The request parameters each kind of export reads (the rest is ignored).
CASE_FILTERS = ("process", "status", "organization", "q", "overdue")
FIGURE_PARAMS = (
    "figure",
    "from",
    "to",
    "outcome",
    "aid_type",
    "category",
    "mediation_category",
    "step",
)
PARAMS = {
    ExportJob.Kind.SUMMARY: ("from", "to", "organization"),
    ExportJob.Kind.CASES: CASE_FILTERS + FIGURE_PARAMS,
    ExportJob.Kind.TRAIL: ("case",),
    ExportJob.Kind.YEARLY: ("year", "organization"),
}


@dataclass
class ExportFile:
    content: bytes
    filename: str
    content_type: str


def _file(content, filename, fmt):
    return ExportFile(content, filename, CONTENT_TYPES[fmt])


def _check_format(kind, fmt):
    if fmt not in FORMATS[kind]:
        raise Invalid(
            _("This export is not available in that format."),
            fields={
                "format": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(FORMATS[kind])}]
            },
        )


# --- what each export contains ---------------------------------------------------------------


def summary_file(user, params, fmt):
    _check_format(ExportJob.Kind.SUMMARY, fmt)
    organization, period = report_params.parse(user, params)
    data = selectors.summary(organization, period)
    build = xlsx.summary_workbook if fmt == "xlsx" else csvfile.summary_csv
    name = f"工作统计-{organization.name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"
    return _file(build(data), name, fmt)


def case_list(user, params):
    """Cases in the caller's reach, with the filters of GET /api/v1/cases/ (process, status,
    organization, q, overdue) and, with `figure`, only the cases behind that figure of a report
    (`from`, `to`, `organization` and the figure's options)."""
    from cases.api import CaseFilter

    report_params.require_reporter(user)
    report_params.parse_period(params)  # a bad `from` / `to` is a 400 even without a figure
    if params.get("process") and params["process"] not in selectors.PROCESSES:
        raise Invalid(
            _("Invalid filter."),
            fields={
                "process": [
                    _("Choose one of: %(choices)s.") % {"choices": ", ".join(selectors.PROCESSES)}
                ]
            },
        )
    filters = CaseFilter(
        {k: params.get(k) for k in CASE_FILTERS if params.get(k) not in (None, "")},
        queryset=cases_in_reach(user),
    )
    if not filters.is_valid():
        raise Invalid(
            _("Invalid filter."),
            fields={k: [str(m) for m in v] for k, v in filters.errors.items()},
        )
    cases = filters.qs
    if params.get("figure"):
        organization, period = report_params.parse(user, params)
        figure, options = selectors.parse_figure(params)
        cases = cases.filter(selectors.scope_q(organization)).filter(
            selectors.figure_q(figure, period, options, organization=organization)
        )
    return cases.order_by("-created_at", "-pk")


def cases_file(user, params, fmt, *, progress=None, direct=True):
    """The case list as a file; built `direct`ly (while the caller waits), more than
    SYNC_MAX_ROWS cases is a 409: start a job."""
    _check_format(ExportJob.Kind.CASES, fmt)
    cases = case_list(user, params)
    if not direct:
        rows = cases.select_related(*tables.CASE_SELECT_RELATED).iterator(chunk_size=500)
        return _cases_file(rows, cases.count(), fmt, progress=progress)
    result = short_cases_file(cases, fmt)
    if result is None:
        raise Conflict(
            _(
                "%(count)s cases are too many to export at once (at most %(limit)s): start an "
                "export job instead."
            )
            % {"count": cases.count(), "limit": SYNC_MAX_ROWS},
            code="export_too_large",
        )
    return result


def short_cases_file(cases, fmt):
    """The file of a list of `cases` (from case_list) of at most SYNC_MAX_ROWS cases, or None
    when it is longer (an export job's work). One query decides and fetches: SYNC_MAX_ROWS + 1
    rows at most, rather than a COUNT and then the same rows again."""
    _check_format(ExportJob.Kind.CASES, fmt)
    limit = SYNC_MAX_ROWS
    fetched = list(cases.select_related(*tables.CASE_SELECT_RELATED)[: limit + 1])
    if len(fetched) > limit:
        return None
    return _cases_file(fetched, len(fetched), fmt)


def _cases_file(cases, count, fmt, *, progress=None):
    rows = (tables.case_row(case) for case in cases)
    if fmt == "xlsx":
        content = xlsx.table_workbook(
            "案件清单",
            tables.CASE_COLUMNS,
            rows,
            heading=xlsx.today_heading("案件数", count),
            progress=progress,
        )
    else:
        content = csvfile.table_csv(tables.CASE_COLUMNS, rows, progress=progress)
    return _file(content, f"案件清单-{timezone.localdate():%Y%m%d}.{fmt}", fmt)


def _case_for_trail(user, case_id):
    report_params.require_reporter(user)
    case = case_in_reach(user, case_id) if str(case_id).isdigit() else None
    if case is None:
        raise NotFound(_("Case not found."))
    return case


def trail_file(user, case_id, fmt):
    """The case's trail with every event's hash, and the chain's verification."""
    _check_format(ExportJob.Kind.TRAIL, fmt)
    case = _case_for_trail(user, case_id)
    events = list(trail_of(case))
    verification = trail.verify_events(events, trail.checkpoint_of(case.pk))
    shown = trail_shown_to(user, case, events)  # as the case page shows them to this reader
    if fmt == "pdf":
        content = pdf.trail_pdf(case, shown, verification)
    else:
        content = csvfile.table_csv(
            tables.TRAIL_COLUMNS, (tables.trail_row(e, case.process) for e in shown)
        )
    return _file(content, f"{case.number}-审计轨迹.{fmt}", fmt)


def yearly_file(user, params, fmt="pdf"):
    _check_format(ExportJob.Kind.YEARLY, fmt)
    report_params.require_reporter(user)
    organization = report_params.parse_organization(user, params)
    year = report_params.parse_year(params)
    period = report_params.Period(date(year, 1, 1), date(year, 12, 31))
    content = pdf.yearly_pdf(selectors.summary(organization, period), year)
    return _file(content, f"{organization.name}-{year}年度工作统计报告.pdf", fmt)


def build(user, kind, fmt, params, *, progress=None, direct=True):
    if kind == ExportJob.Kind.SUMMARY:
        return summary_file(user, params, fmt)
    if kind == ExportJob.Kind.CASES:
        return cases_file(user, params, fmt, progress=progress, direct=direct)
    if kind == ExportJob.Kind.TRAIL:
        return trail_file(user, params.get("case"), fmt)
    return yearly_file(user, params, fmt)


# --- export jobs --------------------------------------------------------------------------------


def enqueue(job_id):
    from .tasks import run_export

    # Not sent, the job waits, and beat queues it again (core.jobs).
    queue.publish(lambda: run_export.delay(job_id), f"export job {job_id}")


def start_export(*, user, kind, fmt, params):
    """Check the request now (so a bad one is a 400/403/404 at once, not a failed job) and
    queue the job; returns it (pending)."""
    if kind not in ExportJob.Kind.values:
        raise Invalid(_("Unknown export."), fields={"kind": [_("Not a valid choice.")]})
    _check_format(kind, fmt)
    report_params.require_reporter(user)
    wanted = {k: str(params[k]) for k in PARAMS[kind] if params.get(k) not in (None, "")}
    total = 1
    if kind == ExportJob.Kind.SUMMARY:
        # The organization it is for is kept: the file covers that one, whatever the top of
        # the creator's reach is when the worker builds it or when it is downloaded.
        wanted["organization"] = str(report_params.parse(user, wanted)[0].pk)
    elif kind == ExportJob.Kind.CASES:
        total = case_list(user, wanted).count()
    elif kind == ExportJob.Kind.TRAIL:
        if "case" not in wanted:
            raise Invalid(_("Which case?"), fields={"case": [_("This field is required.")]})
        _case_for_trail(user, wanted["case"])
    else:
        wanted["organization"] = str(report_params.parse_organization(user, wanted).pk)
        report_params.parse_year(wanted)
    with transaction.atomic():
        job = ExportJob.objects.create(
            created_by=user, kind=kind, format=fmt, params=wanted, total=total
        )
        transaction.on_commit(functools.partial(enqueue, job.pk), robust=True)
    return job


# The code of a refused export whose reach is no longer its creator's (job_of).
REACH_CHANGED = "export_reach_changed"


def reach_of(user, kind, params):
    """What a file of `kind` built now for `user` covers, as tree paths (`ExportJob.reach`): a
    summary's or yearly report's organization; for a case list, every subtree the user acts
    over as an officer (all the roots for a superuser). None for a trail, which is held to its
    case. Read from the same memberships the build then reads (cached on `user`)."""
    if kind == ExportJob.Kind.TRAIL:
        return None
    if kind == ExportJob.Kind.CASES:
        if user.is_superuser:
            return sorted(Organization.objects.get_root_nodes().values_list("path", flat=True))
        return officer_paths(user)
    return [report_params.parse_organization(user, params).path]


def _reach_covers(user, paths):
    if user.is_superuser:
        return True
    mine = officer_paths(user)
    return all(any(path.startswith(own) for own in mine) for path in paths)


def job_of(user, job_id):
    """The caller's own job (404 for anyone else's), while they may still read what it holds:
    a reporter (403 once they are not); a trail's case still in their reach (404 once it is
    not); any other file only while their reach still covers the reach it was built for
    (`ExportJob.reach`, recorded by the worker): 403 once they were moved elsewhere or lost part
    of it — whether before the download or while the worker was writing the file — and for a
    file built before its reach was recorded. An organization named in the request must still
    be in their reach too (404)."""
    job = ExportJob.objects.filter(pk=job_id, created_by=user).first()
    if job is None:
        raise NotFound(_("Export not found."))
    report_params.require_reporter(user)
    params = job.params or {}
    if job.kind == ExportJob.Kind.TRAIL:
        _case_for_trail(user, params.get("case"))
        return job
    if (refusal := _reach_refusal(user, job)) is not None:
        raise refusal
    if params.get("organization"):
        report_params.parse_organization(user, params)
    return job


def _reach_refusal(user, job):
    """Why a file of another kind than a trail may no longer be handed to its creator."""
    if job.reach is None:
        if job.status == ExportJob.Status.DONE:
            return Forbidden(
                _("This export was made before an update: start it again."),
                code=REACH_CHANGED,
            )
        return None
    if not _reach_covers(user, job.reach):
        return Forbidden(
            _("Your access has changed since this export was made: start it again."),
            code=REACH_CHANGED,
        )
    return None


def withheld(user, jobs):
    """{job id: (code, message)} for those of the caller's listed jobs that `job_of` would now
    refuse, so that a list offers no download it would refuse: a trail whose case left their
    reach, any other file whose reach is no longer theirs or whose organization left their
    reach. Two queries for the page, whatever its length."""
    trails = {job.pk: _case_id(job) for job in jobs if _is_trail(job)}
    cases = {case for case in trails.values() if case is not None}
    reachable = set(cases_in_reach(user).filter(pk__in=cases).values_list("pk", flat=True))
    named = {_organization_id(job) for job in jobs if job.pk not in trails} - {None}
    organizations = Organization.objects.in_bulk(named)
    refused = {}
    for job in jobs:
        if job.pk in trails:
            error = None if trails[job.pk] in reachable else NotFound(_("Case not found."))
        else:
            error = _reach_refusal(user, job)
            named = _organization_id(job)
            organization = organizations.get(named)
            if error is None and named is not None and not _reachable(user, organization):
                error = NotFound(_("No such organization in your reach."))
        if error is not None:
            refused[job.pk] = (error.code, str(error.detail))
    return refused


def _reachable(user, organization):
    return organization is not None and organization_in_reach(user, organization)


def _is_trail(job):
    return job.kind == ExportJob.Kind.TRAIL


def _case_id(job):
    raw = str((job.params or {}).get("case") or "").strip()
    return int(raw) if raw.isdigit() else None


def _organization_id(job):
    raw = str((job.params or {}).get("organization") or "").strip()
    return int(raw) if raw.isdigit() else None


def download(user, job_id):
    job = job_of(user, job_id)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Conflict(_("The export is not ready."), code="export_not_ready")
    return job


def _give_up(job):
    """A job that stopped its worker every time it was taken (core.jobs)."""
    job.status = ExportJob.Status.FAILED
    job.error = _(
        "The export stopped before it finished, again and again. Try again, or narrow it down."
    )


def run_export(job_id):
    """Build a job's file as its creator (with their reach now). Taken under a lock and marked
    running first, so a job queued twice runs once; one whose worker died is taken over
    (core.jobs)."""
    with jobs.take(ExportJob, job_id, give_up=_give_up) as job:
        if job is None:
            return None
        _build_job(job)
    return job


def _build_job(job):
    def progress(done):
        ExportJob.objects.filter(pk=job.pk).update(processed=done)

    user = job.created_by
    try:
        # The reach is read once, and the build reads the same (the memberships cached on
        # `user`): what is recorded is what the file holds, even when the creator is moved
        # while the rows are written (the download then refuses it, job_of).
        job.reach = reach_of(user, job.kind, job.params)
        result = build(user, job.kind, job.format, job.params, progress=progress, direct=False)
    except DomainError as exc:
        job.status, job.error = ExportJob.Status.FAILED, str(exc.detail)
    except Exception:
        logger.exception("Export job %s failed", job.pk)
        job.status, job.error = ExportJob.Status.FAILED, _("The export failed; try again.")
    else:
        job.file.save(result.filename, ContentFile(result.content), save=False)
        job.filename = result.filename
        job.content_type = result.content_type
        job.status = ExportJob.Status.DONE
        job.processed = max(job.processed, job.total)
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "reach",
            "status",
            "error",
            "file",
            "filename",
            "content_type",
            "processed",
            "finished_at",
        ]
    )


# --- retention of export files ---------------------------------------------------------------

PURGE_BATCH_SIZE = 500


def _expired_exports(now):
    """Jobs past `EXPORT_RETENTION_DAYS`: finished (done or failed) before the cut-off, or
    still waiting or running although started before it (stuck: their worker never came)."""
    cutoff = now - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    finished = (ExportJob.Status.DONE, ExportJob.Status.FAILED)
    unfinished = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)
    return ExportJob.objects.filter(
        Q(status__in=finished, finished_at__lt=cutoff)
        | Q(status__in=finished, finished_at__isnull=True, created_at__lt=cutoff)
        | Q(status__in=unfinished, created_at__lt=cutoff)
    )


def _delete_export_files(storage, names):
    for name in names:
        try:
            storage.delete(name)  # a file already gone is no error (FileSystemStorage)
        except OSError:
            logger.warning(
                "Could not delete the file %s of a purged export job; remove it by hand",
                name,
                exc_info=True,
            )


def purge_expired_exports(now=None):
    """Delete the export jobs past their retention (see `_expired_exports`) and their files;
    returns how many jobs were deleted. Daily by beat (`reports.tasks.purge_expired_exports`).

    Works through the expired jobs by primary key, `PURGE_BATCH_SIZE` at a time, each batch in
    its own transaction: the rows are locked and read (pk and file name only), deleted in one
    statement, and their files deleted once that transaction has committed. A row locked
    elsewhere (a worker taking the job) is left for the next sweep."""
    now = now or timezone.now()
    storage = ExportJob._meta.get_field("file").storage
    purged = 0
    after = 0
    while True:
        with transaction.atomic():
            batch = list(
                _expired_exports(now)
                .filter(pk__gt=after)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", "file")[:PURGE_BATCH_SIZE]
            )
            if batch:
                after = batch[-1][0]
                _total, deleted = ExportJob.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
                purged += deleted.get(ExportJob._meta.label, 0)
                # The files go only after the rows are committed: a rolled-back delete never
                # leaves a job whose download fails on a missing file. The other way round a
                # file may outlive its row when deleting it fails; that is logged with its name
                # and tried again by the next sweeps (`_delete_orphan_export_files`).
                names = [name for _pk, name in batch if name]
                if names:
                    transaction.on_commit(functools.partial(_delete_export_files, storage, names))
        if len(batch) < PURGE_BATCH_SIZE:  # a short batch is the last one
            break
    if purged:
        logger.info(
            "Purged %s export jobs older than %s days", purged, settings.EXPORT_RETENTION_DAYS
        )
    _delete_orphan_export_files(storage, now - timedelta(days=settings.EXPORT_RETENTION_DAYS))
    return purged


def _delete_orphan_export_files(storage, cutoff):
    """Files of the exports directory that no job names and that are older than the retention:
    a file whose delete failed on an earlier day, or one a worker wrote for a job purged while
    it ran. Each sweep tries them again. A file younger than the retention is never touched, so
    a file written just before its job's row is not mistaken for an orphan."""
    old = [
        name
        for name in _files_under(storage, EXPORTS_DIR)
        if storage.get_modified_time(name) < cutoff
    ]
    for start in range(0, len(old), PURGE_BATCH_SIZE):
        names = old[start : start + PURGE_BATCH_SIZE]
        named = set(ExportJob.objects.filter(file__in=names).values_list("file", flat=True))
        orphans = [name for name in names if name not in named]
        if orphans:
            logger.info("Deleting %s export files no job names", len(orphans))
            _delete_export_files(storage, orphans)


def _files_under(storage, directory):
    if not storage.exists(directory):
        return
    directories, files = storage.listdir(directory)
    for name in files:
        yield f"{directory}/{name}"
    for sub in directories:
        yield from _files_under(storage, f"{directory}/{sub}")


# --- verification of every trail -----------------------------------------------------------------


# Cases walked per read of their checkpoints (held in memory meanwhile).
VERIFY_WINDOW = 20_000


def _walk_window(bounds):
    """The checkpoints and the verified chains of the cases with an id in [first, stop): the
    checkpoints read first, as a checkpoint only moves forward — a chain that grows meanwhile
    is then read at least as long as the checkpoint it is held to."""
    first, stop = bounds
    return trail.checkpoints_in(first, stop), list(trail.verify_range(first, stop))


def _walked(windows, workers):
    """`_walk_window` of each window, in order. With `workers` > 1, forked processes walk
    windows ahead of the one being judged: the walk is Python's work per event (hashes,
    seals), and each process takes a core. Only outside a transaction (the processes would not
    see what it holds) and on PostgreSQL (the fast walk); else one window after another."""
    if (
        workers <= 1
        or len(windows) <= 1
        or not trail.fast_walk_available()
        or connection.in_atomic_block
    ):
        yield from map(_walk_window, windows)
        return
    connections.close_all()  # each forked process opens its own
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(windows)), mp_context=context) as pool:
        yield from pool.map(_walk_window, windows)


def verify_all_trails(
    *, source=TrailVerification.Source.BEAT, progress=None, record=True, workers=1
):
    """Walk every trail event once, in case and sequence order (a few queries per
    VERIFY_WINDOW cases), verify each case's chain and hold it to its checkpoint, and keep the
    result; when recording, seal the length of every chain found whole as its checkpoint
    (cases.trail). `progress(done, total)` is told after each case. A case without events
    verifies, unless its checkpoint says it had some. The cases are also held to the last
    tally: fewer chains or events up to its last case than it counted means some went whole
    (`missing`); a run that misses nothing raises the tally. `workers`: processes walking the
    windows (`_walked`; the command uses one per core, the beat's worker one)."""
    started = timezone.now()
    clock = time.monotonic()
    bounds = Case.objects.aggregate(total=Count("pk"), first=Min("pk"), last=Max("pk"))
    total = bounds["total"]
    checked = events = chains = 0
    broken = []
    tally = trail.latest_tally()
    tallied = {"chains": 0, "events": 0}  # what the cases up to the tally's last case hold now
    checkpointed = False

    def judged(case_id, result):
        nonlocal checked, events, chains
        checked += 1
        events += result.events
        chains += result.events > 0
        if tally is not None and case_id <= tally.last_case:
            tallied["chains"] += result.events > 0
            tallied["events"] += result.events
        if not result.valid:
            broken.append({"case": case_id, "broken_at": result.broken_at})
        if progress is not None:
            progress(min(checked, total), total)

    if total:
        windows = [
            (first, min(first + VERIFY_WINDOW, bounds["last"] + 1))
            for first in range(bounds["first"], bounds["last"] + 1, VERIFY_WINDOW)
        ]
        for checkpoints, results in _walked(windows, workers):
            checkpointed = checkpointed or bool(checkpoints)
            whole = {}
            for case_id, result in results:
                checkpoint = checkpoints.pop(case_id, None)
                result = trail.held_to(result, checkpoint)
                judged(case_id, result)
                if result.valid and result.events > (checkpoint.seq if checkpoint else 0):
                    whole[case_id] = result.events
            for case_id, checkpoint in checkpoints.items():  # every event of the case gone
                judged(case_id, trail.held_to(trail.Verification(True, 0, None), checkpoint))
            if record:
                trail.record_checkpoints(whole)
    missing = _missing_since(tally, tallied, checkpointed)
    if record and not missing and chains:
        trail.record_tally(bounds["last"], chains, events)
    numbers = dict(
        Case.objects.filter(pk__in=[b["case"] for b in broken]).values_list("pk", "number")
    )
    for entry in broken:
        entry["number"] = numbers.get(entry["case"], "")
    if progress is not None:
        progress(total, total)
    verification = TrailVerification(
        started_at=started,
        finished_at=timezone.now(),
        duration=timedelta(seconds=time.monotonic() - clock),
        cases=max(total, checked),
        events=events,
        broken=broken,
        missing=missing,
        source=source,
    )
    if record:
        verification.save()
    return verification


def _missing_since(tally, tallied, checkpointed):
    if tally is None:
        # Every recorded run seals checkpoints and a tally together: checkpoints without any
        # tally mean the tallies were removed.
        return {"tally": "gone"} if checkpointed else {}
    since = tally.sealed_at.isoformat()
    if not trail.tally_holds(tally):
        return {"tally": "unsealed", "since": since}
    if tallied["chains"] < tally.chains or tallied["events"] < tally.events:
        return {
            "chains": max(0, tally.chains - tallied["chains"]),
            "events": max(0, tally.events - tallied["events"]),
            "since": since,
        }
    return {}
