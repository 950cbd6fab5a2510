"""Reads of fee remittance: the period overview for upper levels."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from cases.models import CaseStatus
from core.config import parameter_for_each
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
    Two queries, whatever the number of unions."""
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
