"""Operations on tasks. Each is one transaction under the process lock: it checks who may act,
changes state through viewflow's activation, appends the trail event and writes the
notifications. The API, UI and commands all call these; none of them writes tasks itself."""

from contextlib import contextmanager

from django.db import transaction
from django.utils.translation import gettext as _
from viewflow.fsm import TransitionNotAllowed
from viewflow.workflow.status import STATUS

from cases import trail
from core.errors import Conflict, Forbidden, Invalid, NotFound
from notifications.services import notify
from organizations.selectors import users_with_role

from . import selectors
from .models import CaseTask
from .spec import APPROVE, COMMENT_REQUIRED, validate_fields


def may_claim(user, task):
    """Holds the task's role at its organization, and is not deciding their own case."""
    if not user.is_active or not task.candidate_role or task.case.applicant_id == user.pk:
        return False
    return any(
        m.organization_id == task.candidate_organization_id and m.role == task.candidate_role
        for m in _memberships(user)
    )


def _memberships(user):
    from organizations.selectors import memberships_of

    return memberships_of(user)


@contextmanager
def _locked_task(task_id, user):
    """Find the task within the user's reach (404 otherwise), lock its process and re-read it,
    so that every check below sees the state the change will be applied to."""
    task = selectors.tasks_in_reach(user).filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Task not found."))
    with (
        trail.acting(actor=user),
        transaction.atomic(),
        task.flow_task.flow_class.lock(task.process_id),
    ):
        task = CaseTask.objects.select_related(
            "case__organization", "case__applicant", "owner", "process"
        ).get(pk=task_id)
        task._trail_handled = True
        try:
            yield task
        except TransitionNotAllowed as exc:
            raise Conflict(_("The task is not in a state that allows this.")) from exc


def _require_open(task):
    if task.status in (STATUS.DONE, STATUS.CANCELED):
        raise Conflict(_("This task is already closed."), code="task_closed")


def _claim(task, user):
    if task.status != STATUS.NEW:
        if task.owner_id == user.pk:
            return
        raise Conflict(
            _("This task has already been claimed by someone else."), code="task_claimed"
        )
    if not may_claim(user, task):
        raise Forbidden(_("You may not take this task."))
    task.flow_task.activation_class(task).assign(user)
    trail.append(task.case, "task.claimed", actor=user, actor_role=task.candidate_role, task=task)


def claim(*, task_id, user):
    with _locked_task(task_id, user) as task:
        _require_open(task)
        _claim(task, user)
    return task


def release(*, task_id, user):
    with _locked_task(task_id, user) as task:
        _require_open(task)
        if task.owner_id != user.pk:
            raise Forbidden(_("Only the assignee can release this task."))
        if not task.candidate_role:
            raise Conflict(_("This task was assigned to you by name and cannot be released."))
        task.flow_task.activation_class(task).unassign()
        trail.append(
            task.case, "task.released", actor=user, actor_role=task.candidate_role, task=task
        )
    return task


def complete(*, task_id, user, decision, comment="", data=None):
    """Decide a task. An eligible officer may complete an unclaimed task directly: it is
    claimed and decided in one step."""
    with _locked_task(task_id, user) as task:
        _require_open(task)
        if task.status == STATUS.NEW:
            _claim(task, user)
        elif task.owner_id != user.pk:
            raise Conflict(_("This task has been claimed by someone else."), code="task_claimed")
        node = task.flow_task
        errors = {}
        if decision not in node.decisions:
            errors["decision"] = [
                _("Choose one of: %(choices)s.") % {"choices": ", ".join(node.decisions)}
            ]
        comment = (comment or "").strip()
        if decision in COMMENT_REQUIRED and not comment:
            errors["comment"] = [_("A reason is required for this decision.")]
        if errors:
            raise Invalid(_("The decision cannot be recorded."), fields=errors)
        values = validate_fields(node.fields, data, enforce_required=decision == APPROVE)

        task.decision = decision
        task.comment = comment
        task.data = {**task.data, **values}
        task.completed_by = user
        trail.append(
            task.case,
            "task.completed",
            actor=user,
            actor_role=task.candidate_role,
            task=task,
            comment=comment,
            data={"decision": decision, **values},
        )
        activation = node.activation_class(task)
        activation.start(None)
        activation.execute()
    return task


def task_opened(task, *, case):
    """A new task: record it and tell whoever may act on it."""
    if task.owner_id:
        recipients = [task.owner]
        who = {"assignee": task.owner.username}
    else:
        recipients = [
            u
            for u in users_with_role(task.candidate_role, task.candidate_organization)
            if u.pk != case.applicant_id
        ]
        who = {"role": task.candidate_role, "organization": task.candidate_organization_id}
    trail.append(case, "task.created", task=task, data=who)
    notify(
        event=f"task:{task.pk}:opened",
        recipients=recipients,
        verb="task_created",
        title=_("New task: %(title)s (%(number)s)")
        % {"title": task.flow_task.task_title, "number": case.number},
        body=str(case.title or ""),
        case=case,
        data={"task": task.pk, "step": task.flow_task.name},
    )
