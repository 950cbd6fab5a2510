from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.sensitive import EncryptedTextField


class Channel(models.TextChoices):
    WRITTEN = "written", _("Written")
    ORAL = "oral", _("Oral (recorded by a mediator)")


class Category(models.TextChoices):
    """劳动争议调解仲裁法 Art. 2."""

    LABOR_RELATIONSHIP = "labor_relationship", _("Labor relationship")
    CONTRACT = "contract", _("Labor contract (signing, change, termination)")
    DISMISSAL = "dismissal", _("Dismissal, resignation")
    HOURS_LEAVE = "hours_leave", _("Working hours, rest and leave")
    SOCIAL_INSURANCE = "social_insurance", _("Social insurance and welfare")
    PAY = "pay", _("Pay")
    INJURY_MEDICAL = "injury_medical", _("Work-injury medical costs")
    COMPENSATION = "compensation", _("Economic compensation or damages")


# Art. 16: for these, a worker whose employer does not perform the agreement may also apply
# to a court for a payment order (支付令).
PAYMENT_ORDER_CATEGORIES = frozenset({Category.PAY, Category.INJURY_MEDICAL, Category.COMPENSATION})


class DeclineReason(models.TextChoices):
    NOT_LABOR_DISPUTE = "not_labor_dispute", _("Not a labor dispute")
    IN_ARBITRATION_OR_COURT = "in_arbitration_or_court", _("Already before arbitration or a court")
    RESPONDENT_REFUSED = "respondent_refused", _("The respondent refuses mediation")
    # No longer offered: DOMAIN.md B.2 lists the reasons above only. Kept so that earlier
    # records stay readable.
    OTHER = "other", _("Other")


# What the head may decline an application for (rules.check_acceptance, the step's choices).
OFFERED_DECLINE_REASONS = (
    DeclineReason.NOT_LABOR_DISPUTE,
    DeclineReason.IN_ARBITRATION_OR_COURT,
    DeclineReason.RESPONDENT_REFUSED,
)


class Outcome(models.TextChoices):
    AGREEMENT = "agreement", _("Agreement")
    NO_AGREEMENT = "no_agreement", _("No agreement")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Past the statutory term")


class Party(models.TextChoices):
    """Who signs the agreement (Art. 14): both parties, the mediator, and the organization's
    seal."""

    WORKER = "worker", _("Worker")
    EMPLOYER = "employer", _("Employer")
    MEDIATOR = "mediator", _("Mediator")
    SEAL = "seal", _("Seal of the mediation organization")


class Performance(models.TextChoices):
    PERFORMED = "performed", _("Performed")
    NOT_PERFORMED = "not_performed", _("Not performed")


class MediationCase(models.Model):
    """劳动争议调解: the application, the acceptance decision, the mediator, the sessions, the
    agreement with its signatures, and the statutory term.

    Sessions, signatures and extensions are kept as JSON lists on this record: the case list
    merges this record into every case with one join (cases.details), so nothing of it may
    need a query of its own. Only services write them, under the process lock."""

    case = models.OneToOneField(
        "cases.Case",
        models.CASCADE,
        primary_key=True,
        related_name="mediation",
        verbose_name=_("case"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # A mediator recorded the application for the worker (oral, or written on their behalf);
    # the case's applicant is then the recording mediator unless the worker's account is named.
    recorded_on_behalf = models.BooleanField(_("recorded on the worker's behalf"), default=False)
    applicant_name = models.CharField(_("applicant name"), max_length=100)
    applicant_id_number = EncryptedTextField(_("applicant ID number"))
    # Keyed hash of the ID number: finds a worker's cases without decrypting.
    applicant_id_index = models.CharField(max_length=64, editable=False)
    applicant_phone = models.CharField(_("applicant phone"), max_length=20)
    # The name filed is not the name on the applicant's account (a member filing for someone
    # else, or a mediator naming the wrong account): shown to the head at acceptance.
    applicant_name_differs = models.BooleanField(
        _("name differs from the applicant's account"), default=False
    )
    employer_name = models.CharField(_("employer"), max_length=200)
    employer_credit_code = models.CharField(
        _("employer's unified social credit code"), max_length=18
    )
    category = models.CharField(_("category"), max_length=30, choices=Category.choices)
    claim_amount = models.DecimalField(_("claim amount"), max_digits=14, decimal_places=2)
    facts = models.TextField(_("facts and claim"))
    known_on = models.DateField(_("date the worker knew of the infringement"))
    worker_count = models.PositiveIntegerField(_("number of workers"), default=1)
    representatives = models.JSONField(_("elected representatives"), default=list, blank=True)

    received_at = models.DateTimeField(_("received at"))
    acceptance_due_at = models.DateTimeField(_("acceptance due at"), null=True, blank=True)
    statutory_deadline = models.DateTimeField(_("statutory deadline"))
    limitation_flag = models.BooleanField(
        _("past the limitation period"),
        default=False,
        help_text=_("More than the limitation period between knowing and applying (Art. 27)."),
    )

    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    decline_reason = models.CharField(
        _("decline reason"), max_length=30, choices=DeclineReason.choices, blank=True
    )
    decline_text = models.TextField(_("decline explanation"), blank=True)

    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("mediator"),
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    sessions = models.JSONField(_("sessions"), default=list, blank=True)

    mediation_outcome = models.CharField(
        _("mediation outcome"),
        max_length=20,
        blank=True,
        choices=[
            (Outcome.AGREEMENT, Outcome.AGREEMENT.label),
            (Outcome.NO_AGREEMENT, Outcome.NO_AGREEMENT.label),
        ],
    )
    outcome_recorded_at = models.DateTimeField(_("outcome recorded at"), null=True, blank=True)
    agreement_terms = models.TextField(_("agreement terms"), blank=True)
    agreement_amount = models.DecimalField(
        _("agreed amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    performance_deadline = models.DateField(_("performance deadline"), null=True, blank=True)
    performance_method = models.CharField(_("performance method"), max_length=200, blank=True)
    # {party: {"signed_at", "recorded_by", "recorded_at"}}; the mediator's also names the
    # mediator whose signature it is ("mediator": their username; kept if another mediator is
    # assigned later). A comment only: no migration.
    signatures = models.JSONField(_("signatures"), default=dict, blank=True)
    effective_at = models.DateTimeField(_("agreement effective at"), null=True, blank=True)
    arbitral_review_until = models.DateField(
        _("joint arbitral review until"), null=True, blank=True
    )
    performance = models.CharField(
        _("performance"), max_length=20, choices=Performance.choices, blank=True
    )
    performance_note = models.TextField(_("performance note"), blank=True)
    performance_recorded_at = models.DateTimeField(
        _("performance recorded at"), null=True, blank=True
    )

    extensions = models.JSONField(_("extensions"), default=list, blank=True)
    # Markers of the periodic job (each action once): the reminder before the statutory
    # deadline (reset when an extension moves it), the expiry, the performance follow-up.
    deadline_remind_at = models.DateTimeField(_("deadline reminder due at"), null=True, blank=True)
    deadline_reminded_at = models.DateTimeField(
        _("deadline reminder sent at"), null=True, blank=True
    )
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    performance_followup_at = models.DateTimeField(
        _("performance follow-up at"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("mediation case")
        verbose_name_plural = _("mediation cases")
        indexes = [
            models.Index(fields=["statutory_deadline"], name="mediation_deadline"),
            models.Index(fields=["deadline_remind_at"], name="mediation_remind"),
            # Plain B-trees: `db_index` on a text column adds a pattern-ops index that only
            # prefix matches use.
            models.Index(fields=["applicant_id_index"], name="mediation_applicant"),
            models.Index(fields=["employer_credit_code"], name="mediation_employer"),
        ]

    def __str__(self):
        return f"{self.case_id}: {self.applicant_name} / {self.employer_name}"

    @property
    def is_effective(self):
        return self.effective_at is not None


class RecusalStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("recusal", "Pending")
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    LAPSED = "lapsed", _("Lapsed (the case ended first)")


class Recusal(models.Model):
    """回避: a party asks that the mediator step aside; the mediation head decides."""

    case = models.ForeignKey(
        "cases.Case", models.CASCADE, related_name="mediation_recusals", verbose_name=_("case")
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("mediator")
    )
    party = models.CharField(
        _("requested by party"),
        max_length=10,
        choices=[(Party.WORKER, Party.WORKER.label), (Party.EMPLOYER, Party.EMPLOYER.label)],
    )
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=RecusalStatus.choices, default=RecusalStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        verbose_name = _("recusal request")
        verbose_name_plural = _("recusal requests")
        ordering = ["requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status="pending"),
                name="one_pending_recusal_per_case",
            )
        ]

    def __str__(self):
        return f"{self.case_id}: {self.mediator} ({self.status})"


class MediatorConflict(models.Model):
    """A mediator's known conflict of interest with an employer (kinship, former employment,
    shareholding …): such a mediator cannot be assigned to a dispute with that employer."""

    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="mediation_conflicts",
        verbose_name=_("mediator"),
        db_index=False,  # uniq_mediator_conflict leads with it
    )
    employer_credit_code = models.CharField(
        _("employer's unified social credit code"), max_length=18
    )
    employer_name = models.CharField(_("employer"), max_length=200, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("mediator conflict of interest")
        verbose_name_plural = _("mediator conflicts of interest")
        constraints = [
            models.UniqueConstraint(
                fields=["mediator", "employer_credit_code"], name="uniq_mediator_conflict"
            )
        ]

    def __str__(self):
        return f"{self.mediator} ≠ {self.employer_name or self.employer_credit_code}"

    def clean(self):
        from django.core.exceptions import ValidationError
        from stdnum.cn import uscc
        from stdnum.exceptions import ValidationError as StdnumError

        from organizations.models import Membership, Role

        errors = {}
        try:
            self.employer_credit_code = uscc.validate(self.employer_credit_code)
        except StdnumError:
            errors["employer_credit_code"] = _("Not a valid unified social credit code.")
        if (
            self.mediator_id
            and not Membership.objects.filter(
                user_id=self.mediator_id, role__in=(Role.MEDIATOR, Role.MEDIATION_HEAD)
            ).exists()
        ):
            # Recorded for someone who is never assigned, it would protect no one.
            errors["mediator"] = _("Only a mediator or mediation head is assigned to disputes.")
        if errors:
            raise ValidationError(errors)
