"""Operations people perform on tasks and cases: claim, release, complete, transfer, add
approver, send back, urge, CC and withdraw. Each runs in one transaction under the process
lock: it checks who may act, changes state through viewflow's activation, appends the trail
event and writes the notifications. The API, UI and commands all call these."""

import functools
import hashlib
import math
import uuid
from contextlib import ExitStack, contextmanager
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.fsm import TransitionNotAllowed
from viewflow.workflow.status import PROCESS, STATUS

from cases import trail
from cases.models import Case, CaseCC, CaseStatus
from core import memo, plans, statements
from core.config import parameter
from core.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from core.i18n import deferred
from core.statements import whole_number
from notifications.services import batched as notifications_batched
from notifications.services import notify
from organizations.models import ACTING_ROLES, OFFICER_ROLES, Membership, User
from organizations.selectors import memberships_of, officer_paths

from .. import selectors
from ..models import OPEN_STATUSES, ROUTING_TYPES, CaseTask, TaskKind, Urge
from ..nodes import Supplement
from ..spec import (
    APPROVE,
    COMMENT_REQUIRED,
    DECISION_LABELS,
    REJECT,
    RESUBMIT,
    RETURN,
    SENT_BACK,
    SUBMIT,
    kept_values,
    validate_fields,
)
from .delegations import delegation_covers
from .rounds import Assignment, close_round, new_task, open_supplement, task_opened

ADD_POSITIONS = ("before", "after", "parallel")


def may_claim(user, task):
    """Whether `user` may take `task` (read with its case) by role, in person or as a
    delegate, and the step's own eligibility check lets them; see selectors.eligible_q for the
    rules. Asked once per operation (under the process lock, `_locked_task` may already have
    asked it)."""
    return (
        user.is_active
        and task.kind != TaskKind.CONSULT
        and memo.remembered(("may_claim", user.pk, task.pk), lambda: selectors.may_take(user, task))
        # A check the queue asks (Step.eligible_q) was asked by may_take already.
        and (
            selectors.queue_checks_step(task.flow_task)
            or selectors.step_refusal(task, user) is None
        )
    )


def _refusal_to_decide(task, user):
    """Why the assignee may not decide `task` now, or None: the rules that chose them are asked
    again on the state the decision meets (a delegate's exclusions include those of the
    colleague they act for). The applicant's own supplement is theirs."""
    from .rounds import refusal

    if isinstance(task.flow_task, Supplement) or task.kind == TaskKind.CONSULT:
        return selectors.step_refusal(task, user)
    if task.on_behalf_of_id and not delegation_covers(task.on_behalf_of, user):
        # Ended since they took it; the beat gives it back within the minute.
        return _(
            "Your delegation has ended: this task goes back to the colleague you stood in for."
        )
    return _holder_problem(task, user) or refusal(
        task.case, task.flow_task, user, principal=task.on_behalf_of
    )


def _holder_problem(task, user):
    """Why the holder of `task` may no longer act on it, changed since they took it (the beat,
    services.holders, offers it again within the minute), or None: the case's union has moved
    under another organization, or they no longer hold the queue's role (a named task's: its
    step's role over the case)."""
    if _moved_away(task):
        return _moved_message()
    if task.queued and not task.on_behalf_of_id and not _holds(user, task):
        return _("You no longer hold the role this task needs: it goes back to its queue.")
    if task.named and task.kind == TaskKind.APPROVAL and not _holds_over_case(user, task):
        return _(
            "You no longer hold the role this task needs: it goes to whoever may act on it now."
        )
    return None


def _holds_over_case(user, task):
    """A named task's holder holds its step's role at the case's organization or above it (at
    the case's own, for a step that asks for it: `Users.role_at_case`)."""
    organization = task.case.organization
    at_case = getattr(task.flow_task.approvers, "role_at_case", False)
    return any(
        m.role == task.candidate_role
        and (
            m.organization_id == organization.pk
            if at_case
            else organization.path.startswith(m.organization.path)
        )
        for m in memberships_of(user)
    )


def _moved_away(task):
    """The case's union has moved out from under the organization the task is offered at."""
    return bool(task.candidate_organization_id) and not task.case.organization.path.startswith(
        task.candidate_organization.path
    )


def _moved_message():
    return _("This case has moved to another organization: the task goes to the officers there.")


def _holds(user, task):
    return any(
        m.organization_id == task.candidate_organization_id and m.role == task.candidate_role
        for m in memberships_of(user)
    )


def _principal(user, task):
    """Whom the user acts for on this task: None in person, else the absent colleague."""
    if _holds(user, task):
        return None
    # Locked as a revocation locks them: a claim meeting a revocation waits for it, and then
    # no longer finds the delegation (the task is not taken for a colleague who is back).
    delegations = (
        selectors.active_delegations(delegate=user)
        .select_related("delegator")
        .select_for_update(of=("self",))
    )
    for delegation in delegations:
        if _holds(delegation.delegator, task):
            return delegation.delegator
    return None


def _in_reach(user, task):
    """selectors.tasks_in_reach for one task, without its query where an arm of it is plain on
    the row: the user holds or decided the task, or (asked under the lock) may claim it."""
    if user.pk in (task.owner_id, task.completed_by_id):
        return True
    if task.status == STATUS.NEW and may_claim(user, task):
        return True
    return selectors.tasks_in_reach(user).filter(pk=task.pk).exists()


def _human_task(task_id):
    """The human task `task_id` names (its process and step), or None."""
    found = statements.rows("human_task", _human_task_read, task_id)
    return found[0] if found else None


def _human_task_read(task_id):
    return CaseTask.objects.filter(pk=task_id, flow_task_type=selectors.HUMAN).only(
        "process_id", "flow_task"
    )


# On PostgreSQL one statement finds the task, locks its process row as the flow's lock does
# (workflows.base.ProcessRowLock: until the transaction ends) and, with prepared statements,
# sets the transaction's plans (core.plans): three round trips before. The task's step and
# process never change, so reading them before the lock is granted reads them right.
_LOCK_HUMAN_TASK_SQL = (
    "SELECT t.flow_task, t.process_id{settings} FROM {task} t"
    " JOIN {case_task} c ON c.task_ptr_id = t.id"
    " JOIN {process} p ON p.id = t.process_id"
    " WHERE t.id = %s AND t.flow_task_type = %s FOR UPDATE OF p"
)


@functools.cache
def _lock_human_task_sql(with_plans):
    return _LOCK_HUMAN_TASK_SQL.format(
        settings=f", {plans.SETTINGS}" if with_plans else "",
        task=CaseTask._meta.get_parent_list()[0]._meta.db_table,
        case_task=CaseTask._meta.db_table,
        process=CaseTask._meta.get_field("process").related_model._meta.db_table,
    )


def _lock_human_task(task_id, stack):
    """The node of the human task `task_id` (a whole number) names, its process locked for the
    rest of the transaction (entered on `stack`), or None when no such task exists."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        found = _human_task(task_id)
        if found is None:
            return None
        stack.enter_context(found.flow_task.flow_class.lock(found.process_id))
        plans.generic_plans()
        return found.flow_task
    with_plans = plans.enabled()
    with connection.cursor() as cursor:
        cursor.execute(_lock_human_task_sql(with_plans), [task_id, selectors.HUMAN])
        row = cursor.fetchone()
    if row is None:
        return None
    if with_plans:
        plans.settings_set(row)
    node = CaseTask._meta.get_field("flow_task").to_python(row[0])
    if not getattr(node.flow_class.lock_impl, "locks_process_row", False):
        stack.enter_context(node.flow_class.lock(row[1]))  # a flow that locks otherwise
    return node


def _locked_read(task_id):
    """The task with every person and organization its JSON shows (api.TaskSerializer): the
    API answers a decision with the task as saved, without reading it again."""
    return CaseTask.objects.select_related(
        "case__organization",
        "case__applicant",
        "owner",
        "process",
        "candidate_organization",
        "completed_by",
        "on_behalf_of",
    ).filter(pk=task_id)


@contextmanager
def _locked_task(task_id, user):
    """Find the task, lock its process and re-read it, so that every check sees the state the
    change will be applied to; a task outside the user's reach is not found (404). The reach
    is decided on the re-read row: whether someone may claim a task depends on the rest of
    its round, which the lock holds still."""
    task_id = whole_number(task_id)
    if task_id is None:
        raise NotFound(_("Task not found."))
    with (
        memo.operation(),
        trail.acting(actor=user),
        transaction.atomic(),
        ExitStack() as stack,
    ):
        if _lock_human_task(task_id, stack) is None:
            raise NotFound(_("Task not found."))
        with notifications_batched():
            task = statements.rows("locked_task", _locked_read, task_id)[0]
            if not _in_reach(user, task):
                raise NotFound(_("Task not found."))
            task._trail_handled = True
            # The flow's nodes find the case through the process (nodes.case_of): this one.
            task.process._unionflow_case = task.case
            try:
                yield task
            except TransitionNotAllowed as exc:
                raise Conflict(_("The task is not in a state that allows this.")) from exc


def _require_open(task):
    if task.status not in OPEN_STATUSES:
        raise Conflict(_("This task is already closed."), code="task_closed")
    if task.case.status != CaseStatus.IN_PROGRESS:
        raise Conflict(_("The case is no longer in progress."), code="case_closed")


def _require_assignee(task, user):
    if task.status == STATUS.NEW or task.owner_id != user.pk:
        raise Forbidden(_("Only the assignee can do this; claim the task first."))
    problem = _holder_problem(task, user)
    if problem:
        raise Forbidden(problem)


def _role(task):
    return task.candidate_role or task.flow_task.role


def _acting_role(task, user):
    """The role `user` acts in on `task`, for the trail: the step's role on its own tasks; an
    approver added to a step (加签) acts in a role of their own — the one they (or the colleague
    they stand in for) hold at the nearest level of the case's organization or above."""
    if task.kind == TaskKind.APPROVAL or user is None:
        return _role(task)
    person = task.on_behalf_of if task.on_behalf_of_id else user
    case_path = task.case.organization.path
    held = [
        m
        for m in memberships_of(person)
        if m.role in ACTING_ROLES and case_path.startswith(m.organization.path)
    ]
    if not held:
        return _role(task)
    return max(held, key=lambda m: len(m.organization.path)).role


def _claim(task, user, *, deciding=False):
    """Take the task for `user`. `deciding`: the caller decides it next, in the same
    operation, and that save writes the claim (one write of the row instead of two)."""
    if task.status != STATUS.NEW:
        if task.owner_id == user.pk:
            return
        raise Conflict(
            _("This task has already been claimed by someone else."), code="task_claimed"
        )
    if _moved_away(task):
        raise Conflict(_moved_message(), code="case_moved")
    if not may_claim(user, task):
        raise Forbidden(_("You may not take this task."))
    task.on_behalf_of = _principal(user, task)
    if task.on_behalf_of is None and task.candidate_role and not _holds(user, task):
        # They stood in for a colleague whose delegation ended while this claim waited.
        raise Forbidden(_("You may not take this task."))
    task._claim_saved_with_decision = deciding
    task.flow_task.activation_class(task).assign(user)
    memo.forget(("may_claim", user.pk, task.pk))  # claimed: no longer on offer
    trail.append(
        task.case,
        "task.claimed",
        actor=user,
        actor_role=task.candidate_role,
        on_behalf_of=task.on_behalf_of,
        task=task,
    )


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
        _require_officer_operations(task)
        if not task.queued:
            # Named tasks and added approvers: nobody's queue would offer it again.
            raise Conflict(_("This task was assigned to you by name and cannot be released."))
        task.on_behalf_of = None
        task.flow_task.activation_class(task).unassign()
        trail.append(
            task.case, "task.released", actor=user, actor_role=_acting_role(task, user), task=task
        )
    return task


def allowed_decisions(task):
    if task.kind == TaskKind.CONSULT:
        return (APPROVE, REJECT)
    return task.flow_task.decisions


def complete(*, task_id, user, decision, comment="", data=None):
    """Decide a task. An eligible officer may complete an unclaimed task directly: it is
    claimed and decided in one step."""
    with _locked_task(task_id, user) as task:
        _require_open(task)
        if task.status == STATUS.NEW:
            _claim(task, user, deciding=True)
        elif task.owner_id != user.pk:
            raise Conflict(
                _("This task has already been claimed by someone else."), code="task_claimed"
            )
        if task.on_hold:
            raise Conflict(
                _("This task waits for the approver you consulted."), code="task_on_hold"
            )
        problem = _refusal_to_decide(task, user)
        if problem:
            raise Forbidden(problem)
        decide(task, actor=user, decision=decision, comment=comment, data=data)
    return task


def decide(task, *, actor, decision, comment="", data=None, system_reason=""):
    """Record a decision on a locked, open task and let the flow move on. `actor` None is the
    system (a timeout)."""
    node = task.flow_task
    allowed = allowed_decisions(task)
    errors = {}
    if decision not in allowed:
        errors["decision"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)}]
    comment = (comment or "").strip()
    if decision in COMMENT_REQUIRED and not comment:
        errors["comment"] = [_("A reason is required for this decision.")]
    if errors:
        raise Invalid(_("The decision cannot be recorded."), fields=errors)
    fields = node.fields if task.kind != TaskKind.CONSULT else ()
    # A person approving fills in what the step needs; the system deciding on a timeout cannot.
    enforce = actor is not None and decision in (APPROVE, RESUBMIT, SUBMIT)
    values = validate_fields(fields, data, enforce_required=enforce)
    if node._validate is not None and task.kind != TaskKind.CONSULT:
        errors = node._validate(task, decision, values, comment) or {}
        if errors:
            raise Invalid(_("The decision cannot be recorded."), fields=errors)

    task.decision = decision
    task.comment = comment
    # A sensitive field's value goes whole to on_complete only (Field.sensitive).
    kept = kept_values(fields, values)
    task.data = {**task.data, **kept}
    task.completed_by = actor
    event_data = {"decision": decision, **kept}
    if system_reason:
        event_data["reason"] = system_reason
    trail.append(
        task.case,
        "task.consulted" if task.kind == TaskKind.CONSULT else "task.completed",
        actor=actor,
        actor_role=_acting_role(task, actor) if actor else "system",
        on_behalf_of=task.on_behalf_of,
        task=task,
        comment=comment,
        data=event_data,
    )
    if node._on_complete is not None and task.kind != TaskKind.CONSULT:
        node._on_complete(task, decision, values)
    activation = node.activation_class(task)
    activation.start(None)
    if task.kind == TaskKind.CONSULT:
        activation.complete()
        _resume_after_consultation(task)
    else:
        activation.execute()
        # The step's outcome, once its round is decided (None while it waits for the other
        # countersigners or added approvers): the applicant hears of the step once.
        outcome = getattr(activation, "outcome", decision)
        if outcome is not None:
            _tell_applicant_of_decision(task, outcome)


def _tell_applicant_of_decision(task, decision):
    case = task.case
    if task.kind == TaskKind.CONSULT or isinstance(task.flow_task, Supplement):
        return
    if getattr(task.flow_task, "tells_applicant", False):
        return
    if task.owner_id == case.applicant_id:  # a step of their own (a payment): they know
        return
    if decision == RETURN and RETURN not in task.flow_task._routes:
        return  # back to the applicant for supplement: that task tells them, with the reason
    notify(
        event=f"task:{task.pk}:decided",
        recipients=[case.applicant],
        verb="step_decided",
        title=deferred(
            gettext_lazy("%(step)s: %(decision)s (%(number)s)"),
            {
                "step": task.flow_task.task_title,
                "decision": DECISION_LABELS.get(decision, decision),
                "number": case.number,
            },
        ),
        body=task.comment,
        case=case,
        data={"task": task.pk, "step": task.flow_task.name, "decision": decision},
    )


def _resume_after_consultation(consult):
    original = CaseTask.objects.select_related("case", "owner").get(pk=consult.consult_for_id)
    if original.status not in OPEN_STATUSES:
        return
    original.on_hold = False
    original._trail_handled = True
    original.save(update_fields=["on_hold"])
    notify(
        event=f"task:{consult.pk}:consulted",
        recipients=[original.owner] if original.owner else [],
        verb="task_resumed",
        title=deferred(
            gettext_lazy(
                "%(user)s has given their opinion on %(number)s; the task is back with you"
            ),
            {"user": consult.owner.display_name, "number": original.case.number},
        ),
        body=consult.comment,
        case=original.case,
        data={"task": original.pk, "decision": consult.decision},
    )


def _concerned_officially(user, case):
    """An officer or auditor (any role but member) of the case's organization or an ancestor."""
    return any(
        m.role in OFFICER_ROLES and case.organization.path.startswith(m.organization.path)
        for m in memberships_of(user)
    )


def _officer_in_reach(user, case):
    return user.is_active and any(
        case.organization.path.startswith(path) for path in officer_paths(user)
    )


def _target(username, field="user"):
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Invalid(_("No such user."), fields={field: [_("No active user with this name.")]})
    return user


def _check_may_join(task, target, *, field="user", by_role=True, leaving=False):
    """Someone newly given a task of this case must be eligible: not its assignee already;
    holding the task's role (a transfer of a role task), else an officer over the case (named
    tasks, added approvers); never the applicant; separation of duties; the step's own
    eligibility check; nobody who holds or decided a task of the same round already.
    Returns (owner, on_behalf_of): the target's delegate while the target is away, when the
    delegate passes the same checks — else the target themself (the task waits for them).
    `leaving`: the task itself changes hands (a transfer): its holder does not count."""
    from .rounds import assignee, refusal

    left = task.pk if leaving else None
    problem = None
    if target.pk == task.owner_id:
        problem = _("Choose someone else.")
    elif (
        by_role
        and task.candidate_role
        and not Membership.objects.filter(
            user=target, organization_id=task.candidate_organization_id, role=task.candidate_role
        ).exists()
    ):
        problem = _("This person does not hold the role this task needs.")
    elif not (by_role and task.candidate_role) and not _officer_in_reach(target, task.case):
        problem = _("This person is not an officer over this case.")
    else:
        problem = refusal(task.case, task.flow_task, target, batch=task.batch, leaving=left)
    if problem:
        raise Invalid(problem, fields={field: [problem]})
    return assignee(task.case, task.flow_task, target, batch=task.batch, leaving=left)


def _require_officer_operations(task):
    """Transfer, adding approvers, sending back, CC and release: only on steps that declare
    them (not the applicant's supplement, which is theirs alone to resubmit)."""
    if not task.flow_task.officer_operations:
        raise Conflict(
            _("This step is for the applicant alone: it can only be resubmitted."),
            code="not_offered_on_this_step",
        )


def transfer(*, task_id, user, to, comment=""):
    """转交: hand an assigned task to another eligible person."""
    with _locked_task(task_id, user) as task:
        _require_open(task)
        _require_assignee(task, user)
        _require_officer_operations(task)
        if task.named:
            raise Conflict(
                _(
                    "This step names who acts on it (as a mediation head assigns a mediator): "
                    "its task cannot be transferred; ask whoever named you."
                ),
                code="named_task",
            )
        target = _target(to, "to")
        owner, principal, passed_over = _check_may_join(task, target, field="to", leaving=True)
        if owner.pk == user.pk:
            problem = _("You stand in for this person while they are away: choose someone else.")
            raise Invalid(problem, fields={"to": [problem]})
        task.on_behalf_of = principal
        task.flow_task.activation_class(task).reassign(owner)
        trail.append(
            task.case,
            "task.transferred",
            actor=user,
            actor_role=_acting_role(task, user),
            task=task,
            comment=comment,
            data={
                "from": user.username,
                "to": owner.username,
                **({"delegate_passed_over": passed_over.username} if passed_over else {}),
            },
        )
        notify(
            event=f"task:{task.pk}:transferred:{owner.pk}:{uuid.uuid4().hex[:8]}",
            recipients=[owner],
            verb="task_transferred",
            title=deferred(
                gettext_lazy("%(user)s transferred a task to you: %(title)s (%(number)s)"),
                {
                    "user": user.display_name,
                    "title": task.flow_task.task_title,
                    "number": task.case.number,
                },
            ),
            body=comment,
            case=task.case,
            data={"task": task.pk},
        )
    return task


def add_approver(*, task_id, user, approver, position, comment=""):
    """加签: `before` — they give their opinion first, then the task comes back; `after` —
    they decide after this task is approved; `parallel` — they must approve alongside."""
    if position not in ADD_POSITIONS:
        raise Invalid(
            _("Choose before, after or parallel."),
            fields={"position": [_("Choose one of: before, after, parallel.")]},
        )
    with _locked_task(task_id, user) as task:
        _require_open(task)
        _require_assignee(task, user)
        _require_officer_operations(task)
        if task.kind == TaskKind.CONSULT:
            raise Conflict(_("Approvers cannot be added to this task."))
        if task.on_hold:
            raise Conflict(
                _("This task waits for the approver you consulted."), code="task_on_hold"
            )
        target = _target(approver)
        owner, principal, passed_over = _check_may_join(task, target, by_role=False)
        node = task.flow_task
        last = CaseTask.objects.filter(batch=task.batch).order_by("-position").first()
        fields = {
            "kind": TaskKind.CONSULT if position == "before" else TaskKind.ADDED,
            "position": (last.position if last else 0) + 1,
            "consult_for": task if position == "before" else None,
            "on_hold": position == "after",
        }
        added = new_task(
            node,
            node.activation_class(task),
            task.token,
            task.case,
            batch=task.batch,
            assignment=Assignment(
                owner=owner, on_behalf_of=principal, role=_role(task), passed_over=passed_over
            ),
            **fields,
        )
        if position == "before":
            task.on_hold = True
            task.save(update_fields=["on_hold"])
        trail.append(
            task.case,
            "task.approver_added",
            actor=user,
            actor_role=_acting_role(task, user),
            task=task,
            comment=comment,
            data={
                "approver": owner.username,
                "position": position,
                "added_task": added.pk,
                **({"delegate_passed_over": passed_over.username} if passed_over else {}),
            },
        )
        if not added.on_hold:
            task_opened(added, case=task.case)
    return task


def earlier_steps(task):
    """Steps of this case decided before, to which the case may be sent back (not those that
    declare `send_back_target=False`)."""
    done = (
        CaseTask.objects.filter(case=task.case, status=STATUS.DONE, flow_task_type="HUMAN")
        .exclude(flow_task=task.flow_task)
        .exclude(decision__in=("skipped",))
        .values_list("flow_task", flat=True)
    )
    names = []
    for ref in done:
        name = ref.name if hasattr(ref, "name") else str(ref).rsplit(".", 1)[-1]
        if not getattr(ref, "send_back_target", True):
            continue
        if name != "supplement" and name not in names:
            names.append(name)
    return names


def send_back(*, task_id, user, to_step, comment):
    """退回: to an earlier step of this case (it is decided again, then everything after it),
    or to the applicant (`to_step="applicant"`) for supplement (补正)."""
    comment = (comment or "").strip()
    if not comment:
        raise Invalid(
            _("Say what needs to change."), fields={"comment": [_("A reason is required.")]}
        )
    with _locked_task(task_id, user) as task:
        _require_open(task)
        _require_assignee(task, user)
        _require_officer_operations(task)
        if task.kind != TaskKind.APPROVAL or not task.flow_task.allow_send_back:
            raise Conflict(_("This task cannot send the case back."))
        flow = task.flow_task.flow_class.instance
        if to_step != "applicant" and to_step not in earlier_steps(task):
            choices = ", ".join(["applicant", *earlier_steps(task)])
            raise Invalid(
                _("Not an earlier step of this case."),
                fields={"to_step": [_("Choose one of: %(choices)s.") % {"choices": choices}]},
            )
        task.decision = SENT_BACK
        task.comment = comment
        task.completed_by = user
        trail.append(
            task.case,
            "task.sent_back",
            actor=user,
            actor_role=_acting_role(task, user),
            on_behalf_of=task.on_behalf_of,
            task=task,
            comment=comment,
            data={"to_step": to_step},
        )
        activation = task.flow_task.activation_class(task)
        activation.start(None)
        activation.complete()
        close_round(task, reason="sent_back")
        if to_step == "applicant":
            open_supplement(activation, return_to=task.flow_task)
        else:
            flow.node(to_step)._create(activation, task.token)
    return task


def may_urge(user, task):
    """The applicant (or submitter), or an officer above the task's level — not an auditor:
    auditors review cases and never act on them."""
    case = task.case
    level = task.candidate_organization or case.organization
    above = any(
        level.path.startswith(m.organization.path) and level.path != m.organization.path
        for m in memberships_of(user)
        if m.role in ACTING_ROLES
    )
    return user.pk in (case.applicant_id, case.submitted_by_id) or above


def urge(*, task_id, user, comment=""):
    """催办: the applicant, or an officer above the task's level, reminds whoever holds it.
    Once per task per person within the configured interval."""
    with _locked_task(task_id, user) as task:
        _require_open(task)
        case = task.case
        if not may_urge(user, task):
            raise Forbidden(_("Only the applicant or an officer above may urge this task."))
        hours = parameter("approvals.urge_interval_hours", organization=case.organization)
        now = timezone.now()
        interval = timedelta(hours=float(hours))
        last = (
            Urge.objects.filter(task=task, user=user, at__gt=now - interval)
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        if last is not None:
            wait = max(1, math.ceil((last + interval - now).total_seconds()))
            raise Throttled(
                _(
                    "You already urged this task recently; you can urge it again in "
                    "%(minutes)s minutes (at %(time)s)."
                )
                % {
                    "minutes": math.ceil(wait / 60),
                    "time": timezone.localtime(last + interval).strftime("%Y-%m-%d %H:%M"),
                },
                code="urge_limited",
                retry_after=wait,
            )
        urge_row = Urge.objects.create(task=task, user=user)
        from .rounds import recipients_for

        trail.append(case, "task.urged", actor=user, task=task, comment=comment)
        notify(
            event=f"urge:{urge_row.pk}",
            recipients=recipients_for(task),
            verb="task_urged",
            title=deferred(
                gettext_lazy("Reminder from %(user)s: %(title)s (%(number)s) is waiting for you"),
                {
                    "user": user.display_name,
                    "title": task.flow_task.task_title,
                    "number": case.number,
                },
            ),
            body=comment,
            case=case,
            data={"task": task.pk},
        )
    return task


def cc(*, task_id, user, users, comment=""):
    """抄送: give people read access to the case and tell them. Only those not copied on the
    case yet are copied, recorded and told (`task.newly_copied`, their usernames); when
    everyone named was copied already, nothing changes and the task is answered as it is."""
    if not isinstance(users, list) or not users:
        raise Invalid(_("Name at least one person."), fields={"users": [_("A non-empty list.")]})
    with _locked_task(task_id, user) as task:
        _require_assignee(task, user)
        _require_open(task)
        _require_officer_operations(task)
        people = list(User.objects.filter(username__in=users, is_active=True))
        missing = sorted(set(users) - {p.username for p in people})
        if missing:
            raise Invalid(
                _("Unknown users: %(names)s.") % {"names": ", ".join(missing)},
                fields={
                    "users": [_("No active user named %(name)s.") % {"name": n} for n in missing]
                },
            )
        # A copy gives read access to everything on the case (income, illness …): only to
        # people concerned officially, the officers and auditors of the case's organization or
        # of one above it — as the applicant's own union and its federations see it anyway.
        outside = sorted(p.username for p in people if not _concerned_officially(p, task.case))
        if outside:
            raise Invalid(
                _("Only officers or auditors over this case can be copied: %(names)s.")
                % {"names": ", ".join(outside)},
                fields={
                    "users": [
                        _("%(name)s is not an officer or auditor over this case.") % {"name": n}
                        for n in outside
                    ]
                },
            )
        # Only people not copied on the case yet (copies are the case's, whichever task made
        # them): naming someone again — a form sent twice, a retried request — changes nothing.
        # The process lock orders copies on the case, so this read holds until the commit.
        copied = set(
            CaseCC.objects.filter(case=task.case, user__in=people).values_list("user", flat=True)
        )
        new = sorted((p for p in people if p.pk not in copied), key=lambda p: p.username)
        task.newly_copied = [p.username for p in new]
        if not new:
            return task
        CaseCC.objects.bulk_create([CaseCC(case=task.case, user=p, added_by=user) for p in new])
        trail.append(
            task.case,
            "case.cc",
            actor=user,
            actor_role=_acting_role(task, user),
            task=task,
            comment=comment,
            data={"users": task.newly_copied},
        )
        # One message for the copy (a webhook posts it once), keyed by who was copied: each
        # person is copied on a case once, so the key never comes again.
        key = hashlib.blake2b(".".join(str(p.pk) for p in new).encode(), digest_size=8)
        notify(
            event=f"case:{task.case.pk}:cc:{key.hexdigest()}",
            recipients=new,
            verb="case_cc",
            title=deferred(
                gettext_lazy("%(user)s copied you on case %(number)s"),
                {"user": user.display_name, "number": task.case.number},
            ),
            body=comment,
            case=task.case,
            data={"task": task.pk},
        )
    return task


def withdraw(*, case_id, user, reason):
    """撤回: the applicant withdraws an in-progress case; open tasks are cancelled and the
    people who held them are told."""
    from cases.selectors import case_in_reach

    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
    case = case_in_reach(user, case_id)
    if case is None:
        raise NotFound(_("Case not found."))
    if user.pk not in (case.applicant_id, case.submitted_by_id):
        raise Forbidden(_("Only the applicant can withdraw a case."))
    from workflows.base import flow_for

    flow_class = flow_for(case.process)
    with (
        memo.operation(),
        trail.acting(actor=user),
        transaction.atomic(),
        flow_class.lock(case.flow_process_id),
    ):
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.status != CaseStatus.IN_PROGRESS:
            raise Conflict(_("Only a case in progress can be withdrawn."), code="case_closed")
        if not flow_class.instance.can_withdraw(case):
            raise Conflict(_("This case can no longer be withdrawn."), code="not_withdrawable")
        holders = set()
        open_tasks = CaseTask.objects.filter(
            case=case, status__in=(*OPEN_STATUSES, STATUS.SCHEDULED)
        ).select_related("owner", "case")
        for task in open_tasks:
            holders.update(_holders(task))
            task._trail_handled = True
            activation = task.flow_task.activation_class(task)
            if hasattr(activation, "cancel") and activation.cancel.can_proceed():
                activation.cancel()
            else:
                task.status = STATUS.CANCELED
                task.finished = timezone.now()
                task.save(update_fields=["status", "finished"])
        process = case.flow_process
        process.status = PROCESS.CANCELED
        process.finished = timezone.now()
        process.save(update_fields=["status", "finished"])
        flow_class.instance.on_withdrawn(case)
        case.status = CaseStatus.WITHDRAWN
        case.outcome = CaseStatus.WITHDRAWN
        case.finished_at = timezone.now()
        case.save(update_fields=["status", "outcome", "finished_at", "updated_at"])
        trail.append(
            case,
            "case.withdrawn",
            actor=user,
            comment=reason,
            data={"canceled_tasks": sorted(t.pk for t in open_tasks)},
        )
        notify(
            event=f"case:{case.pk}:withdrawn",
            recipients=sorted(holders - {user}, key=lambda u: u.pk),
            verb="case_withdrawn",
            title=deferred(
                gettext_lazy("Case %(number)s was withdrawn by the applicant"),
                {"number": case.number},
            ),
            body=reason,
            case=case,
            data={"reason": reason},
        )
    return case


def _holders(task):
    from .rounds import recipients_for

    if task.flow_task_type != "HUMAN":
        return []
    return recipients_for(task)


def reroute(*, case_id, to_step, actor, action, comment, data=None, actor_role=""):
    """Move a case in progress back to `to_step`, cancelling whatever is open (tasks, timers).
    E.g. an objection during a public notice sends the case back to investigation. The caller
    has checked that `actor` may do this, in `actor_role` (recorded in the trail)."""
    from workflows.base import flow_for

    case = Case.objects.get(pk=case_id)
    flow_class = flow_for(case.process)
    with (
        memo.operation(),
        trail.acting(actor=actor),
        transaction.atomic(),
        flow_class.lock(case.flow_process_id),
    ):
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.status != CaseStatus.IN_PROGRESS:
            raise Conflict(_("The case is no longer in progress."), code="case_closed")
        open_tasks = list(
            CaseTask.objects.filter(case=case, status__in=(*OPEN_STATUSES, STATUS.SCHEDULED))
            .exclude(flow_task_type__in=ROUTING_TYPES)
            .select_related("owner", "case")
            .order_by("created", "pk")
        )
        if not open_tasks:
            raise Conflict(_("Nothing is open on this case to move back."))
        trail.append(
            case,
            action,
            actor=actor,
            actor_role=actor_role,
            comment=comment,
            data={"to_step": to_step, **(data or {})},
        )
        holders = set()
        for task in open_tasks:
            holders.update(_holders(task))
            task._trail_handled = True
            task.flow_task.activation_class(task).cancel()
            trail.append(case, "task.canceled", task=task, data={"reason": action})
        last = open_tasks[-1]
        flow_class.instance.node(to_step)._create(last.flow_task.activation_class(last), last.token)
        if holders:
            notify(
                event=f"case:{case.pk}:{action}:{uuid.uuid4().hex[:12]}",
                recipients=sorted(holders, key=lambda u: u.pk),
                verb="task_canceled",
                title=deferred(
                    gettext_lazy("Case %(number)s moved back to an earlier step"),
                    {"number": case.number},
                ),
                body=comment,
                case=case,
                data={"to_step": to_step},
            )
    return case
