"""What the reports app keeps: export jobs (files built by a worker, downloaded by whoever
started them) and the result of each full verification of the audit trails."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EXPORTS_DIR = "exports"  # of the media storage; nothing else is kept there


def export_file_name(instance, filename):
    """A random stored name (the download name is kept apart), grouped by month."""
    now = timezone.now()
    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"{EXPORTS_DIR}/{now:%Y/%m}/{uuid.uuid4().hex}.{extension}"


class ExportJob(models.Model):
    """A file built in the background: a case list of any size, or any other export a client
    chose to run as a job. Progress is written on the row while the worker runs."""

    class Kind(models.TextChoices):
        SUMMARY = "summary", _("Summary of figures")
        CASES = "cases", _("Case list")
        TRAIL = "trail", _("Trail of a case")
        YEARLY = "yearly", _("Yearly report")

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel (.xlsx)"
        CSV = "csv", "CSV"
        PDF = "pdf", "PDF"

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="+",
        verbose_name=_("created by"),
        db_index=False,  # export_owner leads with it
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    format = models.CharField(_("format"), max_length=5, choices=Format.choices)
    # The validated request (period, organization, filters), replayed by the worker with the
    # creator's reach at the time it runs. A summary or yearly report started without an
    # organization holds the one it was started for (the top of the creator's reach then).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The reach the file was built for: the tree paths of the organizations whose subtrees it
    # covers, as the worker read them from the creator's reach (a summary or yearly report: its
    # organization; a case list: every subtree the creator acted over as an officer). It is
    # handed over only while the creator's reach still covers each of them (services.job_of).
    # None until a worker builds the file, and for files built before it was recorded.
    reach = models.JSONField(_("reach"), null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total = models.PositiveIntegerField(_("rows in all"), default=0)
    processed = models.PositiveIntegerField(_("rows done"), default=0)
    file = models.FileField(_("file"), upload_to=export_file_name, blank=True, max_length=200)
    filename = models.CharField(_("download name"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Times a worker took the job (core.jobs: one that died is taken over, up to a limit).
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["created_by", "created_at"], name="export_owner")]

    def __str__(self):
        return f"{self.get_kind_display()} .{self.format} ({self.status})"

    @property
    def percent(self):
        """0–100: rows done of all rows (a job with no rows to count jumps at the end)."""
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.processed * 100 // self.total)

    @property
    def is_finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)


class TrailVerification(models.Model):
    """One verification of every case's hash chain (nightly by beat, or `verify_trail --all`)."""

    class Source(models.TextChoices):
        BEAT = "beat", _("Nightly run")
        COMMAND = "command", _("Command line")

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    duration = models.DurationField(_("duration"))
    cases = models.PositiveIntegerField(_("cases checked"))
    events = models.PositiveIntegerField(_("events checked"))
    # [{"case": id, "number": "KN-…", "broken_at": seq}, …]
    broken = models.JSONField(_("broken chains"), default=list, blank=True)
    # What the last tally (cases.trail) held that is gone — {"chains", "events", "since"} — or
    # {"tally": "unsealed" | "gone", "since"}; {} when nothing is missing.
    missing = models.JSONField(_("missing chains"), default=dict, blank=True)
    source = models.CharField(_("run by"), max_length=10, choices=Source.choices)

    class Meta:
        verbose_name = _("trail verification")
        verbose_name_plural = _("trail verifications")
        ordering = ["-finished_at", "-pk"]
        get_latest_by = "finished_at"

    def __str__(self):
        return f"{self.finished_at:%Y-%m-%d %H:%M} · {self.cases} cases · {len(self.broken)} broken"

    @property
    def valid(self):
        return not self.broken and not self.missing
