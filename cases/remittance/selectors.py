"""Reads of fee remittance: the period overview for upper levels, and how a recorded payment
compares with what was due."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import CaseStatus
from core.config import parameter, parameter_for_each
from core.errors import Forbidden
from organizations.models import Organization, OrganizationKind
from organizations.selectors import officer_paths, subtree_q

from . import rules
from .models import Remittance


@dataclass
class UnionPeriod:
    organization: Organization
    remittance: Remittance | None
    state: str  # not_declared | declared | paid | verified
    late: bool  # paid after the due date, or unpaid past it
    due_date: date

    @property
    def difference(self):
        """Paid − upper share once a payment is recorded (negative: underpaid), else None."""
        return difference(self.remittance) if self.remittance else None

    @property
    def shortfall(self):
        """What is missing of the upper share (a positive amount), or None when nothing is."""
        diff = self.difference
        return -diff if diff is not None and diff < 0 else None


def difference(remittance):
    """The amount paid minus the upper share due, or None while no payment is recorded."""
    if remittance.paid_amount is None:
        return None
    return remittance.paid_amount - remittance.upper_share


def late_fee(remittance, paid_on=None):
    """(days late, late fee) of a payment on `paid_on` (default: the one recorded) with the
    rates in force for the union at the due date — what confirmation records (DOMAIN.md C)."""
    paid_on = paid_on or remittance.paid_on
    union = remittance.organization
    days = rules.days_late(remittance.due_date, paid_on)
    fee = rules.late_fee(
        remittance.upper_share,
        days,
        daily_rate=parameter(
            "remittance.late_fee_daily_rate", organization=union, on=remittance.due_date
        ),
        cap_ratio=parameter(
            "remittance.late_fee_cap_ratio", organization=union, on=remittance.due_date
        ),
    )
    return days, fee


@dataclass(frozen=True)
class PaymentCheck:
    """A recorded payment against what was due, for the finance officer who verifies it."""

    upper_share: Decimal  # due
    paid_amount: Decimal
    days_late: int
    late_fee: Decimal  # recorded at confirmation (computed now while not yet confirmed)

    @property
    def difference(self):
        return self.paid_amount - self.upper_share

    @property
    def shortfall(self):
        return max(-self.difference, Decimal("0.00"))

    @property
    def excess(self):
        return max(self.difference, Decimal("0.00"))

    @property
    def covers_late_fee(self):
        """Paid the upper share and the late fee on top of it."""
        return self.late_fee > 0 and self.difference == self.late_fee

    @property
    def matches(self):
        return self.difference == 0 or self.covers_late_fee


def payment_check(remittance):
    """How the recorded payment compares with the upper share due, or None before a payment
    is recorded. The late fee is not part of the payment: it is computed at confirmation and
    shown on the case; a payment that adds exactly the late fee matches too."""
    if remittance.paid_amount is None or remittance.paid_on is None:
        return None
    if remittance.verified_at:
        days, fee = remittance.days_late or 0, remittance.late_fee or Decimal("0.00")
    else:
        days, fee = late_fee(remittance)
    return PaymentCheck(remittance.upper_share, remittance.paid_amount, days, fee)


def _state(remittance):
    if remittance is None:
        return "not_declared"
    if remittance.verified_at:
        return "verified"
    if remittance.paid_on:
        return "paid"
    return "declared"


def overview(user, period):
    """Every grassroots union in the user's reach with its regular declaration of `period`:
    declared / paid / verified, late or not, amounts — unions that have not declared too.
    Two queries, whatever the number of unions. A member who holds no office has no unions
    to see: refused (403), not answered with an empty overview."""
    if not officer_paths(user):
        raise Forbidden(_("Only the officers of a union see the fund remittance overview."))
    unions = list(
        Organization.objects.filter(
            subtree_q(officer_paths(user)), kind=OrganizationKind.GRASSROOTS
        ).order_by("path")
    )
    declarations = {
        r.organization_id: r
        for r in Remittance.objects.filter(
            organization__in=unions, period=period, supplements__isnull=True, voided=False
        )
        .exclude(case__status__in=(CaseStatus.WITHDRAWN, CaseStatus.REJECTED))
        .select_related("case")
    }
    due_days = parameter_for_each("remittance.due_day", unions, on=period)
    today = timezone.localdate()
    dues = {day: rules.due_date(period, due_day=day) for day in set(due_days.values())}
    rows = []
    for union in unions:
        remittance = declarations.get(union.pk)
        due = remittance.due_date if remittance else dues[due_days[union.pk]]
        late = (remittance.paid_on if remittance and remittance.paid_on else today) > due
        rows.append(UnionPeriod(union, remittance, _state(remittance), late, due))
    return rows


def unpaid_unions(period):
    """Grassroots unions with no payment recorded for `period` (declared or not)."""
    paid = Remittance.objects.filter(
        period=period, supplements__isnull=True, voided=False, paid_on__isnull=False
    ).values("organization_id")
    return Organization.objects.filter(kind=OrganizationKind.GRASSROOTS).exclude(pk__in=paid)


def month_start(day: date) -> date:
    return day.replace(day=1)
