"""Case reads, scoped to the user: officers see their organization's subtree, applicants their
own cases, and anyone a case on which they hold or held a task."""

from django.db.models import Exists, OuterRef, Q

from organizations.selectors import officer_paths, subtree_q

from .models import Case, CaseCC, TrailEvent


def cases_in_reach_q(user):
    from approvals.models import CaseTask

    if user.is_superuser:
        return Q()
    q = Q(applicant=user) | Q(submitted_by=user)
    paths = officer_paths(user)
    if paths:
        q |= subtree_q(paths, field="organization__path")
    # Two EXISTS rather than one with an OR: owner lives on viewflow's task table and
    # completed_by on ours, so an OR across them cannot use either index and makes PostgreSQL
    # hash both whole tables for every count (seconds at a million tasks).
    held = CaseTask.objects.filter(case=OuterRef("pk"), owner=user)
    decided = CaseTask.objects.filter(case=OuterRef("pk"), completed_by=user)
    copied = CaseCC.objects.filter(case=OuterRef("pk"), user=user)
    return q | Q(Exists(held)) | Q(Exists(decided)) | Q(Exists(copied))


def cases_in_reach(user):
    return Case.objects.filter(cases_in_reach_q(user)).select_related(
        "organization", "applicant", "submitted_by"
    )


def case_in_reach(user, case_id):
    """The case, or None when it does not exist or lies outside the user's reach."""
    return cases_in_reach(user).filter(pk=case_id).first()


def trail_of(case):
    return (
        TrailEvent.objects.filter(case=case).select_related("actor", "on_behalf_of").order_by("seq")
    )
