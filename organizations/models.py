from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node


class User(AbstractUser):
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Chosen with the header's switch; notifications and emails are written in it. Blank: the
    # site's language (settings.LANGUAGE_CODE).
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self):
        return self.full_name or self.username


class OrganizationKind(models.TextChoices):
    COUNTY = "county", _("County federation of trade unions")  # 县总工会
    TOWN = "town", _("Town / street federation")  # 镇（街道）总工会
    GRASSROOTS = "grassroots", _("Grassroots union")  # 基层工会


class Organization(MP_Node):
    """A union in the tree. Subtree scoping is a prefix filter on `path` (materialized path)."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices)
    region_code = models.CharField(
        _("region code"), max_length=12, blank=True, help_text=_("Administrative division code")
    )

    node_order_by = ["name"]

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    MEMBER = "member", _("Member")  # 会员
    CHAIR = "chair", _("Chair")  # 基层工会主席
    TREASURER = "treasurer", _("Treasurer")  # 基层工会财务
    AID_OFFICER = "aid_officer", _("Aid officer")  # 帮扶干事
    MEDIATOR = "mediator", _("Mediator")  # 调解员
    MEDIATION_HEAD = "mediation_head", _("Mediation head")  # 调解委员会主任
    FINANCE_OFFICER = "finance_officer", _("Finance officer")  # 财务
    AUDITOR = "auditor", _("Auditor")  # 经费审查委员会委员
    ADMIN = "admin", _("Administrator")  # 系统管理员


# Roles whose holders see every case of their organization and its descendants.
OFFICER_ROLES = frozenset(Role) - {Role.MEMBER}
# Officer roles that act on cases (urge, delegate, take tasks); auditors only review them.
ACTING_ROLES = OFFICER_ROLES - {Role.AUDITOR}


class Membership(models.Model):
    # Each leads an index below (uniq_membership; organization and role).
    user = models.ForeignKey(
        User, models.CASCADE, related_name="memberships", db_index=False, verbose_name=_("user")
    )
    organization = models.ForeignKey(
        Organization,
        models.CASCADE,
        related_name="memberships",
        db_index=False,
        verbose_name=_("organization"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="uniq_membership")
        ]
        indexes = [models.Index(fields=["organization", "role"])]

    def __str__(self):
        return f"{self.user} · {self.organization} · {self.get_role_display()}"
