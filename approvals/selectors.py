"""Task reads, scoped to the user and free of N+1."""

from django.db.models import Q
from viewflow.workflow.status import STATUS

from cases.selectors import cases_in_reach_q
from organizations.selectors import memberships_of

from .models import OPEN_STATUSES, CaseTask

HUMAN = "HUMAN"


def _base():
    return CaseTask.objects.filter(flow_task_type=HUMAN).select_related(
        "case", "owner", "candidate_organization", "completed_by"
    )


def candidate_q(user):
    """Unassigned tasks the user may claim by role — never on a case they applied for."""
    q = Q(pk__in=[])
    for m in memberships_of(user):
        q |= Q(candidate_organization_id=m.organization_id, candidate_role=m.role)
    return q & Q(status=STATUS.NEW) & ~Q(case__applicant=user)


def inbox(user):
    return _base().filter(owner=user, status__in=(STATUS.ASSIGNED, STATUS.STARTED))


def queue(user):
    return _base().filter(candidate_q(user))


def archive(user):
    return _base().filter(completed_by=user, status=STATUS.DONE)


def tasks_in_reach(user):
    """Every human task the user may look at: on a case in reach, or offered or assigned to them."""
    return _base().filter(
        Q(case__in=_case_ids(user)) | Q(owner=user) | candidate_q(user) | Q(completed_by=user)
    )


def _case_ids(user):
    from cases.models import Case

    return Case.objects.filter(cases_in_reach_q(user)).values("pk")


def open_tasks_of(case_ids):
    """Open human tasks of the given cases, for embedding in case JSON (one query)."""
    return _base().filter(case_id__in=case_ids, status__in=OPEN_STATUSES).order_by("created")
