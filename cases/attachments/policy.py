"""Which cases take attachments, of which kinds and up to which size: each process registers
its policy (in its AppConfig.ready). A process without a policy takes no attachments."""

from dataclasses import dataclass, field

from django.db.models import Q

from approvals.models import CaseTask
from cases.models import CaseStatus

from .content import ALLOWED_TYPES

APPLICANT = "applicant"
OFFICER = "officer"


def acting_officer(user, case):
    """Holds, held or decided a task of the case (in person or for someone away)."""
    return (
        CaseTask.objects.filter(case=case)
        .filter(Q(owner=user) | Q(completed_by=user) | Q(on_behalf_of=user))
        .exists()
    )


def default_uploader_role(user, case):
    """The applicant (or whoever submitted for them) and the officers acting on the case may
    upload; returns APPLICANT, OFFICER or None."""
    if user.pk in (case.applicant_id, case.submitted_by_id):
        return APPLICANT
    if acting_officer(user, case):
        return OFFICER
    return None


@dataclass(frozen=True)
class Policy:
    kinds: tuple  # ((value, label), ...)
    max_mb_parameter: str  # a key of UNIONFLOW_PARAMETERS, read per organization
    content_types: tuple = ALLOWED_TYPES
    uploader_role: object = field(default=default_uploader_role)

    def kind_values(self):
        return [value for value, _label in self.kinds]

    def may_upload(self, user, case):
        """(allowed, reason code): applicants while the case is in progress, acting officers
        at any time (e.g. a payment voucher after the fact)."""
        role = self.uploader_role(user, case)
        if role == APPLICANT and case.status != CaseStatus.IN_PROGRESS:
            return False, "case_closed"
        return role is not None, None if role else "not_allowed"


_policies = {}


def register(process, policy):
    _policies[process] = policy


def policy_for(process):
    return _policies.get(process)


def kind_labels():
    """Every process's kinds of file with their labels (the first process to name a kind
    names it)."""
    labels = {}
    for policy in _policies.values():
        for value, label in policy.kinds:
            labels.setdefault(value, label)
    return labels
