"""Hardship aid (困难职工帮扶): the application record of each case, the hardship register
(档案) and objections lodged during a public notice (公示)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.sensitive import EncryptedTextField, mask


class AidType(models.TextChoices):
    FILE = "file", _("Hardship register (建档)")
    EDUCATION = "education", _("Education aid (金秋助学)")
    MEDICAL = "medical", _("Critical illness aid (大病救助)")
    FESTIVAL = "festival", _("Festival condolence (送温暖)")
    EMERGENCY = "emergency", _("Emergency aid (临时救助)")


# Aid types whose approval is put on public notice (公示) first.
NOTICE_AID_TYPES = frozenset({AidType.FILE, AidType.EDUCATION, AidType.MEDICAL})


class Category(models.TextChoices):
    DEEP = "deep", _("Deep hardship (深度困难)")
    RELATIVE = "relative", _("Relative hardship (相对困难)")
    SUDDEN = "sudden", _("Sudden hardship (意外致困)")
    INELIGIBLE = "ineligible", _("Not eligible")


# What an officer may approve a case under.
APPROVABLE_CATEGORIES = tuple((c.value, c.label) for c in Category if c != Category.INELIGIBLE)


class Kind(models.TextChoices):
    APPLICATION = "application", _("Application")
    REVIEW = "review", _("Register review")


class ApprovalLevel(models.TextChoices):
    TOWN = "town", _("Town federation")
    COUNTY = "county", _("County federation")


class ReviewConclusion(models.TextChoices):
    KEEP = "keep", _("Keep in the register")
    EXIT = "exit", _("Close the entry (退档)")


class RegisterStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class RegisterEntry(models.Model):
    """档案: a member in the hardship register, entered by a disbursed `file` case and reviewed
    periodically (a review case opens by itself when `next_review_on` comes)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="hardship_register_entries",
        verbose_name=_("member"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        models.PROTECT,
        related_name="+",
        verbose_name=_("union"),
    )
    # Keyed hash of the member's resident ID number: one active entry per person.
    id_index = models.CharField(max_length=64)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RegisterStatus.choices,
        default=RegisterStatus.ACTIVE,
    )
    started_on = models.DateField(_("entered on"))
    next_review_on = models.DateField(_("next review on"), db_index=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    source_case = models.OneToOneField(
        "cases.Case", models.PROTECT, related_name="+", verbose_name=_("entered by case")
    )
    # The review case now open for this entry; the beat opens one only while this is empty.
    review_case = models.ForeignKey(
        "cases.Case",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("open review case"),
    )
    closed_by_case = models.ForeignKey(
        "cases.Case",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by case"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("hardship register entry")
        verbose_name_plural = _("hardship register")
        ordering = ["-started_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_index"],
                condition=Q(status="active"),
                name="hardship_one_active_entry_per_person",
            )
        ]
        # Plain B-trees: `db_index` on a text column adds a pattern-ops index that only
        # prefix matches use.
        indexes = [models.Index(fields=["id_index"], name="register_id_index")]

    def __str__(self):
        return f"{self.member} · {self.get_category_display()} · {self.get_status_display()}"


class HardshipApplication(models.Model):
    """The hardship fields of a case: what was applied for, the computed eligibility, what the
    officers decided and what was paid. A register review case has one too (kind `review`)."""

    case = models.OneToOneField(
        "cases.Case", models.PROTECT, related_name="hardship", verbose_name=_("case")
    )
    kind = models.CharField(
        _("kind of case"), max_length=12, choices=Kind.choices, default=Kind.APPLICATION
    )
    aid_type = models.CharField(_("aid type"), max_length=12, choices=AidType.choices)
    # Resident ID numbers: encrypted at rest, found again through their keyed hash.
    id_number = EncryptedTextField(_("resident ID number"))
    id_index = models.CharField(max_length=64)
    household_size = models.PositiveSmallIntegerField(_("household size"))
    annual_income = models.DecimalField(
        _("annual household income"), max_digits=14, decimal_places=2
    )
    rigid_expenses = models.DecimalField(_("rigid expenses"), max_digits=14, decimal_places=2)
    accident_or_illness = models.BooleanField(_("caused by accident or critical illness"))
    hardship_costs = models.DecimalField(
        _("hardship costs of the year"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    requested_amount = models.DecimalField(
        _("requested amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    reason = models.TextField(_("reason"))
    child_name = models.CharField(_("child's name"), max_length=100, blank=True)
    child_id_number = EncryptedTextField(_("child's resident ID number"), blank=True)
    child_index = models.CharField(max_length=64, blank=True)

    submitted_on = models.DateField(_("submitted on"))
    # The 低保标准 in force for the union on the submission date, kept with the case.
    living_standard = models.DecimalField(_("living standard"), max_digits=10, decimal_places=2)
    per_capita_income = models.DecimalField(
        _("monthly per-capita income"), max_digits=14, decimal_places=2
    )
    proposed_category = models.CharField(
        _("proposed category"), max_length=20, choices=Category.choices
    )

    approved_amount = models.DecimalField(
        _("approved amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    approved_category = models.CharField(
        _("approved category"), max_length=20, choices=Category.choices, blank=True
    )
    approval_level = models.CharField(
        _("approved at"), max_length=10, choices=ApprovalLevel.choices, blank=True
    )
    notice_ends_at = models.DateTimeField(_("public notice ends at"), null=True, blank=True)

    disbursed_amount = models.DecimalField(
        _("amount paid"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    disbursed_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=200, blank=True)
    # The account paid into (实名制: the applicant's own, in their registered name). Its number
    # is sensitive like an ID number: encrypted at rest, found again through its keyed hash.
    account_holder = models.CharField(_("account holder"), max_length=100, blank=True)
    account_number = EncryptedTextField(_("account number"), blank=True)
    account_index = models.CharField(max_length=64, blank=True)

    # A `file` case: the entry it created. A review case: the entry under review.
    register_entry = models.ForeignKey(
        RegisterEntry,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("register entry"),
    )
    review_due_on = models.DateField(_("review due on"), null=True, blank=True)
    review_conclusion = models.CharField(
        _("review conclusion"), max_length=10, choices=ReviewConclusion.choices, blank=True
    )

    class Meta:
        verbose_name = _("hardship application")
        verbose_name_plural = _("hardship applications")
        constraints = [
            # One review case per entry and due date, however often the beat runs.
            models.UniqueConstraint(
                fields=["register_entry", "review_due_on"],
                condition=Q(kind="review"),
                name="hardship_one_review_per_due_date",
            )
        ]
        # Plain B-trees: `db_index` on a text column adds a pattern-ops index that only
        # prefix matches use.
        indexes = [
            models.Index(fields=["aid_type", "submitted_on"], name="hardship_type_date"),
            models.Index(fields=["id_index"], name="hardship_id_index"),
            models.Index(fields=["child_index"], name="hardship_child_index"),
            models.Index(fields=["account_index"], name="hardship_account_index"),
        ]

    def __str__(self):
        return f"{self.case_id} · {self.get_aid_type_display()}"

    @property
    def is_review(self):
        return self.kind == Kind.REVIEW

    @property
    def current_amount(self):
        """The amount on the table: the last approved one, else the requested one."""
        return self.approved_amount if self.approved_amount is not None else self.requested_amount

    @property
    def current_category(self):
        return self.approved_category or self.proposed_category

    @property
    def notice_category(self):
        """The category a public notice shows: a review's is the register entry's (its proposed
        one is only recomputed from the old figures)."""
        if self.is_review and self.register_entry_id:
            return self.register_entry.category
        return self.current_category

    @property
    def masked_id_number(self):
        return mask(self.id_number)

    @property
    def masked_account_number(self):
        return mask_account(self.account_number)


def mask_account(value):
    """`6222020200112233445` → `6222***********3445`, as banks print a card number."""
    return mask(value, keep_start=4, keep_end=4)


class Objection(models.Model):
    """异议: a member of the applicant's union objected during the public notice; the case went
    back to investigation (a proposed closure of a register entry: to the register review)."""

    case = models.ForeignKey(
        "cases.Case", models.PROTECT, related_name="hardship_objections", verbose_name=_("case")
    )
    objector = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("objector")
    )
    reason = models.TextField(_("reason"))
    lodged_at = models.DateTimeField(_("lodged at"), default=timezone.now)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["lodged_at", "pk"]

    def __str__(self):
        return f"{self.case_id} · {self.objector_id}"
