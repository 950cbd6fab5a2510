from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    CLOSED = "closed", _("Closed")


FINAL_STATUSES = frozenset(CaseStatus) - {CaseStatus.IN_PROGRESS}


class Case(models.Model):
    """What the three processes share: a numbered case of one organization, started by an
    applicant and carried by a viewflow process. Process-specific records link one-to-one."""

    number = models.CharField(_("number"), max_length=32)
    process = models.CharField(_("process"), max_length=20)
    status = models.CharField(
        _("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.IN_PROGRESS
    )
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    organization = models.ForeignKey(
        "organizations.Organization",
        models.PROTECT,
        related_name="cases",
        verbose_name=_("organization"),
        db_index=False,  # the (organization, status) index leads with it
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="cases", verbose_name=_("applicant")
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
        help_text=_("Differs from the applicant when a chair submits on a member's behalf."),
    )
    flow_process = models.OneToOneField(
        "viewflow.Process",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="case",
        verbose_name=_("flow process"),
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "The figure approval thresholds compare against (requested aid, claim, upper share)."
        ),
    )
    # Indexed with the id (cases_case_newest, migration 0005), the list's order.
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at", "-id"]
        # Plain B-trees and a unique constraint: Django's `db_index`/`unique` on a text column
        # would add a pattern-ops index too, which only prefix matches use.
        indexes = [
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["process"], name="case_process"),
        ]
        constraints = [models.UniqueConstraint(fields=["number"], name="uniq_case_number")]

    def __str__(self):
        return self.number

    @property
    def is_open(self):
        return self.status == CaseStatus.IN_PROGRESS


class CaseNumberCounter(models.Model):
    """Last number issued per prefix and year: `KN-2026-000123`."""

    prefix = models.CharField(max_length=8)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="uniq_case_counter")]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.last}"


class TrailEvent(models.Model):
    """One state change of a case, append-only and hash-chained:
    hash = sha256(prev_hash + canonical JSON of the event), and sealed: seal = HMAC-SHA256 of
    the hash under a key kept outside the database (cases.trail.seal). The database refuses
    UPDATE and DELETE on this table (triggers created by migration 0003)."""

    case = models.ForeignKey(
        Case, models.PROTECT, related_name="trail", db_index=False, verbose_name=_("case")
    )
    seq = models.PositiveIntegerField(_("sequence number"))
    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(_("actor's role"), max_length=20, blank=True)
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("on behalf of"),
    )
    action = models.CharField(_("action"), max_length=60)
    task_id = models.BigIntegerField(_("task ID"), null=True, blank=True)
    step = models.CharField(_("step"), max_length=60, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    source_ip = models.GenericIPAddressField(_("source IP address"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)
    # The database's default lets a writer without the key (an application server still
    # running older code, a bulk load) insert an event; unsealed, verification reports it.
    seal = models.CharField(_("seal"), max_length=64, db_default="")

    class Meta:
        verbose_name = _("trail event")
        verbose_name_plural = _("trail events")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="uniq_trail_seq")]

    def __str__(self):
        return f"{self.case_id}#{self.seq} {self.action}"


class TrailCheckpoint(models.Model):
    """How many events a case's chain held when the nightly verification last found it whole,
    sealed like the events (cases.trail.checkpoint_seal). Events removed from the end of a
    chain leave no broken link and no broken seal; a chain found shorter than its checkpoint
    shows it."""

    case = models.OneToOneField(Case, models.CASCADE, primary_key=True, related_name="+")
    seq = models.PositiveIntegerField()
    seal = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("trail checkpoint")
        verbose_name_plural = _("trail checkpoints")

    def __str__(self):
        return f"{self.case_id}#{self.seq}"


class TrailTally(models.Model):
    """How many chains, and events in them, the cases up to `last_case` held when the nightly
    verification last found every trail whole, sealed like the events. A case removed whole —
    its row, its events (the trigger disabled) and its checkpoint — leaves nothing of its own to
    miss; the tally misses it. Rows are kept: one per run that raised it."""

    last_case = models.PositiveBigIntegerField()
    chains = models.PositiveBigIntegerField()
    events = models.PositiveBigIntegerField()
    sealed_at = models.DateTimeField(default=timezone.now)
    seal = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("trail tally")
        verbose_name_plural = _("trail tallies")
        get_latest_by = "pk"

    def __str__(self):
        return f"≤{self.last_case}: {self.chains} chains, {self.events} events"


class TrailHead(models.Model):
    """The last event of a case's chain (seq 0 and the genesis hash before the first), moved
    by a database trigger with every event inserted (migration 0006). Appends lock this row:
    one statement both waits for a concurrent append and reads the head it left. A derived
    row, not evidence: verification walks the events themselves."""

    case = models.OneToOneField(Case, models.CASCADE, primary_key=True, related_name="+")
    seq = models.PositiveIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("trail head")
        verbose_name_plural = _("trail heads")

    def __str__(self):
        return f"{self.case_id}#{self.seq}"


class CaseCC(models.Model):
    """抄送: a user given read access to a case and told about it."""

    # Indexed by uniq_case_cc, which leads with it.
    case = models.ForeignKey(Case, models.CASCADE, related_name="ccs", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="cc_cases")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="uniq_case_cc")]

    def __str__(self):
        return f"{self.case} cc {self.user}"
