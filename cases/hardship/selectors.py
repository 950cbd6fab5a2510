"""Reads of the hardship process, scoped to the user and free of N+1."""

from django.db.models import Q
from django.utils import timezone

from approvals.models import CaseTask
from cases.models import CaseStatus
from organizations.models import Role
from organizations.selectors import memberships_of, officer_paths, subtree_q

from .models import HardshipApplication, RegisterEntry

_ACTING_CACHE = "_hardship_acting_case_ids"


def acting_case_ids(request):
    """Ids of the hardship cases on which the requesting user holds, held or decided a task
    (in person or for someone away): one query per request, however many cases are shown."""
    cached = getattr(request, _ACTING_CACHE, None)
    if cached is None:
        user = request.user
        # A UNION of three index lookups: one OR across viewflow's task table (owner) and
        # ours (completed_by, on_behalf_of) makes PostgreSQL scan both whole tables.
        tasks = CaseTask.objects.filter(case__process="hardship").order_by()
        shown = getattr(request, "case_ids_shown", None)  # a page of the case list
        if shown is not None:
            tasks = tasks.filter(case_id__in=shown)
        cached = set(
            tasks.filter(owner=user)
            .values_list("case_id", flat=True)
            .union(
                tasks.filter(completed_by=user).values_list("case_id", flat=True),
                tasks.filter(on_behalf_of=user).values_list("case_id", flat=True),
            )
        )
        setattr(request, _ACTING_CACHE, cached)
    return cached


def sees_identity(request, case):
    """Whether the requesting user sees resident ID numbers of the case whole: the applicant,
    whoever submitted for them, and the officers acting on it. Everyone else sees them
    masked; without a request (no known viewer), everyone does."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if user.pk in (case.applicant_id, case.submitted_by_id):
        return True
    return case.pk in acting_case_ids(request)


def member_union_ids(user):
    return [m.organization_id for m in memberships_of(user) if m.role == Role.MEMBER]


def notices_for(user):
    """What of the user's unions is now on public notice (公示), soonest end first: applications,
    and proposed closures of register entries (退档)."""
    return (
        HardshipApplication.objects.filter(
            case__organization_id__in=member_union_ids(user),
            case__status=CaseStatus.IN_PROGRESS,
            notice_ends_at__gt=timezone.now(),
        )
        .select_related("case__applicant", "case__organization", "register_entry")
        .order_by("notice_ends_at", "pk")
    )


def register_in_reach(user):
    """Register entries an officer's subtree holds, and the user's own."""
    q = Q(member=user)
    if user.is_superuser:
        q = Q()
    else:
        paths = officer_paths(user)
        if paths:
            q |= subtree_q(paths, field="organization__path")
    return RegisterEntry.objects.filter(q).select_related(
        "member", "organization", "source_case", "review_case", "closed_by_case"
    )
