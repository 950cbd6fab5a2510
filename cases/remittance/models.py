from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Remittance(models.Model):
    """工会经费上解: one union's declaration for one month — the fund due on its payroll, the
    shares, the payment, and its verification by the parent organization. The rates used are
    kept with the figures, so the case shows how they were reached."""

    case = models.OneToOneField(
        "cases.Case",
        models.CASCADE,
        primary_key=True,
        related_name="remittance",
        verbose_name=_("case"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        models.PROTECT,
        related_name="remittances",
        verbose_name=_("organization"),
    )
    period = models.DateField(_("period"), help_text=_("First day of the declared month."))
    # 补缴: a retroactive payroll correction for a period already declared.
    supplements = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="supplementary",
        verbose_name=_("supplements"),
    )
    payroll_total = models.DecimalField(_("payroll total"), max_digits=14, decimal_places=2)
    headcount = models.PositiveIntegerField(_("headcount"))
    member_count = models.PositiveIntegerField(_("member count"))
    fund_rate = models.DecimalField(_("fund rate"), max_digits=8, decimal_places=6)
    upper_share_rate = models.DecimalField(_("upper share rate"), max_digits=8, decimal_places=6)
    fund_due = models.DecimalField(_("fund due"), max_digits=14, decimal_places=2)
    upper_share = models.DecimalField(_("upper share"), max_digits=14, decimal_places=2)
    retained_share = models.DecimalField(_("retained share"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("due date"))
    paid_amount = models.DecimalField(
        _("paid amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    days_late = models.PositiveIntegerField(_("days late"), null=True, blank=True)
    late_fee = models.DecimalField(
        _("late fee"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    # A rejected or withdrawn declaration no longer holds its period.
    voided = models.BooleanField(_("voided"), default=False)

    class Meta:
        verbose_name = _("fee remittance")
        verbose_name_plural = _("fee remittances")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period"],
                condition=Q(supplements__isnull=True, voided=False),
                name="one_regular_declaration_per_period",
            )
        ]
        indexes = [models.Index(fields=["period", "organization"])]

    def __str__(self):
        return f"{self.organization} {self.period:%Y-%m}"


class ImportJob(models.Model):
    """A bulk declaration import (.xlsx or .csv) run by a worker: all rows or none."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("import job", "Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    filename = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField()
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("total rows"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_cases = models.JSONField(_("created cases"), default=list, blank=True)
    # The language the upload was made in: the worker writes the job's messages in it.
    language = models.CharField(_("language"), max_length=10, blank=True)
    # Times a worker took the job (core.jobs: one that died is taken over, up to a limit).
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("declaration import")
        verbose_name_plural = _("declaration imports")

    def __str__(self):
        return f"{self.filename} ({self.status})"
