"""Deadlines: reminders before a task is due, and on overdue the level above is told and the
step's timeout action taken. Run every minute by Celery beat; each task is handled under its
process lock taken with SKIP LOCKED, and marked, so overlapping or repeated runs act once."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Process
from viewflow.workflow.status import STATUS

from cases import trail
from core.i18n import deferred
from notifications.services import notify
from organizations.models import Organization
from organizations.selectors import users_with_role

from ..models import OPEN_STATUSES, CaseTask
from ..spec import APPROVE, AUTO_APPROVE, AUTO_REJECT, REASSIGN_UP, REJECT
from .rounds import _deadline, recipients_for, task_opened, unstaffed_contacts

logger = logging.getLogger(__name__)


def _locked(task_id):
    """Lock the task's process without waiting (a busy case is handled on the next run) and
    re-read the task; None when locked elsewhere."""
    process_id = CaseTask.objects.filter(pk=task_id).values_list("process_id", flat=True).first()
    if not Process.objects.select_for_update(skip_locked=True).filter(pk=process_id).exists():
        return None
    task = CaseTask.objects.select_related("case__organization", "owner", "candidate_organization")
    task = task.get(pk=task_id)
    task._trail_handled = True
    return task


def _remind(task_id, now):
    with transaction.atomic():
        task = _locked(task_id)
        if task is None or task.reminded_at or task.status not in OPEN_STATUSES:
            return False
        task.reminded_at = now
        task.save(update_fields=["reminded_at"])
        trail.append(task.case, "task.reminded", task=task, data={"due_at": task.due_at})
        notify(
            event=f"task:{task.pk}:reminder:{task.due_at:%Y%m%d%H%M}",
            recipients=recipients_for(task),
            verb="task_due_soon",
            title=deferred(
                gettext_lazy("Due soon: %(title)s (%(number)s)"),
                {"title": task.flow_task.task_title, "number": task.case.number},
            ),
            case=task.case,
            data={"task": task.pk, "due_at": task.due_at.isoformat()},
        )
        return True


def _above(org, level):
    return org.path != level.path and level.path.startswith(org.path)


def supervisors(task):
    """(role, organization, people) of the level above the task, who are told when it is
    overdue: the step's `escalate_to` when that sits above the task's level (a chair's review
    is supervised by the town's aid officers, not by a "chair" of the town, a role nobody
    holds there); else the holders of the task's role at the nearest level above that has any;
    else the administrators above (rounds.unstaffed_contacts). Never the applicant or whoever
    holds the task; `role` None for the administrators."""
    node = task.flow_task
    case = task.case
    level = task.candidate_organization or case.organization
    role = task.candidate_role or node.role
    skip = {case.applicant_id, task.owner_id, task.on_behalf_of_id}
    candidates = []
    if node.escalate_to is not None:
        target = node.escalate_to.organization_for(case)
        if _above(target, level):
            candidates.append((node.escalate_to.role, target))
    candidates += [
        (role, org) for org in reversed(Organization.objects.get_ancestors(level)) if role
    ]
    for cand_role, org in candidates:
        people = [u for u in users_with_role(cand_role, org) if u.pk not in skip]
        if people:
            return cand_role, org, people
    people = [u for u in unstaffed_contacts(case, level) if u.pk not in skip]
    return None, None, people


def _escalate(task_id, now):
    from .tasks import decide

    with transaction.atomic():
        task = _locked(task_id)
        if (
            task is None
            or task.escalated_at
            or task.status not in OPEN_STATUSES
            or not task.due_at
            or task.due_at >= now
        ):
            return False
        node = task.flow_task
        up_role, above, superiors = supervisors(task)
        task.escalated_at = now
        task.save(update_fields=["escalated_at"])
        action = node.on_timeout
        trail.append(
            task.case,
            "task.overdue",
            task=task,
            data={
                "due_at": task.due_at,
                "notified": sorted(u.username for u in superiors),
                "action": action,
            },
        )
        notify(
            event=f"task:{task.pk}:overdue:{task.due_at:%Y%m%d%H%M}",
            recipients=[*superiors, *recipients_for(task)],
            verb="task_overdue",
            title=deferred(
                gettext_lazy("Overdue: %(title)s (%(number)s)"),
                {"title": node.task_title, "number": task.case.number},
            ),
            case=task.case,
            data={"task": task.pk, "due_at": task.due_at.isoformat(), "action": action},
        )
        if action in (AUTO_APPROVE, AUTO_REJECT):
            if task.status == STATUS.NEW:
                task.status = STATUS.ASSIGNED  # the system takes it
            decide(
                task,
                actor=None,
                decision=APPROVE if action == AUTO_APPROVE else REJECT,
                comment=_("No decision before the deadline."),
                system_reason="timeout",
            )
        elif action == REASSIGN_UP and above is not None:
            _reassign_up(task, up_role, above, now)
        return True


def _reassign_up(task, role, above, now):
    """The task goes to the supervising level found for it (supervisors)."""
    previous = task.candidate_organization
    task.candidate_organization = above
    task.candidate_role = role
    task.owner = None
    task.on_behalf_of = None
    task.status = STATUS.NEW
    task.due_at, task.remind_at = _deadline(task.flow_task, task.case, now)
    task.reminded_at = task.escalated_at = None
    task.save()
    trail.append(
        task.case,
        "task.reassigned",
        task=task,
        data={"reason": "timeout", "from": previous.name if previous else None, "to": above.name},
    )
    task_opened(task, case=task.case)


def process_deadlines(now=None):
    """One beat run: send due reminders, escalate overdue tasks. Returns the counts."""
    now = now or timezone.now()
    open_human = CaseTask.objects.filter(flow_task_type="HUMAN", status__in=OPEN_STATUSES)
    reminders = open_human.filter(
        remind_at__lte=now, reminded_at__isnull=True, due_at__gt=now
    ).values_list("pk", flat=True)
    overdue = open_human.filter(due_at__lt=now, escalated_at__isnull=True).values_list(
        "pk", flat=True
    )
    counts = {"reminded": 0, "escalated": 0}
    for task_id in list(reminders):
        counts["reminded"] += _remind(task_id, now)
    for task_id in list(overdue):
        try:
            counts["escalated"] += _escalate(task_id, now)
        except Exception:  # one broken case must not stop the others
            logger.exception("Escalating task %s failed", task_id)
    return counts
