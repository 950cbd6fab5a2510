"""Mediation reads: who sees a worker's identifiers whole, what the periodic job has to do,
recusal requests, and the success rate for reports."""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q

from cases.models import Case, CaseStatus
from organizations.models import Role
from organizations.selectors import memberships_of

from .models import MediationCase, Recusal

MEDIATION_ROLES = frozenset({Role.MEDIATOR, Role.MEDIATION_HEAD})


def sees_identity(user, case):
    """The worker's ID number and phone, whole: to the worker's side (applicant, recorder)
    and the mediation officers over the case's organization; masked for everyone else in
    reach (auditors, aid officers …). Reads only the user's cached memberships."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser or user.pk in (case.applicant_id, case.submitted_by_id):
        return True
    path = case.organization.path
    return any(
        m.role in MEDIATION_ROLES and path.startswith(m.organization.path)
        for m in memberships_of(user)
    )


def recusals_of(case):
    return (
        Recusal.objects.filter(case=case)
        .select_related("mediator", "requested_by", "decided_by")
        .order_by("requested_at", "pk")
    )


def _open():
    return MediationCase.objects.filter(case__status=CaseStatus.IN_PROGRESS)


def due_for_expiry(now):
    return (
        _open()
        .filter(effective_at__isnull=True, expired_at__isnull=True, statutory_deadline__lt=now)
        .values_list("case_id", flat=True)
    )


def due_for_reminder(now):
    return (
        _open()
        .filter(
            effective_at__isnull=True,
            deadline_reminded_at__isnull=True,
            deadline_remind_at__lte=now,
            statutory_deadline__gt=now,
        )
        .values_list("case_id", flat=True)
    )


def due_for_lapse(today):
    """Agreements still awaiting signatures after their performance deadline."""
    return (
        _open()
        .filter(
            effective_at__isnull=True,
            mediation_outcome="agreement",
            performance_deadline__lt=today,
        )
        .values_list("case_id", flat=True)
    )


def due_for_followup(today):
    return (
        _open()
        .filter(
            effective_at__isnull=False,
            performance="",
            performance_followup_at__isnull=True,
            performance_deadline__lt=today,
        )
        .values_list("case_id", flat=True)
    )


def success_rate(organization=None, start=None, end=None):
    """调解成功率: effective agreements ÷ closed mediation cases, for the organization's
    subtree (default: everywhere) and the cases finished between `start` and `end`
    (local dates, inclusive). Declined applications (status rejected) and withdrawn ones were
    never mediated and do not count. None when no case was closed. Counted in the database."""
    cases = Case.objects.filter(process="mediation", status=CaseStatus.CLOSED)
    if organization is not None:
        cases = cases.filter(organization__path__startswith=organization.path)
    if start is not None:
        cases = cases.filter(finished_at__date__gte=start)
    if end is not None:
        cases = cases.filter(finished_at__date__lte=end)
    figures = cases.aggregate(
        closed=Count("pk"),
        agreements=Count("pk", filter=Q(mediation__effective_at__isnull=False)),
    )
    if not figures["closed"]:
        return None
    rate = Decimal(figures["agreements"]) / Decimal(figures["closed"])
    return rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
