"""Readable names of trail actions, roles and outcomes for the pages (the trail itself stores
codes). Every action code the code base writes to a trail has a label here
(tests/cases/test_action_labels.py finds them in the source)."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from organizations.models import Role

from .models import CaseStatus

# The names are under the context "trail event": the same English word as a field label
# ("Submitted", the time a case was submitted) or a status reads differently in Chinese.
ACTIONS = {
    # the case
    "case.submitted": pgettext_lazy("trail event", "Submitted"),
    "case.opened": pgettext_lazy("trail event", "Opened"),
    "case.approved": pgettext_lazy("trail event", "Approved"),
    "case.rejected": pgettext_lazy("trail event", "Rejected"),
    "case.closed": pgettext_lazy("trail event", "Closed"),
    "case.withdrawn": pgettext_lazy("trail event", "Withdrawn"),
    "case.cc": pgettext_lazy("trail event", "Copied to"),
    # tasks, through the approval services
    "task.created": pgettext_lazy("trail event", "Task opened"),
    "task.claimed": pgettext_lazy("trail event", "Task claimed"),
    "task.released": pgettext_lazy("trail event", "Task released"),
    "task.completed": pgettext_lazy("trail event", "Decided"),
    "task.consulted": pgettext_lazy("trail event", "Opinion given"),
    "task.canceled": pgettext_lazy("trail event", "Task cancelled"),
    "task.transferred": pgettext_lazy("trail event", "Transferred"),
    "task.approver_added": pgettext_lazy("trail event", "Approver added"),
    "task.approver_withdrawn": pgettext_lazy("trail event", "Added approver withdrawn"),
    "task.sent_back": pgettext_lazy("trail event", "Sent back"),
    "task.urged": pgettext_lazy("trail event", "Urged"),
    "task.reminded": pgettext_lazy("trail event", "Reminder sent"),
    "task.overdue": pgettext_lazy("trail event", "Overdue"),
    "task.reassigned": pgettext_lazy("trail event", "Moved up a level"),
    "task.moved": pgettext_lazy("trail event", "Offered to another queue"),
    "task.returned": pgettext_lazy("trail event", "Returned when the delegation ended"),
    # tasks changed by viewflow itself (cases.signals: "task." + its status)
    "task.new": pgettext_lazy("trail event", "Task waiting"),
    "task.assigned": pgettext_lazy("trail event", "Task assigned"),
    "task.started": pgettext_lazy("trail event", "Task started"),
    "task.done": pgettext_lazy("trail event", "Step done"),
    "task.error": pgettext_lazy("trail event", "Task failed"),
    "task.scheduled": pgettext_lazy("trail event", "Scheduled"),
    "task.revived": pgettext_lazy("trail event", "Task resumed"),
    # steps
    "step.skipped": pgettext_lazy("trail event", "Step not needed"),
    "step.escalated": pgettext_lazy("trail event", "Escalated: nobody eligible"),
    "step.unstaffed": pgettext_lazy("trail event", "Nobody eligible"),
    # attachments
    "attachment.uploaded": pgettext_lazy("trail event", "File uploaded"),
    # hardship aid
    "hardship.notice_started": pgettext_lazy("trail event", "Public notice started"),
    "hardship.exit_notice_started": pgettext_lazy("trail event", "Exit notice started"),
    "hardship.figures_changed": pgettext_lazy("trail event", "Amount or category changed"),
    "hardship.objection": pgettext_lazy("trail event", "Objection during the notice"),
    "hardship.register_entered": pgettext_lazy("trail event", "Entered in the register"),
    "hardship.register_retained": pgettext_lazy("trail event", "Kept in the register"),
    "hardship.register_closed": pgettext_lazy("trail event", "Left the register"),
    # mediation
    "mediation.session_recorded": pgettext_lazy("trail event", "Session recorded"),
    "mediation.signed": pgettext_lazy("trail event", "Signature or seal recorded"),
    "mediation.agreement_effective": pgettext_lazy("trail event", "Agreement in effect"),
    "mediation.agreement_lapsed": pgettext_lazy(
        "trail event", "Agreement lapsed: not signed by its performance deadline"
    ),
    "mediation.agreement_withdrawn": pgettext_lazy(
        "trail event", "Agreement withdrawn by the mediator"
    ),
    "mediation.term_extended": pgettext_lazy("trail event", "Term extended"),
    "mediation.term_reminder": pgettext_lazy("trail event", "Term reminder sent"),
    "mediation.term_expired": pgettext_lazy("trail event", "Statutory term ended"),
    "mediation.recusal_requested": pgettext_lazy("trail event", "Recusal requested"),
    "mediation.recusal_granted": pgettext_lazy("trail event", "Recusal granted"),
    "mediation.recusal_refused": pgettext_lazy("trail event", "Recusal refused"),
    "mediation.mediator_unavailable": pgettext_lazy(
        "trail event", "Mediator unavailable: back to assignment"
    ),
    "mediation.performance_due": pgettext_lazy("trail event", "Performance follow-up due"),
    # fee remittance
    "remittance.verified": pgettext_lazy("trail event", "Receipt verified"),
}


TASK_STATUSES = {
    "NEW": _("Waiting to be claimed"),
    "ASSIGNED": _("Claimed"),
    "STARTED": _("In hand"),
    "DONE": _("Done"),
    "CANCELED": _("Cancelled"),
    "SCHEDULED": _("Scheduled"),
    "ERROR": _("Error"),
}

# A case's outcome (Case.outcome): what its flow's end settled (approvals.nodes.Finish: the
# outcome, or the status when it names none), or "withdrawn".
OUTCOMES = {
    "disbursed": pgettext_lazy("case outcome", "aid disbursed"),
    "rejected": pgettext_lazy("case outcome", "not approved"),
    "retained": pgettext_lazy("case outcome", "kept in the register"),
    "exited": pgettext_lazy("case outcome", "left the register"),
    "agreement": pgettext_lazy("case outcome", "closed with an agreement"),
    "no_agreement": pgettext_lazy("case outcome", "closed without an agreement"),
    "declined": pgettext_lazy("case outcome", "not accepted"),
    "expired": pgettext_lazy("case outcome", "closed at the end of the statutory term"),
    "verified": pgettext_lazy("case outcome", "payment verified"),
    "withdrawn": pgettext_lazy("case outcome", "withdrawn"),
    "approved": pgettext_lazy("case outcome", "approved"),
    "closed": pgettext_lazy("case outcome", "closed"),
}

# Roles the trail records that are not memberships.
OTHER_ROLES = {"system": _("System")}


def task_status_label(code):
    return TASK_STATUSES.get(str(code), code)


# Decisions a task records that nobody chooses (approvals.spec.SKIPPED, SENT_BACK); those a
# person chooses are named in approvals.spec.DECISION_LABELS.
RECORDED_DECISIONS = {
    "skipped": pgettext_lazy("task decision", "Not needed"),
    "sent_back": pgettext_lazy("task decision", "Sent back"),
}


def decision_label(code):
    from approvals.spec import DECISION_LABELS

    if code in DECISION_LABELS:
        return DECISION_LABELS[code]
    return RECORDED_DECISIONS.get(code, code)


def task_kind_label(code):
    from approvals.models import TaskKind

    try:
        return TaskKind(code).label
    except ValueError:
        return code


def action_label(code):
    return ACTIONS.get(code, code)


def outcome_label(code):
    if code in OUTCOMES:
        return OUTCOMES[code]
    try:
        return CaseStatus(code).label
    except ValueError:
        return code


def role_label(code):
    if code in OTHER_ROLES:
        return OTHER_ROLES[code]
    try:
        return Role(code).label
    except ValueError:
        return code
