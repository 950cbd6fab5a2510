"""Readable names of trail actions and roles for the pages (the trail itself stores codes)."""

from django.utils.translation import gettext_lazy as _

from organizations.models import Role

ACTIONS = {
    "case.submitted": _("Submitted"),
    "case.opened": _("Opened"),
    "case.approved": _("Approved"),
    "case.rejected": _("Rejected"),
    "case.closed": _("Closed"),
    "case.withdrawn": _("Withdrawn"),
    "case.cc": _("Copied to"),
    "task.created": _("Task opened"),
    "task.claimed": _("Task claimed"),
    "task.released": _("Task released"),
    "task.completed": _("Decided"),
    "task.consulted": _("Opinion given"),
    "task.canceled": _("Task cancelled"),
    "task.transferred": _("Transferred"),
    "task.approver_added": _("Approver added"),
    "task.sent_back": _("Sent back"),
    "task.urged": _("Urged"),
    "task.reminded": _("Reminder sent"),
    "task.overdue": _("Overdue"),
    "task.reassigned": _("Moved up a level"),
    "task.done": _("Step done"),
    "task.scheduled": _("Scheduled"),
    "step.skipped": _("Step not needed"),
    "step.escalated": _("Escalated: nobody eligible"),
    "step.unstaffed": _("Nobody eligible"),
    "remittance.verified": _("Receipt verified"),
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


def task_status_label(code):
    return TASK_STATUSES.get(str(code), code)


def decision_label(code):
    from approvals.spec import DECISION_LABELS

    return DECISION_LABELS.get(code, code)


def action_label(code):
    return ACTIONS.get(code, code)


def role_label(code):
    try:
        return Role(code).label
    except ValueError:
        return code
